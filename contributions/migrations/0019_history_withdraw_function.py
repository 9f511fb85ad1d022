"""The undo of a merge withdraws the history rows that merge loaded — the one DELETE the history table allows. The
application role (docs/security.md) could set the old session flag but a flag any session may set is no guard: the
DELETE now goes through ``contributions_history_withdraw(bigint[])``, a SECURITY DEFINER function owned by the owner
role, and the trigger lets a DELETE through only when the flag is on *and* the current user is the table's owner
(true inside that function, never for the application role)."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
CREATE OR REPLACE FUNCTION contributions_history_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('tzsi.history_withdraw', true) = 'on' AND current_user = (
        SELECT tableowner FROM pg_catalog.pg_tables WHERE schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME
    ) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'migrated contribution history is immutable: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION contributions_history_withdraw(ids bigint[]) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    deleted bigint;
BEGIN
    PERFORM set_config('tzsi.history_withdraw', 'on', true);
    -- Only rows a consolidation batch loaded; months transferred in from another city are never withdrawn.
    DELETE FROM public.contributions_contributionhistory WHERE id = ANY(ids) AND source_batch_id IS NOT NULL;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    PERFORM set_config('tzsi.history_withdraw', 'off', true);
    RETURN deleted;
END $$;
REVOKE ALL ON FUNCTION contributions_history_withdraw(bigint[]) FROM PUBLIC;
"""

BACKWARD = """
DROP FUNCTION IF EXISTS contributions_history_withdraw(bigint[]);
CREATE OR REPLACE FUNCTION contributions_history_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('tzsi.history_withdraw', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'migrated contribution history is immutable: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("contributions", "0018_partition_bill_lines_by_period")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=BACKWARD)]
