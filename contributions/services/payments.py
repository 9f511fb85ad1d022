"""到账 and 分配: payments reported by the collecting agency and where the money goes.

Allocation order (documented): the payer's open contribution bills oldest first (by period, then issue
time), and within a bill by insurance in ``INSURANCE_ORDER`` (pension, medical, unemployment, work
injury, maternity, then the resident insurances); late-fee bills (滞纳金) only after every contribution
(contributions first: 社会保险法第八十六条 charges the fee on the unpaid contributions, so they are settled first).
A payment that settles an overdue bill in full issues its late-fee bill (``late_fees.late_fee_bill_issue``). Money left over becomes the payer's credit,
which is used by the payer's next bill (``payer_credit_apply``). Refund bills are never allocated.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import (
    INSURANCE_ORDER,
    BillKind,
    BillTotal,
    Channel,
    PayerType,
    Payment,
    PaymentAllocation,
    PaymentFileLine,
)
from contributions.services.declarations import MAX_AMOUNT
from contributions.services.late_fees import late_fee_bills_due, late_fee_bills_issue
from registry.audit import recorded_user
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Employer, Person


def _payer_filter(payment: Payment) -> Q:
    return Q(employer_id=payment.employer_id) if payment.employer_id else Q(person_id=payment.person_id)


def open_items_for_payer(
    *, employer: Employer | None = None, person: Person | None = None
) -> list[tuple[BillTotal, Decimal]]:
    """(bill insurance total, amount still open) for the payer, in allocation order. Two queries."""
    payer = Q(bill__employer=employer) if employer else Q(bill__person=person)
    totals = list(
        BillTotal.objects.filter(payer, bill__issued_at__isnull=False, amount__gt=0)
        .exclude(bill__kind=BillKind.REFUND)
        .select_related("bill")
    )
    paid = {
        (bill_id, insurance): total
        for bill_id, insurance, total in PaymentAllocation.objects.filter(bill_id__in={t.bill_id for t in totals})
        .values("bill_id", "insurance_type")
        .annotate(s=Sum("amount"))
        .values_list("bill_id", "insurance_type", "s")
    }
    order = {ins: i for i, ins in enumerate(INSURANCE_ORDER)}
    items = [(t, t.amount - (paid.get((t.bill_id, t.insurance_type)) or Decimal(0))) for t in totals]
    items = [(t, open_) for t, open_ in items if open_ > 0]
    items.sort(
        key=lambda it: (
            it[0].bill.kind == BillKind.LATE_FEE,
            it[0].bill.period,
            it[0].bill.issued_at,
            it[0].bill_id,
            order.get(it[0].insurance_type, 99),
        )
    )
    return items


def payer_credit(*, employer: Employer | None = None, person: Person | None = None) -> Decimal:
    payer = Q(payment__employer=employer) if employer else Q(payment__person=person)
    return PaymentAllocation.objects.filter(payer, bill__isnull=True).aggregate(s=Sum("amount"))["s"] or Decimal(0)


def _allocate(payment: Payment, amount: Decimal, acting_user: Any, *, from_credit: bool) -> Decimal:
    """Allocate ``amount`` of ``payment`` to open items; returns what is left.

    A bill the payment settles late issues its late-fee bill, which the rest of the payment then pays."""
    left = amount
    used = Decimal(0)
    while left > 0:
        rows = []
        for total, open_amount in open_items_for_payer(employer=payment.employer, person=payment.person):
            if left <= 0:
                break
            take = min(left, open_amount)
            rows.append(
                PaymentAllocation(
                    payment=payment,
                    bill_id=total.bill_id,
                    insurance_type=total.insurance_type,
                    amount=take,
                    created_by=recorded_user(acting_user),
                    note=_("使用结余") if from_credit else "",
                )
            )
            left -= take
        if not rows:
            break
        PaymentAllocation.objects.bulk_create(rows)
        used += sum((r.amount for r in rows), Decimal(0))
        if not late_fee_bills_issue(bill_ids=sorted({r.bill_id for r in rows}), acting_user=acting_user):
            break
    if from_credit and used:
        PaymentAllocation.objects.create(
            payment=payment,
            bill=None,
            insurance_type="",
            amount=-used,
            note=_("结余抵缴"),
            created_by=recorded_user(acting_user),
        )
    return left


@transaction.atomic
def payment_record(
    *,
    agency_reference: str,
    amount: Any,
    paid_on: datetime.date,
    acting_user: Any,
    employer: Employer | None = None,
    person: Person | None = None,
    channel: str = Channel.API,
) -> tuple[Payment, bool]:
    """Record a payment once per agency reference and allocate it. Returns (payment, created).

    The same reference reported again with the same payer and amount returns the first record;
    with a different payer or amount it is refused.
    """
    reference = (agency_reference or "").strip()
    if not reference:
        raise ValidationError({"agency_reference": _("请填写征收机构流水号。")})
    if (employer is None) == (person is None):
        raise ValidationError({"payer": _("缴费方必须是一个单位或一个个人。")})
    amount = _payment_amount(amount, paid_on)
    office = employer.office if employer else person.residence_office
    if not office_in_jurisdiction(acting_user, office):
        raise ValidationError({"payer": _("缴费方不在您的辖区内。")})
    existing = Payment.objects.filter(agency_reference=reference).first()
    if existing is not None:
        return _same_or_refuse(existing, amount=amount, employer=employer, person=person), False
    payment = Payment(
        agency_reference=reference,
        payer_type=PayerType.EMPLOYER if employer else PayerType.PERSON,
        employer=employer,
        person=person,
        office=office,
        amount=amount,
        paid_on=paid_on,
        channel=channel,
        recorded_by=recorded_user(acting_user),
    )
    payment.full_clean(validate_unique=False)
    # The payer before the reference, as the payment-file import (``lock_payers``, then its payments): the other
    # order deadlocked against a file line of the same reference (each held what the other waited for): a 500.
    _lock_payer(payment)
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError:
        # A concurrent report of the same reference won the race: answer as for a repeat.
        existing = Payment.objects.get(agency_reference=reference)
        return _same_or_refuse(existing, amount=amount, employer=employer, person=person), False
    left = _allocate(payment, amount, acting_user, from_credit=False)
    if left > 0:
        PaymentAllocation.objects.create(
            payment=payment,
            bill=None,
            insurance_type="",
            amount=left,
            note=_("多缴转结余"),
            created_by=recorded_user(acting_user),
        )
    return payment, True


def _payment_amount(amount: Any, paid_on: datetime.date) -> Decimal:
    """The amount as a Decimal of at most two places, over 0 and within MAX_AMOUNT, paid on a day not to come."""
    try:
        amount = Decimal(str(amount))
    except Exception:
        raise ValidationError({"amount": _("金额“%(value)s”不是数字。") % {"value": amount}}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({"amount": _("到账金额必须大于 0。")})
    if amount > MAX_AMOUNT:
        raise ValidationError({"amount": _("到账金额过大（最多 %(max)s）。") % {"max": MAX_AMOUNT}})
    if paid_on > timezone.localdate():
        raise ValidationError({"paid_on": _("到账日期 %(day)s 晚于今天。") % {"day": paid_on}})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({"amount": _("金额最多两位小数（分）。")})
    return amount


def _same_or_refuse(existing: Payment, *, amount: Decimal, employer: Employer | None, person: Person | None) -> Payment:
    if (
        existing.amount != amount
        or existing.employer_id != getattr(employer, "pk", None)
        or existing.person_id != getattr(person, "pk", None)
    ):
        raise ValidationError(
            {
                "agency_reference": _("流水号 %(ref)s 已登记为另一笔到账（金额 %(amount)s），与本次不一致，请核实。")
                % {"ref": existing.agency_reference, "amount": existing.amount}
            }
        )
    return existing


def _lock_payer(payment: Payment) -> None:
    # Serialise allocations per payer so two payments of one employer never take the same open amount.
    if payment.employer_id:
        Employer.objects.select_for_update().filter(pk=payment.employer_id).first()
    else:
        Person.objects.select_for_update().filter(pk=payment.person_id).first()


@transaction.atomic
def payer_credit_apply(*, acting_user: Any, employer: Employer | None = None, person: Person | None = None) -> Decimal:
    """Use the payer's credit (overpayments) for his open bills, oldest first. Returns the amount used."""
    anchor = (
        Payment.objects.filter(Q(employer=employer) if employer else Q(person=person))
        .filter(allocations__bill__isnull=True)
        .order_by("paid_on", "pk")
        .first()
    )
    if anchor is None:
        return Decimal(0)
    _lock_payer(anchor)
    credit = payer_credit(employer=employer, person=person)
    if credit <= 0:
        return Decimal(0)
    left = _allocate(anchor, credit, acting_user, from_credit=True)
    return credit - left


@transaction.atomic
def allocation_reverse(*, allocation: PaymentAllocation, acting_user: Any, reason: str) -> PaymentAllocation:
    """Undo an allocation by a reversing record; the amount goes back to the payer's credit."""
    if not (reason or "").strip():
        raise ValidationError({"reason": _("冲销必须填写原因。")})
    if allocation.reverses_id or PaymentAllocation.objects.filter(reverses=allocation).exists():
        raise ValidationError({"allocation": _("该分配已冲销或本身是冲销记录。")})
    if allocation.bill_id is None:
        raise ValidationError({"allocation": _("结余记录不能冲销。")})
    user = recorded_user(acting_user)
    reversal = PaymentAllocation.objects.create(
        payment=allocation.payment,
        bill=allocation.bill,
        insurance_type=allocation.insurance_type,
        amount=-allocation.amount,
        reverses=allocation,
        note=reason[:200],
        created_by=user,
    )
    PaymentAllocation.objects.create(
        payment=allocation.payment,
        bill=None,
        insurance_type="",
        amount=allocation.amount,
        note=_("冲销退回结余"),
        created_by=user,
    )
    return reversal


@transaction.atomic
def late_fee_bills_sweep(*, acting_user: Any = None, payment_file_id: int | None = None) -> int:
    """Issue every late-fee bill due (bills paid in full late by a path that does not issue them itself: a payment
    file, for the payers of its lines; daily for all, for anything missed), then pay them from the payers' credit,
    as a payment by the API would have paid them from what was left of it. Idempotent (one late-fee bill per bill).
    Returns how many."""
    payer_filter = None
    if payment_file_id is not None:
        lines = PaymentFileLine.objects.filter(payment_file_id=payment_file_id)
        payer_filter = Q(employer_id__in=lines.filter(employer__isnull=False).values("employer_id")) | Q(
            person_id__in=lines.filter(person__isnull=False).values("person_id")
        )
    issued = late_fee_bills_issue(bill_ids=late_fee_bills_due(payer_filter=payer_filter), acting_user=acting_user)
    for employer_id in sorted({b.employer_id for b in issued if b.employer_id}):
        payer_credit_apply(acting_user=acting_user, employer=Employer.objects.get(pk=employer_id))
    for person_id in sorted({b.person_id for b in issued if b.person_id}):
        payer_credit_apply(acting_user=acting_user, person=Person.objects.get(pk=person_id))
    return len(issued)
