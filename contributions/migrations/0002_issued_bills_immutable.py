"""On PostgreSQL the database itself refuses to change issued bills, their lines and totals, payments
and allocations: corrections are new records (adjustment bills, reversing allocations)."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FUNCTIONS = """
CREATE OR REPLACE FUNCTION contributions_refuse_issued_bill_change() RETURNS trigger AS $$
BEGIN
    IF OLD.issued_at IS NOT NULL THEN
        RAISE EXCEPTION 'issued bill % is immutable: corrections are adjustment bills', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION contributions_refuse_bill_part_change() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM contributions_bill WHERE id = OLD.bill_id AND issued_at IS NOT NULL) THEN
        RAISE EXCEPTION '% of issued bill % is immutable', TG_TABLE_NAME, OLD.bill_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION contributions_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: record a reversal instead', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;
"""

TRIGGERS = """
CREATE TRIGGER bill_immutable BEFORE UPDATE OR DELETE ON contributions_bill
    FOR EACH ROW EXECUTE FUNCTION contributions_refuse_issued_bill_change();
CREATE TRIGGER bill_line_immutable BEFORE UPDATE OR DELETE ON contributions_billline
    FOR EACH ROW EXECUTE FUNCTION contributions_refuse_bill_part_change();
CREATE TRIGGER bill_total_immutable BEFORE UPDATE OR DELETE ON contributions_billtotal
    FOR EACH ROW EXECUTE FUNCTION contributions_refuse_bill_part_change();
CREATE TRIGGER payment_append_only BEFORE UPDATE OR DELETE ON contributions_payment
    FOR EACH ROW EXECUTE FUNCTION contributions_refuse_change();
CREATE TRIGGER allocation_append_only BEFORE UPDATE OR DELETE ON contributions_paymentallocation
    FOR EACH ROW EXECUTE FUNCTION contributions_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS bill_immutable ON contributions_bill;
DROP TRIGGER IF EXISTS bill_line_immutable ON contributions_billline;
DROP TRIGGER IF EXISTS bill_total_immutable ON contributions_billtotal;
DROP TRIGGER IF EXISTS payment_append_only ON contributions_payment;
DROP TRIGGER IF EXISTS allocation_append_only ON contributions_paymentallocation;
DROP FUNCTION IF EXISTS contributions_refuse_issued_bill_change();
DROP FUNCTION IF EXISTS contributions_refuse_bill_part_change();
DROP FUNCTION IF EXISTS contributions_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("contributions", "0001_contributions_initial")]

    operations = [PostgresOnlySQL(FUNCTIONS + TRIGGERS, reverse_sql=DROP)]
