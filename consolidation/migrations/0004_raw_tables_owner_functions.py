"""The application role owns no table and may not create one (docs/security.md), but each delivered file is COPied
into its own UNLOGGED raw table that lives until its batch is applied, and the planner needs statistics of the
staging tables after a load. These SECURITY DEFINER functions, owned by the owner role that migrates, do exactly
that and nothing else: create the raw table of a batch file (and give the calling role row access to it), drop
it, and ANALYZE a raw or staging table of the consolidation."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
CREATE OR REPLACE FUNCTION consolidation_raw_create(file_id bigint, width integer) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    name text := 'consolidation_raw_' || file_id;
    cells text;
    caller text;
BEGIN
    IF file_id < 1 OR width < 1 OR width > 512 THEN
        RAISE EXCEPTION 'consolidation_raw_create: file % width % out of range', file_id, width;
    END IF;
    SELECT string_agg(format('c%s text', i), ', ' ORDER BY i) INTO cells FROM generate_series(1, width) i;
    EXECUTE format('DROP TABLE IF EXISTS public.%I', name);
    EXECUTE format('CREATE UNLOGGED TABLE public.%I (line_no bigserial PRIMARY KEY, %s)', name, cells);
    -- The caller: the role it logged in as, and the role it has SET ROLE to, if any (a SECURITY DEFINER function
    -- changes current_user, not this setting).
    FOREACH caller IN ARRAY array_remove(ARRAY[session_user::text, nullif(current_setting('role'), 'none')], NULL) LOOP
        EXECUTE format('GRANT SELECT, INSERT ON public.%I TO %I', name, caller);
        EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE public.%I TO %I', name || '_line_no_seq', caller);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION consolidation_raw_drop(file_id bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS public.%I', 'consolidation_raw_' || file_id);
END $$;

CREATE OR REPLACE FUNCTION consolidation_analyze(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF name !~ '^consolidation_(raw_[0-9]+|stagedperson|stagedemployer|stagedenrollment)$' THEN
        RAISE EXCEPTION 'consolidation_analyze: % is not a consolidation table', name;
    END IF;
    EXECUTE format('ANALYZE public.%I', name);
END $$;

REVOKE ALL ON FUNCTION consolidation_raw_create(bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION consolidation_raw_drop(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION consolidation_analyze(text) FROM PUBLIC;
"""

REVERSE = """
DROP FUNCTION IF EXISTS consolidation_analyze(text);
DROP FUNCTION IF EXISTS consolidation_raw_drop(bigint);
DROP FUNCTION IF EXISTS consolidation_raw_create(bigint, integer);
"""


class Migration(migrations.Migration):
    dependencies = [("consolidation", "0003_folder_scan_schedule")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=REVERSE)]
