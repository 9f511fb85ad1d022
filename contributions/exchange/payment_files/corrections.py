"""Corrections: a kept bad line (skip-bad mode) recorded with corrected values, through ``payment_record``
(the API's path), and the file's counts and reconciliation brought up to date."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.exchange.layout import payer_type_normalize
from contributions.exchange.payment_files.reconciliation import reconcile
from contributions.models import Channel, LineStatus, Payment, PaymentFile, PaymentFileLine, PaymentFileStatus
from contributions.periods import period_parse
from contributions.services.payments import payment_record
from registry.audit import recorded_user
from registry.identifiers import credit_code_normalize, id_number_normalize
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Employer, Person


def _payer(payer_type: str, code: str) -> tuple[Employer | None, Person | None]:
    if payer_type == "employer":
        try:
            normal = credit_code_normalize(code)
        except ValidationError as exc:
            raise ValidationError({"payer_code": exc.messages}) from None
        employer = Employer.objects.select_related("office").filter(credit_code=normal).first()
        if employer is None:
            raise ValidationError(
                {"payer_code": _("统一社会信用代码 %(code)s 在参保登记中没有对应的单位。") % {"code": normal}}
            )
        return employer, None
    if payer_type == "person":
        try:
            normal = id_number_normalize(code)
        except ValidationError as exc:
            raise ValidationError({"payer_code": exc.messages}) from None
        person = Person.objects.select_related("residence_office").filter(id_number=normal).first()
        if person is None:
            raise ValidationError({"payer_code": _("该公民身份号码在参保登记中没有对应的人员。")})
        return None, person
    raise ValidationError({"payer_type": _("缴费方类型应为“单位”或“个人”。")})


@transaction.atomic
def payment_file_line_correct(
    *,
    line: PaymentFileLine,
    acting_user: Any,
    reference: str,
    payer_type: str,
    payer_code: str,
    period: Any,
    amount: Any,
    paid_on: datetime.date,
) -> Payment:
    """Record a kept bad line with corrected values, through ``payment_record`` (the API's rules: one payment
    per reference, oldest bill first, the rest to credit), and update the file's counts and reconciliation."""
    line = PaymentFileLine.objects.select_for_update().select_related("payment_file__office").get(pk=line.pk)
    payment_file = line.payment_file
    if not office_in_jurisdiction(acting_user, payment_file.office):
        raise PaymentFileLine.DoesNotExist
    if line.status != LineStatus.BAD:
        raise ValidationError({"line": _("第 %(line)s 行不是待更正的错误行。") % {"line": line.line_no}})
    period_value = period_parse(period, field="period", allow_future=True)
    employer, person = _payer(payer_type_normalize(payer_type), (payer_code or "").strip().upper())
    payment, created = payment_record(
        agency_reference=reference,
        amount=amount,
        paid_on=paid_on,
        acting_user=acting_user,
        employer=employer,
        person=person,
        channel=Channel.FILE,
    )
    old_key = None
    if line.period and (line.employer_id or line.person_id):
        old_key = (line.employer_id or -line.person_id, line.period)
    _line_mark_corrected(line, payment, employer, person, period_value, acting_user)
    _file_counts_update(payment_file, payment, created=created, period_value=period_value)
    new_key = (employer.pk if employer else -person.pk, period_value)
    keys = [new_key] + ([old_key] if old_key and old_key != new_key else [])
    reconcile(payment_file, periods=sorted({k[1] for k in keys}), keys=keys, line_ids=[line.pk])
    return payment


def _line_mark_corrected(
    line: PaymentFileLine,
    payment: Payment,
    employer: Employer | None,
    person: Person | None,
    period_value: int,
    acting_user: Any,
) -> None:
    line.reference = payment.agency_reference
    line.payer_type = payment.payer_type
    line.payer_code = employer.credit_code if employer else person.id_number
    line.employer, line.person, line.office_id = employer, person, payment.office_id
    line.period, line.amount, line.paid_on = period_value, payment.amount, payment.paid_on
    line.status = LineStatus.CORRECTED
    line.corrected_by = recorded_user(acting_user)
    line.corrected_at = timezone.now()
    line.full_clean(validate_unique=False, validate_constraints=False)
    line.save()


def _file_counts_update(payment_file: PaymentFile, payment: Payment, *, created: bool, period_value: int) -> None:
    """One bad line fewer; one payment more (or one repeat); the file imported once no bad line is open."""
    PaymentFile.objects.filter(pk=payment_file.pk).update(
        open_bad_count=F("open_bad_count") - 1,
        imported_count=F("imported_count") + (1 if created else 0),
        repeat_count=F("repeat_count") + (0 if created else 1),
        imported_amount=F("imported_amount") + (payment.amount if created else 0),
    )
    payment_file.refresh_from_db()
    if payment_file.open_bad_count == 0 and payment_file.status == PaymentFileStatus.PENDING_LINES:
        PaymentFile.objects.filter(pk=payment_file.pk).update(status=PaymentFileStatus.IMPORTED)
    periods = sorted(set(payment_file.periods) | {period_value})
    if periods != payment_file.periods:
        PaymentFile.objects.filter(pk=payment_file.pk).update(periods=periods)
