"""contributions.selectors: open amounts, arrears, late fees (worked out by hand), the personal record."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contributions import selectors, services
from contributions.models import Bill, BillKind, ContributionHistory
from contributions.tests.factories import (
    bill_employer,
    declare,
    employ,
    expected_amounts,
    huangyan_employer,
    huangyan_parameters_2025,
    pay,
)
from registry import roles
from registry.models import InsuranceType, Person
from registry.tests.factories import EnrollmentFactory, PersonFactory, UserFactory, office, township_of

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


@pytest.fixture
def reviewer(db):
    huangyan_parameters_2025()
    return UserFactory(username="hy_reviewer_sel", office=office("331003"), roles=[roles.REVIEWER])


@pytest.fixture
def one_employee(reviewer):
    """An employer with one employee declared at 5000 for 202503, billed: total 1795.00, due 2025-04-15."""
    employer = huangyan_employer()
    person = employ(employer)
    declare(employer, 202503, {person: "5000"}, reviewer)
    bill = bill_employer(employer, 202503, reviewer)
    return employer, person, bill


def test_the_constructed_bill_has_the_hand_computed_total(one_employee):
    _employer, _person, bill = one_employee
    amounts = expected_amounts(Y("5000.00"))
    assert bill.total == sum((e + i for e, i in amounts.values()), Y(0)) == Y("1795.00")
    assert bill.due_date == D(2025, 4, 15)


def test_bill_open_amounts_in_one_query(one_employee, reviewer):
    _employer, _person, bill = one_employee
    other = huangyan_employer()
    employ(other)
    second = bill_employer(other, 202503, reviewer)
    pay(bill, "1000.00", D(2025, 4, 10), reviewer)
    with CaptureQueriesContext(connection) as ctx:
        amounts = selectors.bill_open_amounts([bill.pk, second.pk])
    assert len(ctx.captured_queries) == 1
    assert amounts[bill.pk].paid == Y("1000.00")
    assert amounts[bill.pk].open == Y("795.00")
    assert amounts[second.pk].paid == 0
    assert amounts[second.pk].open == second.total
    assert selectors.bill_open_amounts([]) == {}


# Bill of 1795.00 due 15 April 2025, 0.05 % a day; (on, days, fee, outstanding) worked out by hand.
@pytest.mark.parametrize(
    "payments, expected",
    [
        (
            [],
            [
                (D(2025, 4, 10), 0, "0.00", "1795.00"),
                (D(2025, 4, 16), 1, "0.90", "1795.00"),
                (D(2025, 5, 20), 35, "31.41", "1795.00"),
            ],
        ),  # 16 Apr – 20 May: 35 days × 0.8975
        ([("1795.00", D(2025, 4, 15))], [(D(2025, 5, 20), 0, "0.00", "0.00")]),  # on the due date: no fee
        (
            [("1795.00", D(2025, 4, 16))],
            [
                (D(2025, 4, 16), 1, "0.90", "0.00"),  # the payment day is charged
                (D(2025, 5, 20), 1, "0.90", "0.00"),
            ],
        ),
        # 500 before the due date; 16–20 Apr on 1295 (5 × 0.6475), 21 Apr – 3 May on 295 (13 × 0.1475) = 5.155
        (
            [("500.00", D(2025, 4, 1)), ("1000.00", D(2025, 4, 20)), ("295.00", D(2025, 5, 3))],
            [
                (D(2025, 4, 15), 0, "0.00", "1295.00"),
                (D(2025, 4, 16), 1, "0.65", "1295.00"),
                (D(2025, 5, 20), 18, "5.16", "0.00"),
            ],
        ),
        ([("100.00", D(2025, 6, 1))], [(D(2025, 5, 20), 35, "31.41", "1795.00")]),  # paid after the query day
        ([("2000.00", D(2025, 4, 30))], [(D(2025, 5, 20), 15, "13.46", "0.00")]),  # overpaid: the rest is credit
    ],
)
def test_late_fee_cases_by_hand_service_and_batch(one_employee, reviewer, payments, expected):
    _employer, _person, bill = one_employee
    assert bill.total == Y("1795.00") and bill.due_date == D(2025, 4, 15)
    for amount, day in payments:
        pay(bill, amount, day, reviewer)
    for on, days, amount, outstanding in expected:
        for fee in (services.late_fee(bill=bill, on=on), selectors.late_fees_for([bill], on=on)[bill.pk]):
            assert (fee.days, fee.daily_rate, fee.amount, fee.outstanding) == (
                days,
                Y("0.0005"),
                Y(amount),
                Y(outstanding),
            ), on


def test_late_fee_by_hand(one_employee, reviewer):
    _employer, _person, bill = one_employee
    pay(bill, "1000.00", D(2025, 4, 20), reviewer)
    fee = selectors.late_fees_for([bill], on=D(2025, 5, 1))[bill.pk]
    # 16–20 April on 1795.00, 21 April – 1 May on 795.00, at 0.05 % a day.
    expected = (Y("1795.00") * 5 + Y("795.00") * 11) * Y("0.0005")
    assert fee.days == 16
    assert fee.amount == expected.quantize(Y("0.01"))
    assert fee.outstanding == Y("795.00")


def test_late_fees_of_a_page_take_one_query(reviewer):
    bills = []
    for _ in range(3):
        employer = huangyan_employer()
        employ(employer)
        bill_employer(employer, 202503, reviewer)
    bills = list(selectors.bill_list(user=reviewer, period=202503))
    selectors.late_fees_for(bills[:1], on=D(2025, 6, 1))  # warm the parameter snapshot
    with CaptureQueriesContext(connection) as ctx:
        fees = selectors.late_fees_for(bills, on=D(2025, 6, 1))
    assert len(ctx.captured_queries) == 1
    assert len(fees) == 3
    # Bills read without their offices: one more query, still not one per bill.
    plain = list(Bill.objects.filter(pk__in=[b.pk for b in bills]))
    with CaptureQueriesContext(connection) as ctx:
        assert selectors.late_fees_for(plain, on=D(2025, 6, 1)) == fees
    assert len(ctx.captured_queries) == 2


def test_arrears_are_open_past_due_non_refund_bills_in_jurisdiction(one_employee, reviewer):
    _employer, _person, overdue = one_employee
    paid_employer = huangyan_employer()
    worker = employ(paid_employer)
    declare(paid_employer, 202503, {worker: "5000"}, reviewer)
    paid = bill_employer(paid_employer, 202503, reviewer)
    pay(paid, str(paid.total), D(2025, 4, 1), reviewer)
    luqiao = UserFactory(office=office("331004"), roles=[roles.REVIEWER])
    on = D(2025, 5, 1)
    rows = list(selectors.arrears_list(user=reviewer, on=on))
    assert [b.pk for b in rows] == [overdue.pk]
    assert rows[0].open_amount == overdue.total
    assert list(selectors.arrears_list(user=luqiao, on=on)) == []
    # Not yet due on the due date itself.
    assert list(selectors.arrears_list(user=reviewer, on=D(2025, 4, 15))) == []
    # A refund is never arrears.
    refund = services.declaration_correct_after_billing(
        employer=paid_employer,
        period=202503,
        person=worker,
        base="4000",
        reason="基数更正",
        acting_user=reviewer,
    )
    assert refund.kind == BillKind.REFUND
    assert refund.pk not in [b.pk for b in selectors.arrears_list(user=reviewer, on=D(2030, 1, 1))]


def test_bill_list_filters_and_jurisdiction(one_employee, reviewer):
    employer, _person, bill = one_employee
    assert list(selectors.bill_list(user=reviewer, period=202503)) == [bill]
    assert list(selectors.bill_list(user=reviewer, period=202504)) == []
    assert list(selectors.bill_list(user=reviewer, employer=employer, kind=BillKind.REGULAR)) == [bill]
    luqiao = UserFactory(office=office("331004"), roles=[roles.REVIEWER])
    assert list(selectors.bill_list(user=luqiao)) == []
    with pytest.raises(Bill.DoesNotExist):
        selectors.bill_get(user=luqiao, uid=bill.uid)
    detail = selectors.bill_get(user=reviewer, uid=bill.uid)
    rows = selectors.bill_insurance_amounts(detail)
    assert [r.insurance_type for r in rows] == [
        "emp_pension",
        "emp_medical",
        "unemployment",
        "work_injury",
        "maternity",
    ]
    assert rows[0].amount == Y("1200.00") and rows[0].open == Y("1200.00")


# --- 个人权益记录 -----------------------------------------------------------------------------


@pytest.fixture
def record_case(reviewer):
    """One employee: 202503 at 5000 paid in full; 202504 declared 20000 (→ ceiling 18000) paid 5000,
    which covers the pension (4320) but not the medical insurance; then 202503 corrected to 6000 after
    billing: an arrears bill of 359.00 left unpaid."""
    employer = huangyan_employer()
    person = employ(employer)
    declare(employer, 202503, {person: "5000"}, reviewer)
    march = bill_employer(employer, 202503, reviewer)
    pay(march, "1795.00", D(2025, 4, 10), reviewer)
    declare(employer, 202504, {person: "20000"}, reviewer)
    april = bill_employer(employer, 202504, reviewer)
    assert april.total == Y("6462.00")
    pay(april, "5000.00", D(2025, 5, 10), reviewer)
    arrears = services.declaration_correct_after_billing(
        employer=employer, period=202503, person=person, base="6000", reason="工资更正", acting_user=reviewer
    )
    assert arrears.kind == BillKind.ARREARS and arrears.total == Y("359.00")
    return employer, person


def test_personal_record_values(record_case, reviewer):
    employer, person = record_case
    record = selectors.person_contribution_record(user=reviewer, person=person)
    rows = {(r.period, r.insurance_type): r for r in record.rows}
    assert len(rows) == 10
    march = rows[(202503, "emp_pension")]
    assert (march.base, march.employer_amount, march.individual_amount) == (Y("6000.00"), Y("960.00"), Y("480.00"))
    assert march.counted and not march.settled and march.status == "partial"
    assert march.employer_name == employer.name and march.employer_uid == employer.uid
    assert len(march.bill_uids) == 2
    april_pension = rows[(202504, "emp_pension")]
    assert (april_pension.base, april_pension.employer_amount, april_pension.individual_amount) == (
        Y("18000.00"),
        Y("2880.00"),
        Y("1440.00"),
    )
    assert april_pension.status == "paid"
    april_medical = rows[(202504, "emp_medical")]
    assert not april_medical.counted and april_medical.status == "unpaid"
    assert [r.period_label for r in record.rows[:1]] == ["2025年03月"]
    summary = {s.insurance_type: s for s in record.summary}
    assert summary["emp_pension"].months == 2
    assert summary["emp_medical"].months == 1
    assert summary["unemployment"].months == 1
    # Paid amounts: the lines whose bill insurance total is fully allocated (not the open arrears).
    assert summary["emp_pension"].employer_paid == Y("800.00") + Y("2880.00")
    assert summary["emp_pension"].individual_paid == Y("400.00") + Y("1440.00")
    assert summary["emp_pension"].first_period == 202503 and summary["emp_pension"].last_period == 202504
    assert record.months("emp_pension") == 2


def test_contribution_months_agree_with_the_record_in_one_query(record_case, reviewer):
    _employer, person = record_case
    record = selectors.person_contribution_record(user=reviewer, person=person)
    for insurance in ("emp_pension", "emp_medical", "unemployment", "work_injury", "maternity"):
        with CaptureQueriesContext(connection) as ctx:
            months = selectors.contribution_months(person, insurance)
        assert len(ctx.captured_queries) == 1
        assert months == record.months(insurance), insurance
    assert selectors.contribution_months(person.pk, "emp_pension") == 2
    assert selectors.contribution_months(person, "res_pension") == 0


def test_personal_record_query_count_does_not_grow_with_months(reviewer):
    employer = huangyan_employer()
    person = employ(employer)
    bill_employer(employer, 202503, reviewer)
    with CaptureQueriesContext(connection) as one:
        selectors.person_contribution_record(user=reviewer, person=person)
    for period in (202504, 202505, 202506):
        bill_employer(employer, period, reviewer)
    with CaptureQueriesContext(connection) as four:
        record = selectors.person_contribution_record(user=reviewer, person=person)
    assert len(record.rows) == 20
    # The bill lines, then the migrated history (ContributionHistory): two queries whatever the months.
    assert len(one.captured_queries) == len(four.captured_queries) == 2


def test_personal_record_counts_a_tombstones_lines_in_one_statement(record_case, reviewer):
    """A person merged into another (a tombstone) brings its bill lines to the survivor's record, still two
    statements; on PostgreSQL the record's own statement reads exactly what the ORM query (SQLite's path) reads."""
    _employer, person = record_case
    other_employer = huangyan_employer()
    tombstone = employ(other_employer)
    declare(other_employer, 202505, {tombstone: "5000"}, reviewer)
    may = bill_employer(other_employer, 202505, reviewer)
    pay(may, str(may.total), D(2025, 6, 10), reviewer)
    assert 202505 not in {r.period for r in selectors.person_contribution_record(user=reviewer, person=person).rows}
    Person.objects.filter(pk=tombstone.pk).update(merged_into=person, merged_at=timezone.now())
    with CaptureQueriesContext(connection) as ctx:
        record = selectors.person_contribution_record(user=reviewer, person=person)
    assert len(ctx.captured_queries) == 2  # the bill lines (the tombstone's with them), the migrated history
    may_rows = [r for r in record.rows if r.period == 202505]
    assert len(may_rows) == 5
    assert all(r.status == "paid" and r.employer_uid == other_employer.uid for r in may_rows)
    assert record.months("emp_pension") == 3 and record.months("emp_medical") == 2
    lines = selectors._record_lines(person)
    fields = selectors._RecordLine._fields
    assert lines == [selectors._RecordLine(*v) for v in selectors._person_lines(person).values_list(*fields)]
    assert {line.period for line in lines} == {202503, 202504, 202505}
    assert {line.bill__kind for line in lines} == {BillKind.REGULAR, BillKind.ARREARS}
    assert any(line.paid_amount < line.total_amount for line in lines)  # the open arrears, April's medical


def test_personal_record_reads_a_tombstones_migrated_history_in_one_statement(record_case, reviewer):
    """Migrated and transferred months of the person and of its tombstone: one statement that gives what the ORM
    query (SQLite's path) gives, employer and office loaded (no query per row)."""
    employer, person = record_case
    tombstone = PersonFactory(residence_office=person.residence_office)
    Person.objects.filter(pk=tombstone.pk).update(merged_into=person, merged_at=timezone.now())
    huangyan, luqiao = office("331003"), office("331004")
    paid = {
        "emp_pension_base": Y("4000.00"),
        "emp_pension_employer": Y("640.00"),
        "emp_pension_individual": Y("320.00"),
    }
    ContributionHistory.objects.create(
        person=person, employer=employer, period=201901, office=huangyan, source_batch_id=1, source_line=2, **paid
    )
    ContributionHistory.objects.create(
        person=tombstone, period=201901, office=luqiao, source_batch_id=2, source_line=7, **paid
    )
    ContributionHistory.objects.create(
        person=tombstone,
        period=201902,
        office=huangyan,
        source_city="杭州市",
        source_case_id=1,
        source_line=1,
        emp_medical_base=Y("4000.00"),
    )
    with CaptureQueriesContext(connection) as ctx:
        history = selectors._person_history(person)
        shown = [(h.pk, h.employer.name if h.employer_id else "", h.office.short_name, h.office.name) for h in history]
    assert len(ctx.captured_queries) == 1
    orm = ContributionHistory.objects.filter(person_id__in=[person.pk, tombstone.pk]).select_related(
        "employer", "office"
    )
    assert shown == [
        (h.pk, h.employer.name if h.employer_id else "", h.office.short_name, h.office.name)
        for h in orm.order_by("period", "office__code", "id")
    ]
    assert [h.insurances() for h in history] == [h.insurances() for h in orm.order_by("period", "office__code", "id")]
    record = selectors.person_contribution_record(user=reviewer, person=person)
    january = next(r for r in record.rows if (r.period, r.insurance_type) == (201901, "emp_pension"))
    assert january.overlap and january.counted and len(january.sources) == 2
    assert january.employer_name == employer.name
    february = next(r for r in record.rows if (r.period, r.insurance_type) == (201902, "emp_medical"))
    assert february.sources == ["转入（杭州市）"] and not february.counted
    assert record.months("emp_pension") == 3  # 2019-01 once, 2025-03 and 2025-04


def test_resident_pension_year_counts_twelve_months(reviewer):
    person = PersonFactory(residence_office=township_of("331003"))
    EnrollmentFactory(
        person=person, employer=None, insurance_type=InsuranceType.RESIDENT_PENSION, start_date=D(2024, 1, 1)
    )
    bill = services.resident_pension_contribute(person=person, year=2025, grade=1, acting_user=reviewer)
    assert selectors.contribution_months(person, "res_pension") == 0
    services.payment_record(
        agency_reference="RES-1", amount=str(bill.total), paid_on=D(2025, 3, 1), acting_user=reviewer, person=person
    )
    assert selectors.contribution_months(person, "res_pension") == 12
    record = selectors.person_contribution_record(user=reviewer, person=person)
    assert [(r.period_label, r.months, r.status) for r in record.rows] == [("2025年度", 12, "paid")]
    assert record.rows[0].employer_name == ""


def test_personal_record_follows_the_persons_jurisdiction(record_case):
    _employer, person = record_case
    luqiao = UserFactory(office=office("331004"), roles=[roles.REVIEWER])
    with pytest.raises(Person.DoesNotExist):
        selectors.person_contribution_record(user=luqiao, person=person)


def test_declaration_candidates_and_persons(reviewer):
    employer = huangyan_employer()
    inside = employ(employer)
    left = employ(employer, start=D(2024, 1, 1), end=D(2025, 2, 28))
    commuter = employ(employer, PersonFactory(residence_office=township_of("331004")))
    declare(employer, 202503, {inside: "2000"}, reviewer)
    candidates = selectors.declaration_candidates(employer=employer, period=202503)
    assert {c.person for c in candidates} == {inside, commuter}
    assert left not in {c.person for c in candidates}
    mine = next(c for c in candidates if c.person == inside)
    assert (mine.declared_base, mine.base, mine.clamp) == (Y("2000.00"), Y("3600.00"), "floor")
    assert [c.row for c in candidates] == [1, 2]
    # A commuter living in 路桥 may be declared by his 黄岩 employer; a stranger in 路桥 may not be found.
    stranger = PersonFactory(residence_office=township_of("331004"))
    found = set(
        selectors.declaration_persons(
            user=reviewer, employer=employer, id_numbers=[commuter.id_number, stranger.id_number, inside.id_number]
        )
    )
    assert found == {commuter, inside}
    assert set(selectors.declaration_persons(user=reviewer, employer=employer, uids=[stranger.uid])) == set()
    assert list(selectors.declaration_persons(user=reviewer, employer=employer)) == []
