"""Suspensions and resumptions of benefit payment, deaths, and the recovery of what was paid after.

Rules: a pension or allowance is paid up to the month of the recipient's death and stops from the next month
(社会保险法第十七条 pays survivors' benefits from the death; 国发〔1978〕104号 and local practice: 死亡次月起停发);
money paid for later months is an overpayment to recover (社会保险法第八十八条: 以欺诈、伪造证明材料或者其他手段
骗取社会保险待遇的 … 责令退回; 社会保险基金监督举报 practice for late-reported deaths: 追回多发待遇). A
suspension for loss of qualification (e.g. 服刑期间) stops payment from its month and is not paid in arrears when
lifted; one for missing certification is (payroll.services.certification).
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

from cases.models import BenefitAward, BenefitPayment
from contributions.periods import period_add, period_of
from registry.audit import audited_save, recorded_user
from registry.jurisdiction import office_in_jurisdiction, user_office
from registry.models import Person

from ..models import (
    LineKind,
    LineStatus,
    PayrollArrears,
    PayrollLine,
    Recovery,
    Suspension,
    SuspensionReason,
)

# Lines whose money reached (or is on its way to) the person.
_MONEY_OUT = (LineStatus.ISSUED, LineStatus.PAID)


def _paid_from(award: BenefitAward, period: int) -> dict[int, Decimal]:
    """What was paid for each month from ``period`` on (month → amount): the month's part and the arrears of the
    lines whose money went out (a failed line counts once re-issued and its re-issue sent)."""
    money_lines = PayrollLine.objects.filter(award=award, kind=LineKind.REGULAR).filter(
        Q(status__in=_MONEY_OUT) | Q(status=LineStatus.REISSUED, reissue__status__in=_MONEY_OUT)
    )
    paid: dict[int, Decimal] = {}
    parts = [
        money_lines.filter(period__gte=period).values("period").annotate(total=Sum("regular_amount")),
        PayrollArrears.objects.filter(line__in=money_lines, period__gte=period)
        .values("period")
        .annotate(total=Sum("amount")),
        BenefitPayment.objects.filter(award=award, period__gte=period).values("period").annotate(total=Sum("amount")),
    ]
    for rows in parts:
        for row in rows:
            paid[row["period"]] = paid.get(row["period"], Decimal(0)) + row["total"]
    return {k: v for k, v in sorted(paid.items()) if v}


def _check(award: BenefitAward, acting_user: Any) -> None:
    if not office_in_jurisdiction(acting_user, award.case.intake_office):
        raise BenefitAward.DoesNotExist


@transaction.atomic
def suspension_record(
    *,
    award: BenefitAward,
    reason: str,
    from_month: datetime.date,
    acting_user: Any,
    event_date: datetime.date | None = None,
    note: str = "",
    source: str = "counter",
) -> Suspension:
    """Stop paying ``award`` from ``from_month``; for a death, what was paid for that month and later becomes a
    ``Recovery``. Refused while the award is already suspended."""
    _check(award, acting_user)
    if reason not in SuspensionReason.values:
        raise ValidationError({"reason": [_("未知的停发原因。")]})
    if not isinstance(from_month, datetime.date):
        raise ValidationError({"from_month": [_("请填写停发起始月。")]})
    from_month = from_month.replace(day=1)
    if from_month < award.start_month:
        from_month = award.start_month
    suspension = Suspension(
        award=award,
        reason=reason,
        from_month=from_month,
        event_date=event_date,
        note=note,
        source=source,
        office=user_office(acting_user) or award.office,
        created_by=recorded_user(acting_user),
    )
    try:
        with transaction.atomic():
            audited_save(suspension, acting_user=acting_user, reason=note or suspension.get_reason_display())
    except (IntegrityError, ValidationError) as exc:
        if isinstance(exc, ValidationError) and "__all__" not in getattr(exc, "error_dict", {}):
            raise
        raise ValidationError({"award": [_("该待遇已处于暂停发放状态，请先恢复或查看现有停发记录。")]}) from None
    if reason in (SuspensionReason.DEATH, SuspensionReason.DISQUALIFIED):
        paid = _paid_from(award, period_of(from_month))
        if paid:
            recovery = Recovery(
                award=award,
                suspension=suspension,
                amount=sum(paid.values(), Decimal(0)),
                months=[{"period": p, "amount": str(a)} for p, a in paid.items()],
                office=suspension.office,
            )
            audited_save(recovery, acting_user=acting_user, reason=_("停发后多发待遇，应追回"))
    return suspension


@transaction.atomic
def suspension_resume(
    *, suspension: Suspension, resumed_month: datetime.date, acting_user: Any, note: str = ""
) -> Suspension:
    """Resume payment from ``resumed_month``. A death is never resumed."""
    _check(suspension.award, acting_user)
    if suspension.resumed_month is not None:
        raise ValidationError({"suspension": [_("该停发记录已恢复发放。")]})
    if suspension.reason == SuspensionReason.DEATH:
        raise ValidationError({"suspension": [_("因死亡停发的待遇不能恢复。")]})
    if not isinstance(resumed_month, datetime.date):
        raise ValidationError({"resumed_month": [_("请填写恢复发放月。")]})
    resumed_month = resumed_month.replace(day=1)
    if resumed_month < suspension.from_month:
        raise ValidationError({"resumed_month": [_("恢复发放月不能早于停发起始月。")]})
    suspension.resumed_month = resumed_month
    suspension.resumed_at = timezone.now()
    suspension.resumed_by = recorded_user(acting_user)
    if note:
        suspension.note = f"{suspension.note}；{note}" if suspension.note else note
    audited_save(suspension, acting_user=acting_user, reason=note or _("恢复发放"))
    return suspension


@transaction.atomic
def person_death_record(
    *, person: Person, died_on: datetime.date, acting_user: Any, source: str = "counter"
) -> list[Suspension]:
    """A recipient died: every award of his still paying stops from the month after the death (an award already
    suspended for another reason is stopped for good from the same month); overpayments become recoveries."""
    if not isinstance(died_on, datetime.date) or died_on > timezone.localdate():
        raise ValidationError({"died_on": [_("死亡日期不能晚于今天。")]})
    awards = list(BenefitAward.objects.filter(person=person).select_related("case__intake_office"))
    if not awards:
        raise ValidationError({"person": [_("该人员没有社会保险待遇，无需登记停发。")]})
    nxt = period_add(period_of(died_on), 1)
    from_month = datetime.date(nxt // 100, nxt % 100, 1)
    done = []
    for award in awards:
        _check(award, acting_user)
        if Suspension.objects.filter(award=award, reason=SuspensionReason.DEATH).exists():
            continue
        if award.months is not None and from_month >= _term_end(award):
            continue
        for open_one in Suspension.objects.filter(award=award, resumed_month__isnull=True):
            open_one.resumed_month = max(from_month, open_one.from_month)
            open_one.resumed_at = timezone.now()
            audited_save(open_one, acting_user=acting_user, reason=_("人员死亡，改为死亡停发"))
        done.append(
            suspension_record(
                award=award,
                reason=SuspensionReason.DEATH,
                from_month=from_month,
                event_date=died_on,
                acting_user=acting_user,
                source=source,
                note=_("死亡日期 %(d)s") % {"d": died_on},
            )
        )
    if not done:
        raise ValidationError({"person": [_("该人员的待遇均已终止或已登记死亡，未作变更。")]})
    _unpaid_lines_cancel(awards=[x.award_id for x in done], from_period=nxt)
    return done


def _unpaid_lines_cancel(*, awards: list[int], from_period: int) -> int:
    """Cancel, in one UPDATE, the lines of months after the death whose money never went out (held for want of
    an account, or failed at the bank and not re-issued): nothing is due for them (死亡次月起停发, see the module's
    docstring), and a corrected account must not send them. Lines of the death month and before stay: the money
    was due (to the heirs)."""
    return PayrollLine.objects.filter(
        award_id__in=awards,
        kind__in=[LineKind.REGULAR, LineKind.REISSUE],
        period__gte=from_period,
        status__in=[LineStatus.HELD, LineStatus.FAILED],
    ).update(status=LineStatus.CANCELLED, failure_reason=_("人员死亡，取消发放"))


def _term_end(award: BenefitAward) -> datetime.date:
    end = period_add(period_of(award.start_month), award.months or 0)
    return datetime.date(end // 100, end % 100, 1)
