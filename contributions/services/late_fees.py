"""滞纳金 billed and collected, and its waivers (减免).

Rules:

* 社会保险法第八十六条: an employer that does not pay in full and on time pays 万分之五 a day of the arrears from the
  day the arrears began (the computation is ``selectors.late_fees_for``).
* When an overdue bill is paid in full, the late fee accrued to the payment day becomes a late-fee bill
  (``BillKind.LATE_FEE``, immutable like every bill; one per bill, ``Bill.fee_for``), issued in the month of
  the payment, split over the insurances of the bill in proportion to their amounts (滞纳金并入社会保险基金,
  社会保险法第八十六条 with 社会保险费征缴暂行条例第十三条). It is in the arrears list, the employer's statement and
  the agency's bill file of that month like any bill, and bears no late fee itself.
* Payments go to contributions first (oldest first) and to late-fee bills after them
  (``payments.open_items_for_payer`` and the payment file's ``OPEN_ITEMS``).
* A waiver is a decision with a reason, proposed by one person and approved by another (the proposer may not
  approve it); an approved waiver is deducted when the late-fee bill is issued, so it must be decided before
  the overdue bill is paid in full (afterwards the late-fee bill stands and the waiver is refused).
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import (
    NO_LATE_FEE_KINDS,
    Bill,
    BillKind,
    BillTotal,
    DecisionStatus,
    LateFeeWaiver,
    PaymentAllocation,
)
from contributions.periods import period_of
from contributions.selectors import late_fees_for
from registry.audit import audited_save, recorded_user
from registry.exceptions import PermissionDeniedError
from registry.jurisdiction import office_in_jurisdiction

CENT = Decimal("0.01")
_NO_FEE_KINDS = NO_LATE_FEE_KINDS


def _split(amount: Decimal, weights: list[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    """``amount`` over the insurances in proportion to their weights, to the fen; the rounding rest goes to the
    largest share so the parts add up exactly."""
    total = sum((w for _ins, w in weights), Decimal(0))
    if total <= 0:
        return []
    parts = [(ins, (amount * w / total).quantize(CENT, rounding=ROUND_HALF_UP)) for ins, w in weights]
    rest = amount - sum((p for _ins, p in parts), Decimal(0))
    if rest:
        largest = max(range(len(parts)), key=lambda i: parts[i][1])
        parts[largest] = (parts[largest][0], parts[largest][1] + rest)
    return [(ins, p) for ins, p in parts if p != 0]


def waived_amount(bill: Bill) -> Decimal:
    """The approved waivers of ``bill``'s late fee, in fen (quantized: SQLite's sum drops the scale, "5" for 5.00)."""
    return (
        LateFeeWaiver.objects.filter(bill=bill, status=DecisionStatus.APPROVED)
        .aggregate(s=Coalesce(Sum("amount"), Decimal(0)))["s"]
        .quantize(Decimal("0.01"))
    )


def late_fee_bill_issue(*, bill: Bill, acting_user: Any = None) -> Bill | None:
    """The late-fee bill of ``bill`` if it is paid in full after its due date and has none yet (else None).

    The fee is that accrued to the day of the last payment, less approved waivers. Caller's transaction."""
    if bill.kind in _NO_FEE_KINDS or bill.issued_at is None or Bill.objects.filter(fee_for=bill).exists():
        return None
    paid = PaymentAllocation.objects.filter(bill=bill).aggregate(
        s=Coalesce(Sum("amount"), Decimal(0)), last=Max("payment__paid_on")
    )
    if paid["last"] is None or paid["s"] < bill.total or paid["last"] <= bill.late_fee_start:
        return None
    fee = late_fees_for([bill], on=paid["last"])[bill.pk]
    waived = waived_amount(bill)
    amount = fee.amount - waived
    if amount <= 0:
        return None
    weights = list(BillTotal.objects.filter(bill=bill, amount__gt=0).values_list("insurance_type", "amount"))
    today = timezone.localdate()
    late = Bill(
        kind=BillKind.LATE_FEE,
        period=period_of(today),
        employer_id=bill.employer_id,
        person_id=bill.person_id,
        office_id=bill.office_id,
        fee_for=bill,
        reason=(
            _("%(period)s 账单逾期缴纳滞纳金：%(days)s 天 × 日 %(rate)s，截至 %(paid)s")
            % {"period": bill.period, "days": fee.days, "rate": fee.daily_rate.normalize(), "paid": paid["last"]}
        )[:200],
        total_employer=amount,
        total_individual=Decimal(0),
        total=amount,
        details={
            "late_fee": {
                "bill": str(bill.uid),
                "since": str(bill.late_fee_start),
                "paid_in_full_on": str(paid["last"]),
                "days": fee.days,
                "daily_rate": str(fee.daily_rate),
                "accrued": str(fee.amount),
                "waived": str(waived),
                "basis": "社会保险法第八十六条",
            }
        },
        due_date=today,
        issued_at=timezone.now(),
        issued_by=recorded_user(acting_user),
    )
    late.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            late.save()
    except IntegrityError:  # a concurrent payment issued it first (one late-fee bill per bill)
        return None
    BillTotal.objects.bulk_create(
        BillTotal(bill=late, insurance_type=ins, employer_amount=part, individual_amount=Decimal(0), amount=part)
        for ins, part in _split(amount, weights)
    )
    return late


def late_fee_bills_issue(*, bill_ids: list[int], acting_user: Any = None) -> list[Bill]:
    """Late-fee bills for those of ``bill_ids`` that are now paid in full after their due date."""
    out = []
    for bill in Bill.objects.filter(pk__in=bill_ids).exclude(kind__in=_NO_FEE_KINDS).order_by("pk"):
        late = late_fee_bill_issue(bill=bill, acting_user=acting_user)
        if late is not None:
            out.append(late)
    return out


def late_fee_bills_due(*, payer_filter: Q | None = None) -> list[int]:
    """Bills paid in full after their late-fee start without a late-fee bill yet (one aggregate query)."""
    qs = Bill.objects.filter(issued_at__isnull=False).exclude(kind__in=_NO_FEE_KINDS)
    if payer_filter is not None:
        qs = qs.filter(payer_filter)
    return list(
        qs.filter(~Exists(Bill.objects.filter(fee_for=OuterRef("pk"))))
        .annotate(paid=Sum("allocations__amount"), last=Max("allocations__payment__paid_on"))
        .filter(paid__gte=F("total"), last__gt=Coalesce("late_fee_since", "due_date"))
        .values_list("pk", flat=True)
    )


# ---------------------------------------------------------------------------------------------
# Waivers (减免): one person proposes with a reason, another approves.


@transaction.atomic
def late_fee_waiver_propose(
    *, bill: Bill, amount: Any, reason: str, acting_user: Any, on: datetime.date | None = None
) -> LateFeeWaiver:
    """Propose waiving ``amount`` of the late fee of the overdue ``bill`` (at most what has accrued by today)."""
    if not office_in_jurisdiction(acting_user, bill.office):
        raise Bill.DoesNotExist
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("减免必须填写理由。")
    if bill.kind in _NO_FEE_KINDS:
        errors["bill"] = _("退费账单和滞纳金账单本身不计滞纳金，无可减免。")
    elif Bill.objects.filter(fee_for=bill).exists():
        errors["bill"] = _("该账单的滞纳金账单已出账，不能再减免。")
    try:
        value = Decimal(str(amount)).quantize(CENT) if amount not in (None, "") else None
    except (InvalidOperation, ValueError, TypeError):
        value = None
    accrued = late_fees_for([bill], on=on or timezone.localdate())[bill.pk].amount
    already = (
        LateFeeWaiver.objects.filter(bill=bill)
        .exclude(status=DecisionStatus.REJECTED)
        .aggregate(s=Coalesce(Sum("amount"), Decimal(0)))["s"]
    )
    if value is None or not value.is_finite() or value <= 0:
        errors["amount"] = _("减免金额必须是大于 0 的金额。")
    elif value > accrued - already:
        errors["amount"] = _("减免金额 %(v)s 超过可减免的滞纳金 %(a)s（已产生 %(f)s，已申请减免 %(w)s）。") % {
            "v": value,
            "a": max(accrued - already, Decimal(0)),
            "f": accrued,
            "w": already,
        }
    if errors:
        raise ValidationError(errors)
    waiver = LateFeeWaiver(bill=bill, amount=value, reason=reason[:500], proposed_by=recorded_user(acting_user))
    audited_save(waiver, acting_user=acting_user, reason=_("提出滞纳金减免"))
    return waiver


@transaction.atomic
def late_fee_waiver_decide(*, waiver: LateFeeWaiver, approve: bool, note: str, acting_user: Any) -> LateFeeWaiver:
    """Approve or reject a proposed waiver; the proposer may not decide his own proposal (maker-checker)."""
    waiver = LateFeeWaiver.objects.select_for_update().select_related("bill__office").get(pk=waiver.pk)
    if not office_in_jurisdiction(acting_user, waiver.bill.office):
        raise LateFeeWaiver.DoesNotExist
    if waiver.proposed_by_id == getattr(acting_user, "pk", None):
        raise PermissionDeniedError(_("提出人不能审批自己提出的减免，须由另一名经办人审批。"))
    if waiver.status != DecisionStatus.PROPOSED:
        raise ValidationError({"status": _("该减免已审批（%(s)s）。") % {"s": waiver.get_status_display()}})
    if approve and Bill.objects.filter(fee_for=waiver.bill_id).exists():
        raise ValidationError({"status": _("该账单的滞纳金账单已出账，不能再减免。")})
    waiver.status = DecisionStatus.APPROVED if approve else DecisionStatus.REJECTED
    waiver.decided_by = recorded_user(acting_user)
    waiver.decided_at = timezone.now()
    waiver.decision_note = (note or "").strip()[:500]
    audited_save(waiver, acting_user=acting_user, reason=_("审批滞纳金减免"))
    return waiver
