"""Collecting what was overpaid (追回多发待遇): money received back against a ``Recovery`` is recorded with its receipt,
posted to the fund ledger as a credit of benefit expenditure, and the recovery is closed once the whole amount is
back (社会保险法第八十八条: 多发的社会保险待遇应当退回)."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from funds.models import Fund
from funds.selectors import fund_for_insurance
from funds.services import benefit_recovery_post
from funds.services.common import parse_money
from registry.audit import audited_save, recorded_user
from registry.exceptions import PermissionDeniedError
from registry.jurisdiction import office_in_jurisdiction

from ..models import Recovery, RecoveryRepayment, RecoveryStatus, RepaymentWay

SOURCE_TYPE = RecoveryRepayment._meta.label_lower  # "payroll.recoveryrepayment"


def recovery_repaid(recovery: Recovery) -> Decimal:
    """What has come back so far."""
    return recovery.repayments.aggregate(total=Sum("amount"))["total"] or Decimal(0)


@transaction.atomic
def recovery_repayment_record(
    *,
    recovery: Recovery,
    amount: Any,
    received_on: datetime.date,
    way: str,
    document_number: str,
    acting_user: Any,
    note: str = "",
) -> RecoveryRepayment:
    """Record money received back against ``recovery`` and post it to the fund of the award's insurance. Refused:
    outside the clerk's jurisdiction (as not found), a date in the future or before the recovery existed, more than
    is still owed, a recovery already closed. The same receipt number again with the same amount returns the first
    record (a double submit); with another amount it is refused."""
    if not office_in_jurisdiction(acting_user, recovery.office):
        raise Recovery.DoesNotExist
    if not acting_user.has_perm("payroll.add_recoveryrepayment"):
        raise PermissionDeniedError(_("您的角色无权登记追回到账。"))
    recovery = Recovery.objects.select_for_update().select_related("award").get(pk=recovery.pk)
    document_number = (document_number or "").strip()
    existing = recovery.repayments.filter(document_number=document_number).first() if document_number else None
    if existing is not None and _same_amount(existing.amount, amount):
        return existing  # a double submit, also of the repayment that closed the recovery
    value = _check(recovery, amount=amount, received_on=received_on, way=way, document_number=document_number)
    if existing is not None:
        raise ValidationError(
            {
                "document_number": _("回单号 %(no)s 已登记过（%(amount)s 元）。")
                % {"no": document_number, "amount": existing.amount}
            }
        )
    repayment = RecoveryRepayment(
        recovery=recovery,
        amount=value,
        received_on=received_on,
        way=way,
        document_number=document_number,
        note=(note or "").strip(),
        recorded_by=recorded_user(acting_user),
    )
    audited_save(repayment, acting_user=acting_user, reason=_("追回多发待遇到账"))
    benefit_recovery_post(
        fund=_fund(recovery),
        district=recovery.office,
        amount=value,
        source_type=SOURCE_TYPE,
        source_id=repayment.pk,
        received_on=received_on,
        acting_user=acting_user,
        description=_("追回 %(name)s 多发待遇（回单 %(no)s）")
        % {"name": recovery.award.person.name, "no": document_number},
    )
    if recovery_repaid(recovery) == recovery.amount:
        recovery.status = RecoveryStatus.RECOVERED
        audited_save(recovery, acting_user=acting_user, reason=_("多发待遇已全部追回"))
    return repayment


def _same_amount(recorded: Decimal, amount: Any) -> bool:
    try:
        return Decimal(str(amount).strip()) == recorded
    except InvalidOperation:
        return False


def _check(recovery: Recovery, *, amount: Any, received_on: Any, way: str, document_number: str) -> Decimal:
    errors: dict[str, list[str]] = {}
    today = timezone.localdate()
    if recovery.status == RecoveryStatus.RECOVERED:
        raise ValidationError({"amount": [_("该笔多发待遇已全部追回。")]})
    if not isinstance(received_on, datetime.date):
        errors["received_on"] = [_("请填写到账日期。")]
    elif received_on > today:
        errors["received_on"] = [_("到账日期不能晚于今天。")]
    elif received_on < timezone.localtime(recovery.created_at).date():
        errors["received_on"] = [_("到账日期不能早于追回记录的登记日期（%(d)s）。") % {"d": recovery.created_at.date()}]
    if way not in RepaymentWay.values:
        errors["way"] = [_("请选择退回方式。")]
    if not document_number:
        errors["document_number"] = [_("请填写银行回单号或柜面收据号。")]
    value = Decimal(0)
    try:
        value = parse_money(amount, field="amount", on=today, label=_("退回金额"))
    except ValidationError as exc:
        errors["amount"] = exc.messages
    else:
        owed = recovery.amount - recovery_repaid(recovery)
        if value <= 0:
            errors["amount"] = [_("退回金额必须大于 0。")]
        elif value > owed:
            errors["amount"] = [_("退回金额 %(v)s 元超过尚欠的 %(owed)s 元。") % {"v": value, "owed": owed}]
    if errors:
        raise ValidationError(errors)
    return value


def _fund(recovery: Recovery) -> Fund:
    try:
        return fund_for_insurance(recovery.award.insurance_type)
    except Fund.DoesNotExist:
        raise ValidationError(
            {
                "amount": [
                    _("没有“%(type)s”基金，无法记入基金。") % {"type": recovery.award.get_insurance_type_display()}
                ]
            }
        ) from None
