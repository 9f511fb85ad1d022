"""A month the payroll paid, or holds in a run (a line of any status, or an arrears row of a later line), cannot
be recorded by hand as well: a trigger on cases' ``BenefitPayment`` refuses it with the SQLSTATE cases maps to
its message (cases.models.PAID_ELSEWHERE_SQLSTATE). In the database, not a Python check, because cases may not
import the payroll and the rule then holds for every writer (service, admin, shell). The award row is locked
first (FOR UPDATE conflicts with the FOR KEY SHARE a run's chunk holds on the awards it pays), so a by-hand
payment waits for a chunk being written and then sees its lines."""

from django.db import migrations

from cases.models import PAID_ELSEWHERE_SQLSTATE
from registry.migration_ops import PostgresOnlySQL

FORWARD = f"""
CREATE FUNCTION payroll_benefit_payment_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM cases_benefitaward WHERE id = NEW.award_id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM payroll_payrollline l
               WHERE l.award_id = NEW.award_id AND l.period = NEW.period AND l.kind = 'regular')
       OR EXISTS (SELECT 1 FROM payroll_payrollarrears r WHERE r.award_id = NEW.award_id AND r.period = NEW.period)
    THEN
        RAISE EXCEPTION 'award % month % is paid by the payroll', NEW.award_id, NEW.period
            USING ERRCODE = '{PAID_ELSEWHERE_SQLSTATE}';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payroll_benefit_payment_guard BEFORE INSERT OR UPDATE OF award_id, period ON cases_benefitpayment
    FOR EACH ROW EXECUTE FUNCTION payroll_benefit_payment_guard();
"""

REVERSE = """
DROP TRIGGER payroll_benefit_payment_guard ON cases_benefitpayment;
DROP FUNCTION payroll_benefit_payment_guard();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("payroll", "0002_adjustment_parameters"),
        ("cases", "0020_work_injury_recognition_item"),
    ]

    operations = [PostgresOnlySQL(FORWARD, REVERSE)]
