"""Issue 20, by hand: due dates moved past holidays, the 补缴 late fee from the original due date, late-fee bills
and the allocation order, waivers and penalty decisions with a second person's approval."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from contributions import selectors, services
from contributions.models import Bill, BillKind, DecisionStatus, LateFeeWaiver, PaymentAllocation, PenaltyDecision
from contributions.services.backdated import (
    backdated_corrections_apply,
    backdated_corrections_preview,
    backdated_rate_values,
)
from contributions.services.bill_run import bill_due_date, due_date_note
from contributions.tests.test_services_payments import three_bills  # noqa: F401 (fixture)
from policies import services as policy_services
from policies.models import ParameterValue
from policies.selectors import parameter_cache_clear
from registry import roles
from registry.exceptions import PermissionDeniedError
from registry.models import Office, User
from registry.tests.factories import EnrollmentFactory, PersonFactory, UserFactory, township_of

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


def paid(bill):
    return sum((a.amount for a in PaymentAllocation.objects.filter(bill=bill)), Y(0))


def pay(setup, amount, on, ref):
    return services.payment_record(
        agency_reference=ref, amount=amount, paid_on=on, employer=setup["employer"], acting_user=setup["clerk"]
    )[0]


def test_due_date_on_a_sunday_before_spring_festival_moves_to_the_first_working_day():
    # Day 15 of February 2026 is a Sunday; 15–23 February are the Spring Festival holiday (国务院办公厅 2026 年
    # 部分节假日安排): the January bill falls due on Tuesday 24 February (民法典第二百零三条).
    assert bill_due_date(period=202601) == D(2026, 2, 24)
    assert bill_due_date(period=202602) == D(2026, 3, 16)  # 15 March 2026 is a Sunday too
    assert bill_due_date(period=202603) == D(2026, 4, 15)  # a Wednesday: unchanged


def test_moved_due_date_is_documented_on_the_bill(three_bills):  # noqa: F811
    jan, _feb, mar = three_bills["bills"]
    assert "顺延至 2025-02-17" in due_date_note(jan) and "民法典第二百零三条" in due_date_note(jan)
    assert due_date_note(mar) == ""  # 15 April 2025 is a Tuesday


def test_arrears_for_a_corrected_declaration_late_fee_runs_from_the_original_due_date(three_bills):  # noqa: F811
    jan = three_bills["bills"][0]
    person = jan.lines.first().person
    pay(three_bills, "1620.00", D(2025, 2, 10), "TAX-ON-TIME")  # January paid on time: no late fee
    assert not Bill.objects.filter(kind=BillKind.LATE_FEE).exists()
    arrears = services.declaration_correct_after_billing(
        employer=three_bills["employer"],
        period=202501,
        person=person,
        base="6000",
        reason="工资申报更正",
        acting_user=three_bills["clerk"],
    )
    # 1000 more base × 32.4 % (the January rates) = 324.00, its own due date in the future, but the late fee
    # from the original due date 2025-02-17 (社会保险法第八十六条: from the day the arrears began).
    assert arrears.total == Y("324.00") and arrears.late_fee_since == D(2025, 2, 17)
    assert arrears.due_date > D(2026, 1, 1)
    fee = services.late_fee(bill=arrears, on=D(2025, 3, 3))  # 18 Feb – 3 Mar: 14 days × 324 × 0.05% = 2.268
    assert (fee.days, fee.amount) == (14, Y("2.27"))
    # Paid on 10 April 2025: 52 days × 324 × 0.05% = 8.424 → a late-fee bill of 8.42, split over the insurances.
    pay(three_bills, "324.00", D(2025, 4, 10), "TAX-ARREARS")
    late = Bill.objects.get(kind=BillKind.LATE_FEE, fee_for=arrears)
    assert late.total == Y("8.42") and sum(t.amount for t in late.totals.all()) == Y("8.42")
    assert late.details["late_fee"]["days"] == 52 and late.details["late_fee"]["since"] == "2025-02-17"
    assert services.late_fee(bill=late, on=D(2025, 12, 31)).amount == 0  # no fee on a fee


def test_an_agency_correction_bears_no_late_fee_before_its_own_due_date(three_bills):  # noqa: F811
    jan = three_bills["bills"][0]
    line = jan.lines.first()
    arrears = services.bill_adjustment_create(
        corrects=jan,
        lines=[services.AdjustmentLine(line.person, "emp_pension", line.base, line.employer_rate, Y(0), Y("10"), Y(0))],
        reason="参数更正",
        acting_user=three_bills["clerk"],
    )
    assert arrears.late_fee_since is None and arrears.late_fee_start == arrears.due_date
    assert services.late_fee(bill=arrears, on=D(2025, 4, 10)).amount == 0


def test_payments_go_to_contributions_first_then_late_fee_bills(three_bills):  # noqa: F811
    jan, feb, mar = three_bills["bills"]
    pay(three_bills, "1620.00", D(2025, 4, 10), "TAX-JAN")  # January late: a late-fee bill of 42.12
    late = Bill.objects.get(kind=BillKind.LATE_FEE, fee_for=jan)
    assert late.total == Y("42.12") and paid(late) == 0
    # 100.00 now goes to February (the older late-fee bill waits behind every contribution).
    pay(three_bills, "100.00", D(2025, 4, 11), "TAX-PART")
    assert paid(feb) == Y("100.00") and paid(late) == 0
    # Enough for February and March: then the late-fee bills (January's first, then those just issued).
    pay(three_bills, "3300.00", D(2025, 4, 20), "TAX-REST")
    assert (paid(feb), paid(mar), paid(late)) == (Y("1620.00"), Y("1720.00"), Y("42.12"))
    order = list(
        PaymentAllocation.objects.filter(payment__agency_reference="TAX-REST", bill__isnull=False)
        .order_by("pk")
        .values_list("bill__kind", flat=True)
    )
    first_fee = order.index("late_fee")
    assert set(order[:first_fee]) == {"regular"} and set(order[first_fee:]) == {"late_fee"}
    # The late-fee bills are in the arrears list until paid (due the day they are issued).
    assert Bill.objects.filter(kind=BillKind.LATE_FEE).count() == 3


def test_late_fee_waiver_needs_a_second_person(three_bills):  # noqa: F811
    feb = three_bills["bills"][1]
    proposer = three_bills["clerk"]
    checker = UserFactory(username="hy_checker", office=Office.objects.get(code="331003"))
    # By 1 April 2025: 18 Mar – 1 Apr, 15 days × 1620 × 0.05% = 12.15 accrued; 20.00 is more than that.
    with pytest.raises(ValidationError) as caught:
        services.late_fee_waiver_propose(
            bill=feb, amount="20", reason="疫情困难", acting_user=proposer, on=D(2025, 4, 1)
        )
    assert "超过可减免的滞纳金 12.15" in caught.value.message_dict["amount"][0]
    with pytest.raises(ValidationError) as caught:
        services.late_fee_waiver_propose(bill=feb, amount="5", reason="  ", acting_user=proposer, on=D(2025, 4, 1))
    assert "reason" in caught.value.message_dict
    waiver = services.late_fee_waiver_propose(
        bill=feb, amount="5.00", reason="受灾减免", acting_user=proposer, on=D(2025, 4, 1)
    )
    with pytest.raises(PermissionDeniedError, match="提出人不能审批"):
        services.late_fee_waiver_decide(waiver=waiver, approve=True, note="", acting_user=proposer)
    waiver.refresh_from_db()
    assert waiver.status == DecisionStatus.PROPOSED and waiver.decided_by is None  # nothing written
    services.late_fee_waiver_decide(waiver=waiver, approve=True, note="同意", acting_user=checker)
    assert LateFeeWaiver.objects.get(pk=waiver.pk).status == DecisionStatus.APPROVED
    # February paid in full on 10 April: January first (1620), then February: 24 days × 0.81 = 19.44 − 5.00 waived.
    pay(three_bills, "3240.00", D(2025, 4, 10), "TAX-W")
    late = Bill.objects.get(kind=BillKind.LATE_FEE, fee_for=feb)
    assert late.total == Y("14.44") and late.details["late_fee"]["waived"] == "5.00"
    with pytest.raises(ValidationError):  # once billed, the late fee can no longer be waived
        services.late_fee_waiver_propose(bill=feb, amount="1", reason="再减", acting_user=proposer, on=D(2025, 4, 1))


def test_orders_to_pay_in_bulk_then_a_penalty_of_one_to_three_times(three_bills):  # noqa: F811
    employer, proposer = three_bills["employer"], three_bills["clerk"]
    checker = UserFactory(username="hy_checker2", office=Office.objects.get(code="331003"))
    huangyan = Office.objects.get(code="331003")
    pay(three_bills, "1620.00", D(2025, 4, 10), "TAX-P1")  # January settled (its late-fee bill is not ordered)
    orders = services.payment_orders_issue(office=huangyan, acting_user=proposer, on=D(2025, 5, 6))
    assert len(orders) == 1
    order = orders[0]
    # February 1620 + March 1720 unpaid; 10 days after 6 May 2025 is Friday 16 May (a working day).
    assert order.amount == Y("3340.00") and order.pay_by == D(2025, 5, 16) and order.employer == employer
    assert order.number.startswith("台社责缴〔2025〕331003-")
    assert services.payment_orders_issue(office=huangyan, acting_user=proposer, on=D(2025, 5, 7)) == []  # pending
    with pytest.raises(ValidationError, match="期限届满后"):
        services.penalty_propose(order=order, multiple="2", reason="逾期未缴", acting_user=proposer, on=D(2025, 5, 16))
    pay(three_bills, "340.00", D(2025, 5, 17), "TAX-P2")  # part paid after the limit: 3000.00 unpaid
    for bad in ("3.5", "0.5", "abc"):
        with pytest.raises(ValidationError) as caught:
            services.penalty_propose(order=order, multiple=bad, reason="逾期", acting_user=proposer, on=D(2025, 5, 20))
        assert "multiple" in caught.value.message_dict
    assert not PenaltyDecision.objects.exists()  # nothing written
    penalty = services.penalty_propose(
        order=order, multiple="2", reason="逾期仍不缴纳", acting_user=proposer, on=D(2025, 5, 20)
    )
    assert (penalty.unpaid, penalty.amount, penalty.status) == (Y("3000.00"), Y("6000.00"), DecisionStatus.PROPOSED)
    with pytest.raises(PermissionDeniedError):
        services.penalty_decide(penalty=penalty, approve=True, note="", acting_user=proposer)
    assert PenaltyDecision.objects.get(pk=penalty.pk).status == DecisionStatus.PROPOSED
    services.penalty_decide(penalty=penalty, approve=True, note="同意", acting_user=checker)
    penalty.refresh_from_db()
    assert penalty.status == DecisionStatus.APPROVED and penalty.decided_by == checker
    with pytest.raises(ValidationError, match="已有罚款决定"):
        services.penalty_propose(order=order, multiple="1", reason="再罚", acting_user=proposer, on=D(2025, 5, 21))


# --- resident medical waiting period (国办发〔2024〕38号) ------------------------------------------


def _resident(start, end=None, **kw):
    person = kw.pop("person", None) or PersonFactory(residence_office=township_of("331003"))
    return EnrollmentFactory(
        person=person, insurance_type="res_medical", employer=None, start_date=start, end_date=end, **kw
    )


def test_waiting_period_none_in_the_concentrated_enrollment():
    waiting = selectors.resident_medical_waiting(_resident(D(2025, 1, 1)))
    assert (waiting.months, waiting.benefits_from) == (0, D(2025, 1, 1))


def test_waiting_period_three_months_outside_the_concentrated_enrollment():
    waiting = selectors.resident_medical_waiting(_resident(D(2025, 3, 10)))
    assert (waiting.months, waiting.gap_years, waiting.benefits_from) == (3, 0, D(2025, 6, 10))


def test_waiting_period_plus_a_month_per_year_of_broken_cover():
    first = _resident(D(2020, 1, 1), D(2022, 12, 31))
    # 1 Jan 2023 – 31 Dec 2024 without cover: 731 days, two full years → 3 + 2 = 5 months.
    waiting = selectors.resident_medical_waiting(_resident(D(2025, 1, 1), person=first.person))
    assert (waiting.months, waiting.gap_years, waiting.benefits_from) == (5, 2, D(2025, 6, 1))


def test_no_waiting_period_before_the_rule_is_in_force():
    waiting = selectors.resident_medical_waiting(_resident(D(2024, 5, 1)))
    assert (waiting.months, waiting.benefits_from) == (0, D(2024, 5, 1))


# --- a rate back-dated into billed months -------------------------------------------------------


def test_a_back_dated_rate_produces_arrears_bills_after_confirmation(three_bills):  # noqa: F811
    jan, feb, mar = three_bills["bills"]
    admin = User.objects.get(username="policy_root")  # made by set_huangyan_2025
    old = ParameterValue.objects.get(parameter__code="rate.unemployment.employer", district__code="331003")
    # The administrator learns late that the employer's unemployment rate was 0.8 % from February 2025: the 2025
    # value ends on 1 February and a new one starts there, entered after the bills (the service refuses nothing).
    ParameterValue.objects.filter(pk=old.pk).update(valid_to=D(2025, 2, 1))
    new = policy_services.parameter_value_create(
        acting_user=admin,
        parameter="rate.unemployment.employer",
        value="0.008",
        valid_from=D(2025, 2, 1),
        valid_to=D(2026, 1, 1),
        document=old.document,
        district=old.district,
    )
    parameter_cache_clear()
    assert new in list(backdated_rate_values(user=three_bills["clerk"]))
    preview = backdated_corrections_preview(value=new, user=three_bills["clerk"])
    # 5000 × (0.8 % − 0.5 %) = 15.00 more for February and March; January is not affected.
    assert [(c.bill.pk, c.total) for c in preview] == [(feb.pk, Y("15.00")), (mar.pk, Y("15.00"))]
    assert not Bill.objects.filter(kind=BillKind.ARREARS).exists()  # the preview writes nothing
    # The page: the value is listed, its preview shown; without the confirmation box nothing is written.
    page = Client()
    page.force_login(
        UserFactory(username="hy_bd_reviewer", office=Office.objects.get(code="331003"), roles=[roles.REVIEWER])
    )
    assert "rate.unemployment.employer" in page.get(reverse("contributions_backdated_rates")).content.decode()
    url = reverse("contributions_backdated_rate", kwargs={"pk": new.pk})
    assert "15.00" in page.get(url).content.decode()
    assert page.post(url, {}).status_code == 400 and not Bill.objects.filter(kind=BillKind.ARREARS).exists()
    assert page.post(url, {"confirm": "on"}).status_code == 302
    made = list(Bill.objects.filter(kind=BillKind.ARREARS))
    assert sorted((b.corrects_id, b.total, b.kind) for b in made) == [
        (feb.pk, Y("15.00"), BillKind.ARREARS),
        (mar.pk, Y("15.00"), BillKind.ARREARS),
    ]
    assert all(b.late_fee_since is None for b in made)  # the agency's correction: no fee before its own due date
    assert backdated_corrections_apply(value=new, acting_user=three_bills["clerk"]) == []  # nothing twice
    assert jan.adjustments.count() == 0
