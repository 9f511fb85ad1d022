"""PostgreSQL: migrated contribution history is never changed (UPDATE refused; DELETE refused unless the undo of a
merge withdraws the rows that merge loaded, signalled by ``SET LOCAL tzsi.history_withdraw = 'on'``), and a BRIN
index finds a batch's rows (appended together) for its reconciliation."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
CREATE FUNCTION contributions_history_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('tzsi.history_withdraw', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'migrated contribution history is immutable: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER contribution_history_immutable BEFORE UPDATE OR DELETE ON contributions_contributionhistory
    FOR EACH STATEMENT EXECUTE FUNCTION contributions_history_refuse_change();
-- Fires also with session_replication_role = replica (as every immutability trigger, migration 0008).
ALTER TABLE contributions_contributionhistory ENABLE ALWAYS TRIGGER contribution_history_immutable;

CREATE INDEX contribution_history_batch ON contributions_contributionhistory USING brin (source_batch_id);
"""

BACKWARD = """
DROP INDEX IF EXISTS contribution_history_batch;
DROP TRIGGER IF EXISTS contribution_history_immutable ON contributions_contributionhistory;
DROP FUNCTION IF EXISTS contributions_history_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("contributions", "0010_contribution_history")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=BACKWARD)]
