"""Orders to pay (责令限期缴纳) and penalty decisions (罚款) for employers' arrears.

社会保险法第八十六条: an employer that does not pay contributions in full and on time is ordered to pay within a time
limit (and charged the late fee); if it still does not pay after the limit, it is fined one to three times the
amount unpaid. 社会保险费征缴暂行条例第十三条 likewise orders payment within a time limit.

* Orders are issued in bulk for an office and everything under it: one per employer with contribution bills
  (not late-fee bills) past their due date and still open, unless it already has an order whose limit has not
  passed. The limit is ``collection.order_limit_days`` calendar days (demo value); a limit falling on a weekend
  or holiday moves to the next working day (民法典第二百零三条). Each order lists its bills and the amount unpaid
  on the day of issue; its PDF is ``contributions.pdf.payment_order_pdf``.
* A penalty is proposed after the order's limit for what of the order's bills is still unpaid, at a multiple
  within ``fine.arrears_multiple_min``–``fine.arrears_multiple_max`` (1–3, 社会保险法第八十六条), and takes effect when
  a second person approves it (the proposer may not). It is recorded against the employer and shown in its
  statement.
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import Bill, BillKind, DecisionStatus, PaymentOrder, PenaltyDecision
from contributions.selectors import bill_open_amounts, with_amounts
from policies import codes
from policies.selectors import parameter_value
from policies.workdays import WorkCalendar
from registry.audit import audited_save, recorded_user
from registry.exceptions import PermissionDeniedError
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Employer, Office

CENT = Decimal("0.01")


def order_pay_by(*, issued_on: datetime.date, office: Office, calendar: WorkCalendar | None = None) -> datetime.date:
    """``collection.order_limit_days`` after issue, moved past a weekend or holiday (民法典第二百零三条)."""
    days = int(parameter_value(codes.COLLECTION_ORDER_LIMIT_DAYS, on=issued_on, office=office).value)
    end = issued_on + datetime.timedelta(days=days)
    calendar = calendar or WorkCalendar()
    return end if calendar.is_working_day(end) else calendar.add_working_days(end, 1)


def _overdue_contribution_bills(*, office: Office, on: datetime.date):
    """Employers' contribution bills (not refunds, not late fees) due before ``on`` and still open."""
    return (
        with_amounts(
            Bill.objects.filter(
                issued_at__isnull=False, employer__isnull=False, due_date__lt=on, office__path__startswith=office.path
            ).exclude(kind__in=[BillKind.REFUND, BillKind.LATE_FEE])
        )
        .filter(open_amount__gt=0)
        .order_by("employer_id", "due_date", "id")
    )


@transaction.atomic
def payment_orders_issue(*, office: Office, acting_user: Any, on: datetime.date | None = None) -> list[PaymentOrder]:
    """责令限期缴纳通知 in bulk for ``office`` and below (see the module docstring). Returns the new orders."""
    if not office_in_jurisdiction(acting_user, office):
        raise ValidationError({"office": _("该机构不在您的辖区内。")})
    on = on or timezone.localdate()
    Office.objects.select_for_update().filter(pk=office.pk).first()  # one bulk issue per office at a time
    pay_by = order_pay_by(issued_on=on, office=office)
    pending = set(
        PaymentOrder.objects.filter(pay_by__gte=on, employer__office__path__startswith=office.path).values_list(
            "employer_id", flat=True
        )
    )
    by_employer: dict[int, list[Bill]] = {}
    for bill in _overdue_contribution_bills(office=office, on=on):
        if bill.employer_id not in pending:
            by_employer.setdefault(bill.employer_id, []).append(bill)
    prefix = f"台社责缴〔{on.year}〕{office.code}-"
    seq = PaymentOrder.objects.filter(number__startswith=prefix).count()
    employers = Employer.objects.in_bulk(list(by_employer))
    orders = []
    for employer_id, bills in by_employer.items():
        seq += 1
        order = PaymentOrder(
            number=f"{prefix}{seq:05d}",
            employer=employers[employer_id],
            office=employers[employer_id].office,
            amount=sum((b.open_amount for b in bills), Decimal(0)),
            issued_on=on,
            pay_by=pay_by,
            issued_by=recorded_user(acting_user),
        )
        order.full_clean(exclude=["bills"])
        orders.append(order)
    PaymentOrder.objects.bulk_create(orders)
    through = PaymentOrder.bills.through
    through.objects.bulk_create(
        through(paymentorder_id=order.pk, bill_id=bill.pk)
        for order in orders
        for bill in by_employer[order.employer_id]
    )
    return orders


def order_unpaid(order: PaymentOrder) -> Decimal:
    """What of the order's bills is still unpaid now."""
    amounts = bill_open_amounts(order.bills.values_list("pk", flat=True))
    return sum((max(a.open, Decimal(0)) for a in amounts.values()), Decimal(0))


def _multiple(value: Any, *, on: datetime.date, office: Office) -> Decimal:
    low = Decimal(parameter_value(codes.FINE_ARREARS_MULTIPLE_MIN, on=on, office=office).value)
    high = Decimal(parameter_value(codes.FINE_ARREARS_MULTIPLE_MAX, on=on, office=office).value)
    try:
        multiple = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({"multiple": _("罚款倍数“%(v)s”不是数字。") % {"v": value}}) from None
    if not multiple.is_finite() or not low <= multiple <= high:
        raise ValidationError(
            {
                "multiple": _("罚款倍数须在 %(low)s 至 %(high)s 倍之间（社会保险法第八十六条），收到 %(v)s。")
                % {"low": low.normalize(), "high": high.normalize(), "v": value}
            }
        )
    if multiple != multiple.quantize(CENT):
        raise ValidationError({"multiple": _("罚款倍数最多两位小数。")})
    return multiple


@transaction.atomic
def penalty_propose(
    *, order: PaymentOrder, multiple: Any, reason: str, acting_user: Any, on: datetime.date | None = None
) -> PenaltyDecision:
    """Propose a fine of ``multiple`` × what of ``order`` is still unpaid after its time limit."""
    if not office_in_jurisdiction(acting_user, order.office):
        raise PaymentOrder.DoesNotExist
    on = on or timezone.localdate()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("罚款决定必须填写理由。")})
    if on <= order.pay_by:
        raise ValidationError(
            {"order": _("责令限期缴纳的期限至 %(d)s，期限届满后方可作出罚款决定。") % {"d": order.pay_by}}
        )
    if PenaltyDecision.objects.filter(order=order).exclude(status=DecisionStatus.REJECTED).exists():
        raise ValidationError({"order": _("该通知已有罚款决定（待审批或已批准）。")})
    multiple = _multiple(multiple, on=on, office=order.office)
    unpaid = order_unpaid(order)
    if unpaid <= 0:
        raise ValidationError({"order": _("该通知所列欠费已缴清，不予罚款。")})
    penalty = PenaltyDecision(
        order=order,
        employer=order.employer,
        unpaid=unpaid,
        multiple=multiple,
        amount=(unpaid * multiple).quantize(CENT, rounding=ROUND_HALF_UP),
        reason=reason[:500],
        proposed_by=recorded_user(acting_user),
    )
    audited_save(penalty, acting_user=acting_user, reason=_("提出罚款决定"))
    return penalty


@transaction.atomic
def penalty_decide(*, penalty: PenaltyDecision, approve: bool, note: str, acting_user: Any) -> PenaltyDecision:
    """Approve or reject a proposed penalty; the proposer may not decide it (maker-checker)."""
    penalty = PenaltyDecision.objects.select_for_update().select_related("order__office").get(pk=penalty.pk)
    if not office_in_jurisdiction(acting_user, penalty.order.office):
        raise PenaltyDecision.DoesNotExist
    if penalty.proposed_by_id == getattr(acting_user, "pk", None):
        raise PermissionDeniedError(_("提出人不能审批自己提出的罚款决定，须由另一名经办人审批。"))
    if penalty.status != DecisionStatus.PROPOSED:
        raise ValidationError({"status": _("该罚款决定已审批（%(s)s）。") % {"s": penalty.get_status_display()}})
    penalty.status = DecisionStatus.APPROVED if approve else DecisionStatus.REJECTED
    penalty.decided_by = recorded_user(acting_user)
    penalty.decided_at = timezone.now()
    penalty.decision_note = (note or "").strip()[:500]
    audited_save(penalty, acting_user=acting_user, reason=_("审批罚款决定"))
    return penalty
