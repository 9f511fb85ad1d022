import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from contributions import selectors, services
from contributions.models import INSURANCE_ORDER, Bill, BillSettlement, Payment, PaymentAllocation
from contributions.services import DeclarationInputLine
from contributions.tests.params import set_huangyan_2025
from registry.models import EMPLOYEE_INSURANCES, Office
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, UserFactory, township_of

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


@pytest.fixture
def three_bills():
    """One employee at base 5000 in Jan–Mar 2025: each bill 5000 × (14+8+6.5+2+0.5+0.5+0.4+0.5)% = 1620.00,
    except March at 16% employer pension: 1720.00."""
    set_huangyan_2025()
    clerk = UserFactory(username="hy_cashier", office=Office.objects.get(code="331003"))
    employer = EmployerFactory(office=township_of("331003"), risk_class=2)
    person = PersonFactory(residence_office=township_of("331003"))
    for insurance in EMPLOYEE_INSURANCES:
        EnrollmentFactory(person=person, employer=employer, insurance_type=insurance, start_date=D(2024, 1, 1))
    bills = []
    for period in (202501, 202502, 202503):
        services.declaration_submit(
            employer=employer, period=period, lines=[DeclarationInputLine(person, "5000", 1)], acting_user=clerk
        )
        run = services.bill_run_start(period=period, acting_user=clerk, scope="employer", employer=employer)
        services.bill_run_execute(bill_run_id=run.pk)
        bills.append(Bill.objects.get(employer=employer, period=period))
    return {"clerk": clerk, "employer": employer, "bills": bills}


def paid(bill):
    return sum(a.amount for a in PaymentAllocation.objects.filter(bill=bill))


def test_bill_totals(three_bills):
    assert [b.total for b in three_bills["bills"]] == [Y("1620.00"), Y("1620.00"), Y("1720.00")]


def test_allocation_oldest_first_partial_then_overpayment_credit(three_bills):
    jan, feb, mar = three_bills["bills"]
    employer, clerk = three_bills["employer"], three_bills["clerk"]
    _payment, created = services.payment_record(
        agency_reference="TAX-0001", amount="2000.00", paid_on=D(2025, 4, 10), employer=employer, acting_user=clerk
    )
    assert created
    assert (paid(jan), paid(feb), paid(mar)) == (Y("1620.00"), Y("380.00"), 0)
    # Within February the order is pension first: 700 + 400 employee+employer pension = 1100 > 380.
    feb_allocs = list(PaymentAllocation.objects.filter(bill=feb))
    assert [(a.insurance_type, a.amount) for a in feb_allocs] == [("emp_pension", Y("380.00"))]
    order = [a.insurance_type for a in PaymentAllocation.objects.filter(bill=jan).order_by("pk")]
    assert order == [i.value for i in INSURANCE_ORDER if i.value in order]

    services.payment_record(
        agency_reference="TAX-0002", amount="3500.00", paid_on=D(2025, 4, 20), employer=employer, acting_user=clerk
    )
    assert (paid(feb), paid(mar)) == (Y("1620.00"), Y("1720.00"))
    # Each bill settled after its due date issued its late-fee bill (滞纳金, 社会保险法第八十六条), paid after the
    # contributions from the rest of the payment (before late-fee bills the credit was 540.00):
    # January (due Mon 2025-02-17, 15 Feb a Saturday) paid 10 Apr: 11 + 31 + 10 = 52 days × 1620 × 0.05% = 42.12;
    # February (due Mon 2025-03-17), 380.00 of it paid 10 Apr, the rest 20 Apr: 18 Mar–10 Apr 24 days × 1620 × 0.05%
    # = 19.44, 11–20 Apr 10 days × 1240 × 0.05% = 6.20, together 25.64;
    # March (due Tue 2025-04-15) paid 20 Apr: 5 days × 1720 × 0.05% = 4.30.
    fees = {b.fee_for_id: b.total for b in Bill.objects.filter(kind="late_fee")}
    assert fees == {jan.pk: Y("42.12"), feb.pk: Y("25.64"), mar.pk: Y("4.30")}
    assert services.payer_credit(employer=employer) == Y("3500.00") - Y("1240.00") - Y("1720.00") - Y("72.06")


def test_credit_is_used_by_the_next_bill(three_bills):
    _jan, _feb, _mar = three_bills["bills"]
    employer, clerk = three_bills["employer"], three_bills["clerk"]
    services.payment_record(
        agency_reference="TAX-BIG", amount="5500.00", paid_on=D(2025, 4, 10), employer=employer, acting_user=clerk
    )
    # 540.00 before late-fee bills, less January's 42.12 (52 days) and February's 19.44 (24 days × 1620 × 0.05%);
    # March, due 15 April, was paid on time.
    assert services.payer_credit(employer=employer) == Y("540.00") - Y("42.12") - Y("19.44")
    services.declaration_submit(
        employer=employer,
        period=202504,
        lines=[DeclarationInputLine(employer.enrollments.first().person, "5000", 1)],
        acting_user=clerk,
    )
    run = services.bill_run_start(period=202504, acting_user=clerk, scope="employer", employer=employer)
    services.bill_run_execute(bill_run_id=run.pk)
    april = Bill.objects.get(employer=employer, period=202504)
    used = services.payer_credit_apply(employer=employer, acting_user=clerk)
    assert used == Y("478.44") and paid(april) == Y("478.44")
    assert services.payer_credit(employer=employer) == 0


def test_same_payment_reported_twice_is_recorded_once(three_bills):
    employer, clerk = three_bills["employer"], three_bills["clerk"]
    first, created = services.payment_record(
        agency_reference="TAX-DUP", amount="100.00", paid_on=D(2025, 4, 10), employer=employer, acting_user=clerk
    )
    again, created_again = services.payment_record(
        agency_reference="TAX-DUP", amount="100.00", paid_on=D(2025, 4, 10), employer=employer, acting_user=clerk
    )
    assert created and not created_again and again.pk == first.pk
    assert Payment.objects.count() == 1 and PaymentAllocation.objects.count() == 1
    with pytest.raises(ValidationError) as caught:
        services.payment_record(
            agency_reference="TAX-DUP", amount="999.00", paid_on=D(2025, 4, 10), employer=employer, acting_user=clerk
        )
    assert "已登记为另一笔到账" in caught.value.message_dict["agency_reference"][0]
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    "amount, message", [("-5", "必须大于 0"), ("0", "必须大于 0"), ("abc", "不是数字"), ("1.234", "两位小数")]
)
def test_bad_payment_amount(three_bills, amount, message):
    with pytest.raises(ValidationError) as caught:
        services.payment_record(
            agency_reference="TAX-BAD",
            amount=amount,
            paid_on=D(2025, 4, 10),
            employer=three_bills["employer"],
            acting_user=three_bills["clerk"],
        )
    assert message in caught.value.message_dict["amount"][0]
    assert not Payment.objects.exists()


def test_payment_for_a_payer_outside_jurisdiction_is_refused(three_bills):
    other = EmployerFactory(office=township_of("331004"))
    with pytest.raises(ValidationError) as caught:
        services.payment_record(
            agency_reference="TAX-LQ",
            amount="10",
            paid_on=D(2025, 4, 10),
            employer=other,
            acting_user=three_bills["clerk"],
        )
    assert "payer" in caught.value.message_dict


def test_reversal_is_a_new_record_and_returns_money_to_credit(three_bills):
    jan = three_bills["bills"][0]
    services.payment_record(
        agency_reference="TAX-R",
        amount="100.00",
        paid_on=D(2025, 4, 10),
        employer=three_bills["employer"],
        acting_user=three_bills["clerk"],
    )
    allocation = PaymentAllocation.objects.get(bill=jan)
    services.allocation_reverse(allocation=allocation, acting_user=three_bills["clerk"], reason="错账")
    assert paid(jan) == 0
    assert services.payer_credit(employer=three_bills["employer"]) == Y("100.00")
    with pytest.raises(ValidationError):
        services.allocation_reverse(allocation=allocation, acting_user=three_bills["clerk"], reason="再次")


def test_late_fee_to_the_exact_day_across_a_month_end(three_bills):
    jan = three_bills["bills"][0]  # 1620.00
    # Day 15 of February 2025 is a Saturday: the due date moves to Monday 2025-02-17 (民法典第二百零三条), so the
    # arrears begin on 2025-02-18 (before the move: due 02-15, 16 days to 3 March, 12.96).
    assert jan.due_date == D(2025, 2, 17)
    # 18 Feb – 3 Mar: 11 days of February + 3 days of March = 14 days × 1620 × 0.05% = 11.34
    fee = services.late_fee(bill=jan, on=D(2025, 3, 3))
    assert (fee.days, fee.amount) == (14, Y("11.34"))
    assert services.late_fee(bill=jan, on=D(2025, 2, 17)).amount == 0  # not yet late on the (moved) due date
    # A partial payment of 620.00 on 1 March: Feb 18–Mar 1 (12 days) on 1620, Mar 2–3 (2 days) on 1000.
    services.payment_record(
        agency_reference="TAX-LATE",
        amount="620.00",
        paid_on=D(2025, 3, 1),
        employer=three_bills["employer"],
        acting_user=three_bills["clerk"],
    )
    fee = services.late_fee(bill=jan, on=D(2025, 3, 3))
    assert fee.amount == Y("1620") * Y("0.0005") * 12 + Y("1000") * Y("0.0005") * 2  # 9.72 + 1.00 = 10.72


@pytest.mark.postgres
def test_postgres_refuses_changing_an_allocation(three_bills):
    services.payment_record(
        agency_reference="TAX-PG",
        amount="100.00",
        paid_on=D(2025, 4, 10),
        employer=three_bills["employer"],
        acting_user=three_bills["clerk"],
    )
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        PaymentAllocation.objects.update(amount=1)


def test_an_allocation_is_reversed_at_most_once_also_in_the_database(three_bills):
    services.payment_record(
        agency_reference="TAX-REV",
        amount="100.00",
        paid_on=D(2025, 4, 10),
        employer=three_bills["employer"],
        acting_user=three_bills["clerk"],
    )
    original = PaymentAllocation.objects.filter(payment__agency_reference="TAX-REV", bill__isnull=False).first()
    reversal = services.allocation_reverse(allocation=original, acting_user=three_bills["clerk"], reason="错账")
    assert reversal.reverses == original and list(original.reversed_by.all()) == [reversal]
    with pytest.raises(ValidationError):
        services.allocation_reverse(allocation=original, acting_user=three_bills["clerk"], reason="再冲")
    # Past the service too: the partial unique constraint allows many rows that reverse nothing, one that
    # reverses a given row.
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentAllocation.objects.create(
            payment=original.payment,
            bill=original.bill,
            insurance_type=original.insurance_type,
            amount=-original.amount,
            reverses=original,
        )
    assert PaymentAllocation.objects.filter(reverses__isnull=True).count() >= 2


@pytest.mark.postgres
def test_payer_lookups_use_the_partial_payer_indexes(three_bills):
    from django.db import connection

    employer = three_bills["employer"]
    person = PersonFactory()
    queries = {
        "payment_employer": Payment.objects.filter(employer=employer).values("id"),
        "payment_person": Payment.objects.filter(person=person).values("id"),
        "allocation_reverses_once": PaymentAllocation.objects.filter(reverses_id=1).values("id"),
    }
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        for index, queryset in queries.items():
            sql, params = queryset.query.sql_with_params()
            cur.execute(f"EXPLAIN {sql}", params)
            assert index in " ".join(row[0] for row in cur.fetchall()), index


ARREARS_ON = D(2025, 6, 1)


def arrears_ids(clerk):
    return {b.pk for b in selectors.arrears_list(user=clerk, on=ARREARS_ON)}


def settlement_agrees_with_allocations():
    """The trigger-kept marker against the exact sum: open ⇔ allocations short of the total."""
    for bill in selectors.with_amounts(Bill.objects.filter(issued_at__isnull=False)):
        settlement = BillSettlement.objects.get(bill=bill)
        assert settlement.paid == (bill.paid_amount or 0)
        assert (settlement.settled_at is None) == (bill.open_amount > 0), bill


@pytest.mark.postgres  # BillSettlement is kept by PostgreSQL triggers (migration 0024)
def test_a_bill_paid_in_two_parts_leaves_the_arrears_once_fully_paid(three_bills):
    jan, feb, mar = three_bills["bills"]
    employer, clerk = three_bills["employer"], three_bills["clerk"]
    assert arrears_ids(clerk) == {jan.pk, feb.pk, mar.pk}
    services.payment_record(
        agency_reference="TAX-P1", amount="1000.00", paid_on=D(2025, 4, 10), employer=employer, acting_user=clerk
    )
    assert arrears_ids(clerk) == {jan.pk, feb.pk, mar.pk}
    assert BillSettlement.objects.get(bill=jan).settled_at is None
    services.payment_record(
        agency_reference="TAX-P2", amount="620.00", paid_on=D(2025, 4, 11), employer=employer, acting_user=clerk
    )
    assert BillSettlement.objects.get(bill=jan).settled_at is not None
    settlement_agrees_with_allocations()  # the late-fee bill January's settlement issued included
    assert {feb.pk, mar.pk} <= arrears_ids(clerk) and jan.pk not in arrears_ids(clerk)


@pytest.mark.postgres  # BillSettlement is kept by PostgreSQL triggers (migration 0024)
def test_a_reversal_reopens_a_settled_bill(three_bills):
    jan = three_bills["bills"][0]
    employer, clerk = three_bills["employer"], three_bills["clerk"]
    services.payment_record(
        agency_reference="TAX-S", amount="1620.00", paid_on=D(2025, 2, 10), employer=employer, acting_user=clerk
    )
    assert jan.pk not in arrears_ids(clerk)
    allocation = PaymentAllocation.objects.filter(bill=jan).order_by("pk").first()
    services.allocation_reverse(allocation=allocation, acting_user=clerk, reason="错账")
    assert BillSettlement.objects.get(bill=jan).settled_at is None
    assert jan.pk in arrears_ids(clerk)
    settlement_agrees_with_allocations()
    # The credit the reversal made settles it again.
    services.payer_credit_apply(employer=employer, acting_user=clerk)
    assert jan.pk not in arrears_ids(clerk)
    settlement_agrees_with_allocations()


@pytest.mark.postgres  # BillSettlement is kept by PostgreSQL triggers (migration 0024)
def test_the_arrears_list_reads_only_the_open_bills(three_bills):
    plan = str(selectors.arrears_list(user=three_bills["clerk"], on=ARREARS_ON).query)
    assert "contributions_billsettlement" in plan and "settled_at" in plan
