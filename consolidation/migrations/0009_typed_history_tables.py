"""The typed table of a history file (issue 19): beside its raw table of text cells, a history file's plain lines
(consolidation/screen.py) are COPied a second time into ``consolidation_typed_<file id>`` — the amounts as
numeric(14,2), the period as an integer — so that the check and the apply read them as stored instead of parsing
text. Like the raw table it is UNLOGGED, created by the owner's SECURITY DEFINER function (the application role may
not create tables) and dropped with the raw table; the owner's ANALYZE function accepts it."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
CREATE OR REPLACE FUNCTION consolidation_typed_create(file_id bigint, kinds text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    name text := 'consolidation_typed_' || file_id;
    cells text;
    caller text;
BEGIN
    IF file_id < 1 OR kinds !~ '^[tni]+$' OR length(kinds) > 512 THEN
        RAISE EXCEPTION 'consolidation_typed_create: file % kinds % out of range', file_id, kinds;
    END IF;
    SELECT string_agg(format('c%s %s', i, CASE substr(kinds, i, 1) WHEN 'n' THEN 'numeric(14,2)'
                                             WHEN 'i' THEN 'integer' ELSE 'text' END), ', ' ORDER BY i)
        INTO cells FROM generate_series(1, length(kinds)) i;
    EXECUTE format('DROP TABLE IF EXISTS public.%I', name);
    EXECUTE format('CREATE UNLOGGED TABLE public.%I (line_no bigint NOT NULL, %s)', name, cells);
    FOREACH caller IN ARRAY array_remove(ARRAY[session_user::text, nullif(current_setting('role'), 'none')], NULL) LOOP
        EXECUTE format('GRANT SELECT, INSERT ON public.%I TO %I', name, caller);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION consolidation_raw_drop(file_id bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS public.%I', 'consolidation_raw_' || file_id);
    EXECUTE format('DROP TABLE IF EXISTS public.%I', 'consolidation_typed_' || file_id);
END $$;

CREATE OR REPLACE FUNCTION consolidation_analyze(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF name !~ '^consolidation_(raw_[0-9]+|typed_[0-9]+|stagedperson|stagedemployer|stagedenrollment)$' THEN
        RAISE EXCEPTION 'consolidation_analyze: % is not a consolidation table', name;
    END IF;
    EXECUTE format('ANALYZE public.%I', name);
END $$;

REVOKE ALL ON FUNCTION consolidation_typed_create(bigint, text) FROM PUBLIC;
"""

REVERSE = """
DROP FUNCTION IF EXISTS consolidation_typed_create(bigint, text);

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
"""


class Migration(migrations.Migration):
    dependencies = [("consolidation", "0008_employer_conflict")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=REVERSE)]
