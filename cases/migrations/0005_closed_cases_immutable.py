"""On PostgreSQL the database itself refuses to change a closed case (办结/不予办理/撤回), its materials and
its archived attachments; the case log is append-only. The services refuse the same on every database."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FUNCTIONS = """
CREATE OR REPLACE FUNCTION cases_refuse_closed_case_change() RETURNS trigger AS $$
BEGIN
    IF OLD.state IN ('completed', 'rejected', 'withdrawn') THEN
        RAISE EXCEPTION 'case % is closed (%): it cannot be changed', OLD.number, OLD.state
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION cases_refuse_closed_case_part_change() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM cases_case WHERE id = OLD.case_id AND state IN ('completed', 'rejected', 'withdrawn')) THEN
        RAISE EXCEPTION '% of closed case % cannot be changed', TG_TABLE_NAME, OLD.case_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION cases_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;
"""

TRIGGERS = """
CREATE TRIGGER case_closed_immutable BEFORE UPDATE OR DELETE ON cases_case
    FOR EACH ROW EXECUTE FUNCTION cases_refuse_closed_case_change();
CREATE TRIGGER case_material_closed_immutable BEFORE UPDATE OR DELETE ON cases_casematerial
    FOR EACH ROW EXECUTE FUNCTION cases_refuse_closed_case_part_change();
CREATE TRIGGER attachment_closed_immutable BEFORE UPDATE OR DELETE ON cases_attachment
    FOR EACH ROW EXECUTE FUNCTION cases_refuse_closed_case_part_change();
CREATE TRIGGER case_event_append_only BEFORE UPDATE OR DELETE ON cases_caseevent
    FOR EACH ROW EXECUTE FUNCTION cases_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS case_closed_immutable ON cases_case;
DROP TRIGGER IF EXISTS case_material_closed_immutable ON cases_casematerial;
DROP TRIGGER IF EXISTS attachment_closed_immutable ON cases_attachment;
DROP TRIGGER IF EXISTS case_event_append_only ON cases_caseevent;
DROP FUNCTION IF EXISTS cases_refuse_closed_case_change();
DROP FUNCTION IF EXISTS cases_refuse_closed_case_part_change();
DROP FUNCTION IF EXISTS cases_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("cases", "0004_overdue_schedule")]

    operations = [PostgresOnlySQL(FUNCTIONS + TRIGGERS, reverse_sql=DROP)]
