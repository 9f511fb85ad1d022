"""A month of contribution payments posted into the ledger agrees with contributions to the fen; run twice,
nothing is posted twice; fiscal subsidies of paid resident bills are posted once."""

import datetime
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from contributions import services as contribution_services
from contributions.models import PaymentAllocation
from contributions.tests.factories import (
    bill_employer,
    declare,
    employ,
    huangyan_employer,
    huangyan_parameters_2025,
    pay,
)
from contributions.tests.params import set_huangyan_2025
from funds import services
from funds.models import Account, LedgerEntry, LedgerTransaction, PostingRun, TransactionKind
from funds.services.posting import SOURCE_ALLOCATION, SOURCE_BILL
from registry.models import Office
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, UserFactory, township_of

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


def _district(bill_office: Office) -> str:
    return bill_office.district_code or "331000"


def contributions_by_fund_district() -> dict[tuple[str, str], Decimal]:
    """What contributions says was paid to each insurance in each district: allocations to bills."""
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for a in PaymentAllocation.objects.filter(bill__isnull=False).select_related("bill__office"):
        out[(a.insurance_type, _district(a.bill.office))] += a.amount
    return {k: v for k, v in out.items() if v}


def ledger_by_fund_district(account: str, sign: int = 1) -> dict[tuple[str, str], Decimal]:
    rows = (
        LedgerEntry.objects.filter(account=account, transaction__source_type=SOURCE_ALLOCATION)
        .values("fund__insurance_type", "office__code")
        .annotate(total=Sum("amount"))
    )
    return {(r["fund__insurance_type"], r["office__code"]): sign * r["total"] for r in rows if r["total"]}


@pytest.fixture
def april():
    """One month (April 2025) of payments by two 黄岩 employers and one 椒江 employer: full, partial,
    overpaid (credit), credit used by the next bill, and one allocation reversed."""
    huangyan_parameters_2025()
    reviewer = UserFactory(username="hy_reviewer_funds", office=Office.objects.get(code="331003"), roles=[])
    city_clerk = UserFactory(username="city_clerk_funds", office=Office.objects.get(level=1), roles=[])
    a = huangyan_employer()
    b = huangyan_employer()
    c = EmployerFactory(office=township_of("331002"), risk_class=2)
    people_a = [employ(a) for _ in range(3)]
    people_b = [employ(b)]
    people_c = [employ(c) for _ in range(2)]
    declare(a, 202503, dict(zip(people_a, ["5000", "7333.33", "12000"], strict=True)), reviewer)
    declare(b, 202503, {people_b[0]: "4100.55"}, reviewer)
    declare(c, 202503, dict.fromkeys(people_c, "6001"), city_clerk)
    bills = {e: bill_employer(e, 202503, city_clerk) for e in (a, b, c)}
    pay(bills[a], bills[a].total, D(2025, 4, 10), city_clerk)  # in full
    pay(bills[b], Y("1000.01"), D(2025, 4, 12), city_clerk)  # partial
    pay(bills[c], bills[c].total + Y("250.00"), D(2025, 4, 20), city_clerk)  # overpaid: 250 to credit
    declare(c, 202504, dict.fromkeys(people_c, "6001"), city_clerk)
    bill_employer(c, 202504, city_clerk)
    contribution_services.payer_credit_apply(employer=c, acting_user=city_clerk)  # the credit pays part of April
    wrong = PaymentAllocation.objects.filter(bill=bills[a], insurance_type="maternity").first()
    contribution_services.allocation_reverse(allocation=wrong, acting_user=city_clerk, reason="分配有误")
    return {"bills": bills, "user": city_clerk}


def test_a_month_of_payments_is_posted_to_the_fen_and_only_once(april):
    expected = contributions_by_fund_district()
    assert {district for _ins, district in expected} == {"331002", "331003"}
    assert any(v < 0 for v in PaymentAllocation.objects.values_list("amount", flat=True))  # a reversal is included

    first = services.contribution_income_post(up_to=timezone.now(), acting_user=april["user"])

    assert ledger_by_fund_district(Account.CONTRIBUTION_INCOME, sign=-1) == expected
    assert ledger_by_fund_district(Account.BANK) == expected
    allocations_to_bills = PaymentAllocation.objects.filter(bill__isnull=False)
    assert first.contribution_transactions == allocations_to_bills.count()
    assert first.contribution_amount == allocations_to_bills.aggregate(s=Sum("amount"))["s"]
    # Credit (allocations without a bill) is not income.
    credit = PaymentAllocation.objects.filter(bill__isnull=True).values_list("id", flat=True)
    assert not LedgerTransaction.objects.filter(source_type=SOURCE_ALLOCATION, source_id__in=list(credit)).exists()
    # Every transaction balances and points to its allocation.
    for txn in LedgerTransaction.objects.filter(kind=TransactionKind.CONTRIBUTION):
        assert sum(e.amount for e in txn.entries.all()) == 0
        assert PaymentAllocation.objects.filter(pk=txn.source_id).exists()

    entries_before = LedgerEntry.objects.count()
    second = services.contribution_income_post(up_to=timezone.now(), acting_user=april["user"])
    assert (second.contribution_transactions, second.contribution_amount, second.subsidy_transactions) == (0, 0, 0)
    assert LedgerEntry.objects.count() == entries_before
    assert ledger_by_fund_district(Account.CONTRIBUTION_INCOME, sign=-1) == expected
    assert PostingRun.objects.count() == 2


def test_allocations_after_up_to_wait_for_the_next_run(april):
    cut = timezone.now()
    services.contribution_income_post(up_to=cut)
    later = pay(april["bills"][next(iter(april["bills"]))].employer, Y("10.00"), D(2025, 4, 30), april["user"])
    assert services.contribution_income_post(up_to=cut).contribution_transactions == 0
    result = services.contribution_income_post(up_to=timezone.now())
    new = PaymentAllocation.objects.filter(payment=later, bill__isnull=False).count()
    assert result.contribution_transactions == new
    assert ledger_by_fund_district(Account.BANK) == contributions_by_fund_district()


def test_the_booking_day_is_the_local_day_the_allocation_was_made(april):
    services.contribution_income_post(up_to=timezone.now())
    allocation = PaymentAllocation.objects.filter(bill__isnull=False).order_by("id").first()
    txn = LedgerTransaction.objects.get(source_type=SOURCE_ALLOCATION, source_id=allocation.pk)
    assert txn.booked_on == timezone.localdate(allocation.created_at)


def test_resident_subsidies_are_posted_when_the_bill_is_paid_in_full():
    set_huangyan_2025()
    clerk = UserFactory(username="hy_res_clerk", office=Office.objects.get(code="331003"), roles=[])
    township = township_of("331003")
    paid, unpaid = PersonFactory(residence_office=township), PersonFactory(residence_office=township)
    for person in (paid, unpaid):
        EnrollmentFactory(person=person, insurance_type="res_medical", employer=None, start_date=D(2024, 1, 1))
    bill = contribution_services.resident_medical_contribute(person=paid, year=2025, acting_user=clerk)
    contribution_services.resident_medical_contribute(person=unpaid, year=2025, acting_user=clerk)
    assert (bill.total, bill.subsidy_city, bill.subsidy_district) == (Y("400.00"), Y("335.00"), Y("335.00"))
    contribution_services.payment_record(
        agency_reference="RES-1", amount="400.00", paid_on=D(2025, 2, 1), person=paid, acting_user=clerk
    )

    result = services.contribution_income_post(up_to=timezone.now())

    assert (result.subsidy_transactions, result.subsidy_amount) == (1, Y("670.00"))
    txn = LedgerTransaction.objects.get(source_type=SOURCE_BILL)
    assert txn.source_id == bill.pk and txn.office.code == "331003" and txn.fund.insurance_type == "res_medical"
    assert sorted((e.account, e.amount) for e in txn.entries.all()) == [
        (Account.BANK, Y("670.00")),
        (Account.SUBSIDY_CITY, Y("-335.00")),
        (Account.SUBSIDY_DISTRICT, Y("-335.00")),
    ]
    assert result.contribution_amount == Y("400.00")
    assert services.contribution_income_post(up_to=timezone.now()).subsidy_transactions == 0
