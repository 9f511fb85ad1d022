"""PostgreSQL: a recorded repayment of an overpaid benefit is never changed or deleted (it is posted to the fund
ledger; a wrong one is corrected by reversing that transaction)."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
CREATE FUNCTION payroll_repayment_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'recorded repayments are immutable: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER recovery_repayment_immutable BEFORE UPDATE OR DELETE ON payroll_recoveryrepayment
    FOR EACH STATEMENT EXECUTE FUNCTION payroll_repayment_refuse_change();
ALTER TABLE payroll_recoveryrepayment ENABLE ALWAYS TRIGGER recovery_repayment_immutable;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS recovery_repayment_immutable ON payroll_recoveryrepayment;
DROP FUNCTION IF EXISTS payroll_repayment_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("payroll", "0006_recovery_repayment")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=BACKWARD)]
