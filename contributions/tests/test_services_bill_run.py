"""Hand-computed bills (黄岩 2025 parameters from tests/params.py: floor 3600, ceiling 18000)."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from contributions import services
from contributions.models import Bill, BillLine, BillRun, BillRunStatus, Declaration, DeclarationStatus, WorkInjuryFloat
from contributions.services import DeclarationInputLine
from contributions.tests.params import set_huangyan_2025
from registry.models import EMPLOYEE_INSURANCES, Office
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, UserFactory, township_of

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


@pytest.fixture
def setup():
    params = set_huangyan_2025()
    clerk = UserFactory(username="hy_biller", office=Office.objects.get(code="331003"))
    township = township_of("331003")
    e1 = EmployerFactory(office=township, risk_class=2)
    e2 = EmployerFactory(office=township, risk_class=5)
    WorkInjuryFloat.objects.create(employer=e2, ratio=Y("1.20"), valid_from=D(2024, 1, 1))

    def employ(employer, start=None, end=None):
        start = start or D(2024, 1, 1)
        person = PersonFactory(residence_office=township)
        for insurance in EMPLOYEE_INSURANCES:
            EnrollmentFactory(
                person=person, employer=employer, insurance_type=insurance, start_date=start, end_date=end
            )
        return person

    people = {
        "low": employ(e1),
        "high": employ(e1),
        "odd": employ(e1),
        "new_mid_month": employ(e1, start=D(2025, 2, 15)),
        "left_mid_month": employ(e1, end=D(2025, 2, 14)),
        "class5": employ(e2),
    }
    return {"clerk": clerk, "e1": e1, "e2": e2, "p": people, **params}


def declare(setup, employer, period, bases):
    return services.declaration_submit(
        employer=employer,
        period=period,
        lines=[
            DeclarationInputLine(person=p, base=b, row=i + 1, confirm_below_floor=True)
            for i, (p, b) in enumerate(bases)
        ],
        acting_user=setup["clerk"],
    )


def run(setup, period):
    bill_run = services.bill_run_start(
        period=period, acting_user=setup["clerk"], scope="district", office=Office.objects.get(code="331003")
    )
    services.bill_run_execute(bill_run_id=bill_run.pk)
    bill_run.refresh_from_db()
    return bill_run


def amounts(bill, person):
    return {
        line.insurance_type: (line.base, line.employer_amount, line.individual_amount)
        for line in BillLine.objects.filter(bill=bill, person=person)
    }


def test_hand_computed_bill(setup):
    p = setup["p"]
    declaration = declare(
        setup,
        setup["e1"],
        202502,
        [(p["low"], "3000"), (p["high"], "20000"), (p["odd"], "5000.55"), (p["new_mid_month"], "4000")],
    )
    clamps = {line.person_id: line.clamp for line in declaration.lines.all()}
    assert clamps[p["low"].pk] == "floor" and clamps[p["high"].pk] == "ceiling" and clamps[p["odd"].pk] == ""
    declare(setup, setup["e2"], 202502, [(p["class5"], "10000")])
    bill_run = run(setup, 202502)
    assert bill_run.status == BillRunStatus.DONE
    assert (bill_run.done, bill_run.total, bill_run.bills_created) == (2, 2, 2)

    bill = Bill.objects.get(employer=setup["e1"], period=202502)
    assert amounts(bill, p["low"]) == {
        "emp_pension": (Y("3600.00"), Y("504.00"), Y("288.00")),
        "emp_medical": (Y("3600.00"), Y("234.00"), Y("72.00")),
        "unemployment": (Y("3600.00"), Y("18.00"), Y("18.00")),
        "work_injury": (Y("3600.00"), Y("14.40"), Y("0.00")),  # class 2: 0.4%
        "maternity": (Y("3600.00"), Y("18.00"), Y("0.00")),
    }
    assert amounts(bill, p["high"])["emp_pension"] == (Y("18000.00"), Y("2520.00"), Y("1440.00"))
    # 5000.55 × 14% = 700.077 → 700.08; × 8% = 400.044 → 400.04; × 6.5% = 325.03575 → 325.04
    assert amounts(bill, p["odd"]) == {
        "emp_pension": (Y("5000.55"), Y("700.08"), Y("400.04")),
        "emp_medical": (Y("5000.55"), Y("325.04"), Y("100.01")),
        "unemployment": (Y("5000.55"), Y("25.00"), Y("25.00")),
        "work_injury": (Y("5000.55"), Y("20.00"), Y("0.00")),
        "maternity": (Y("5000.55"), Y("25.00"), Y("0.00")),
    }
    # Mid-month rule: billed to the enrollment active on the month's last day.
    assert amounts(bill, p["new_mid_month"])["emp_pension"] == (Y("4000.00"), Y("560.00"), Y("320.00"))
    assert amounts(bill, p["left_mid_month"]) == {}
    assert bill.lines.count() == 4 * 5

    # Totals per insurance and per payer are the sums of the lines.
    totals = {t.insurance_type: (t.employer_amount, t.individual_amount) for t in bill.totals.all()}
    assert totals["emp_pension"] == (
        Y("504.00") + Y("2520.00") + Y("700.08") + Y("560.00"),
        Y("288.00") + Y("1440.00") + Y("400.04") + Y("320.00"),
    )
    assert bill.total_employer == sum(t[0] for t in totals.values())
    assert bill.total == bill.total_employer + bill.total_individual
    # Day 15 of March 2025 is a Saturday: the due date moves to Monday 17 March (民法典第二百零三条).
    assert bill.due_date == D(2025, 3, 17)

    # Class 5 at 1.1% with a 1.2 float: 10000 × 1.32% = 132.00
    other = Bill.objects.get(employer=setup["e2"], period=202502)
    assert amounts(other, p["class5"])["work_injury"] == (Y("10000.00"), Y("132.00"), Y("0.00"))
    assert BillLine.objects.get(bill=other, person=p["class5"], insurance_type="work_injury").employer_rate == Y(
        "0.0132"
    )
    assert Declaration.objects.get(employer=setup["e1"], period=202502).status == DeclarationStatus.LOCKED


def test_rate_change_between_two_months_changes_the_next_bill_only(setup):
    p = setup["p"]
    declare(setup, setup["e1"], 202502, [(p["odd"], "5000.55")])
    declare(setup, setup["e1"], 202503, [(p["odd"], "5000.55")])
    run(setup, 202502)
    run(setup, 202503)
    feb = Bill.objects.get(employer=setup["e1"], period=202502)
    mar = Bill.objects.get(employer=setup["e1"], period=202503)
    assert amounts(feb, p["odd"])["emp_pension"][1] == Y("700.08")  # 14%
    assert amounts(mar, p["odd"])["emp_pension"][1] == Y("800.09")  # 16% from March: 800.088
    # Undeclared employees are billed at the floor and flagged.
    assert amounts(mar, p["low"])["emp_pension"][0] == Y("3600.00")
    assert BillLine.objects.get(bill=mar, person=p["low"], insurance_type="maternity").base_source == "floor"


def test_changing_a_parameter_changes_the_next_run_but_not_an_issued_bill(setup):
    p = setup["p"]
    declare(setup, setup["e1"], 202503, [(p["odd"], "5000.55")])
    run(setup, 202503)
    issued = Bill.objects.get(employer=setup["e1"], period=202503)
    before = (issued.total, amounts(issued, p["odd"]))
    value = setup["put"]  # a correction of the 2025 April+ pension rate: end the 16% value, 18% from April
    from policies.models import ParameterValue
    from policies.services import parameter_value_schedule

    parameter_value_schedule(
        acting_user=setup["admin"],
        parameter="rate.emp_pension.employer",
        value="0.18",
        valid_from=D(2025, 4, 1),
        document=setup["document"],
        district=Office.objects.get(code="331003"),
    )
    assert (
        value
        and ParameterValue.objects.filter(
            parameter__code="rate.emp_pension.employer", valid_from=D(2025, 4, 1)
        ).exists()
    )
    declare(setup, setup["e1"], 202504, [(p["odd"], "5000.55")])
    run(setup, 202504)
    april = Bill.objects.get(employer=setup["e1"], period=202504)
    assert amounts(april, p["odd"])["emp_pension"][1] == Y("900.10")  # 18%: 900.099
    issued.refresh_from_db()
    assert (issued.total, amounts(issued, p["odd"])) == before


def test_rerun_is_idempotent(setup):
    first = run(setup, 202502)
    lines = BillLine.objects.count()
    second = run(setup, 202502)
    assert second.pk != first.pk and second.bills_created == 0 and second.lines_created == 0
    assert BillLine.objects.count() == lines
    assert Bill.objects.filter(period=202502).count() == 2


def test_second_concurrent_run_of_a_period_is_refused(setup):
    services.bill_run_start(
        period=202502, acting_user=setup["clerk"], scope="district", office=Office.objects.get(code="331003")
    )
    # The first is still queued (tasks run on commit): a second start is refused with a clear message.
    with pytest.raises(ValidationError) as caught:
        services.bill_run_start(
            period=202502, acting_user=setup["clerk"], scope="district", office=Office.objects.get(code="331003")
        )
    assert "正在进行" in caught.value.message_dict["period"][0]
    assert BillRun.objects.filter(period=202502).count() == 1


def test_declaration_after_the_bill_run_is_refused_and_corrected_by_an_adjustment(setup):
    p = setup["p"]
    declare(setup, setup["e1"], 202502, [(p["odd"], "5000")])
    run(setup, 202502)
    with pytest.raises(ValidationError) as caught:
        declare(setup, setup["e1"], 202502, [(p["odd"], "6000")])
    assert "补缴或退费" in caught.value.message_dict["period"][0]
    original = Bill.objects.get(employer=setup["e1"], period=202502)
    adjustment = services.declaration_correct_after_billing(
        employer=setup["e1"],
        period=202502,
        person=p["odd"],
        base="6000",
        reason="工资申报有误",
        acting_user=setup["clerk"],
    )
    assert adjustment.kind == "arrears" and adjustment.corrects == original
    pension = adjustment.lines.get(insurance_type="emp_pension")
    assert (pension.employer_amount, pension.individual_amount) == (Y("140.00"), Y("80.00"))  # 1000 × 14% / 8%
    refund = services.declaration_correct_after_billing(
        employer=setup["e1"],
        period=202502,
        person=p["odd"],
        base="4000",
        reason="更正",
        acting_user=setup["clerk"],
    )
    assert refund.kind == "refund" and refund.lines.get(insurance_type="emp_pension").employer_amount == Y("-280.00")


@pytest.mark.parametrize(
    "base, message",
    [("0", "必须大于 0"), ("-5", "必须大于 0"), ("abc", "不是数字"), ("12.345", "两位小数")],
)
def test_bad_declaration_lines_are_named_and_nothing_is_written(setup, base, message):
    p = setup["p"]
    stranger = PersonFactory()
    with pytest.raises(ValidationError) as caught:
        declare(setup, setup["e1"], 202502, [(p["odd"], "5000"), (p["low"], base), (stranger, "5000")])
    errors = caught.value.message_dict["lines"]
    assert any(e.startswith("第 2 行") and message in e for e in errors)
    assert any(e.startswith("第 3 行") and "未在本单位参加职工保险" in e for e in errors)
    assert not Declaration.objects.exists()


def test_future_period_is_refused(setup):
    with pytest.raises(ValidationError) as caught:
        declare(setup, setup["e1"], 209901, [(setup["p"]["odd"], "5000")])
    assert "尚未到来" in caught.value.message_dict["period"][0]


def test_resident_pension_grade_with_its_subsidy(setup):
    person = PersonFactory(residence_office=township_of("331003"))
    EnrollmentFactory(person=person, employer=None, insurance_type="res_pension", start_date=D(2020, 1, 1))
    bill = services.resident_pension_contribute(person=person, year=2025, grade=2, acting_user=setup["clerk"])
    assert (bill.kind, bill.total, bill.total_individual) == ("res_pension", Y("300.00"), Y("300.00"))
    assert (bill.subsidy_city, bill.subsidy_district) == (Y("27.00"), Y("18.00"))  # 45 split 60% city
    with pytest.raises(ValidationError) as caught:
        services.resident_pension_contribute(person=person, year=2025, grade=9, acting_user=setup["clerk"])
    assert "档次 9 不存在" in caught.value.message_dict["grade"][0]


def test_resident_medical_contribution_with_the_subsidy_split(setup):
    person = PersonFactory(residence_office=township_of("331003"))
    EnrollmentFactory(person=person, employer=None, insurance_type="res_medical", start_date=D(2020, 1, 1))
    bill = services.resident_medical_contribute(person=person, year=2025, acting_user=setup["clerk"])
    assert (bill.total, bill.subsidy_city, bill.subsidy_district) == (Y("400.00"), Y("335.00"), Y("335.00"))


def test_flexible_employment_pays_both_shares_at_the_flexible_rates(setup):
    person = PersonFactory(residence_office=township_of("331003"))
    EnrollmentFactory(
        person=person, employer=None, is_flexible=True, insurance_type="emp_pension", start_date=D(2024, 1, 1)
    )
    EnrollmentFactory(
        person=person, employer=None, is_flexible=True, insurance_type="emp_medical", start_date=D(2024, 1, 1)
    )
    run(setup, 202502)
    bill = Bill.objects.get(person=person, period=202502, kind="flexible")
    assert amounts(bill, person) == {
        "emp_pension": (Y("3600.00"), Y("0.00"), Y("720.00")),
        "emp_medical": (Y("3600.00"), Y("0.00"), Y("306.00")),
    }


@pytest.mark.postgres
def test_postgres_refuses_changes_to_an_issued_bill(setup):
    run(setup, 202502)
    bill = Bill.objects.filter(period=202502).first()
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        Bill.objects.filter(pk=bill.pk).update(total=0)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        BillLine.objects.filter(bill=bill).update(employer_amount=0)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM contributions_billline WHERE bill_id = %s", [bill.pk])


def test_resident_medical_yearly_run_is_set_based_and_idempotent(setup):
    people = [PersonFactory(residence_office=township_of("331003")) for _ in range(3)]
    for person in people:
        EnrollmentFactory(person=person, employer=None, insurance_type="res_medical", start_date=D(2020, 1, 1))
    outsider = PersonFactory(residence_office=township_of("331004"))
    EnrollmentFactory(person=outsider, employer=None, insurance_type="res_medical", start_date=D(2020, 1, 1))
    huangyan = Office.objects.get(code="331003")
    assert services.resident_medical_bill_run(year=2025, office=huangyan, acting_user=setup["clerk"]) == 3
    assert services.resident_medical_bill_run(year=2025, office=huangyan, acting_user=setup["clerk"]) == 0
    bill = Bill.objects.get(person=people[0], kind="res_medical", period=202501)
    assert (bill.total, bill.subsidy_city, bill.subsidy_district) == (Y("400.00"), Y("335.00"), Y("335.00"))
    assert bill.lines.get().individual_amount == Y("400.00") and bill.totals.get().amount == Y("400.00")
    assert not Bill.objects.filter(person=outsider).exists()
