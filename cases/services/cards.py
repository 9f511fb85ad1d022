"""Social security cards (社会保障卡, reform plan 二(五)4): application, production batch, the issuer's confirmation.

- KA-001 (first card) sets the person's card status to 已申领; KA-003 (replacement) marks the old card 已补换 (its
  number stays on the person until the new one arrives). Either creates a ``CardApplication`` of the person's
  district (one open application per person, a partial unique index).
- A district clerk puts every waiting application of his district into a production batch (``card_batch_create``)
  and downloads its xlsx for the card issuer (whole ID numbers leave the system: logged as sensitive access).
- The issuer's confirmation file (``card_batch_confirm``) assigns the card numbers: all lines are checked first and
  nothing is written when one is wrong; a card made sets the person's number and status 正常, a card that failed
  sends the person back to apply again (status 未制卡 for a first card, 已补换 for a replacement).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry import services as registry_services
from registry.audit import audited_save, recorded_user
from registry.jurisdiction import office_in_jurisdiction, user_office
from registry.models import CardStatus, Office, Person, SensitiveAccess

from ..card_files import (
    CARD_NUMBER,
    RESULT_FAILED,
    RESULT_OK,
    CardFileError,
    ConfirmationLine,
    confirmation_read,
    production_xlsx,
)
from ..models import (
    CARD_OPEN_STATES,
    CardApplication,
    CardApplicationKind,
    CardApplicationState,
    CardBatch,
    CardBatchState,
    Case,
)

APPLY_FROM = {
    CardApplicationKind.NEW: (CardStatus.NONE, CardStatus.CANCELLED),
    CardApplicationKind.REPLACEMENT: (CardStatus.ACTIVE, CardStatus.LOST, CardStatus.REPLACED),
}


def district_of(office: Office) -> Office:
    code = office.district_code
    return Office.objects.get(code=code) if code else office


def card_apply_check(*, person: Person, kind: str) -> None:
    """Whether ``person`` may apply for a card of this kind (at intake and again at completion)."""
    if CardApplication.objects.filter(person=person, state__in=CARD_OPEN_STATES).exists():
        raise ValidationError({"person": [_("该人员已有制卡中的社保卡申领，请等待制卡完成。")]})
    if person.card_status not in APPLY_FROM[kind]:
        if kind == CardApplicationKind.NEW:
            message = _("该人员社保卡状态为“%(status)s”，已有社保卡的请办理补换。")
        else:
            message = _("该人员社保卡状态为“%(status)s”，没有可补换的社保卡，请办理首次申领。")
        raise ValidationError({"person": [message % {"status": person.get_card_status_display()}]})


def card_application_create(*, case: Case, kind: str, acting_user: Any) -> CardApplication:
    """The application of a completing KA-001/KA-003 case, inside its transaction."""
    person = Person.objects.select_for_update().get(pk=case.person_id)
    card_apply_check(person=person, kind=kind)
    previous = person.card_number or ""
    status = CardStatus.APPLIED if kind == CardApplicationKind.NEW else CardStatus.REPLACED
    registry_services.person_update(
        person=person,
        acting_user=acting_user,
        reason=_("社保卡%(kind)s（办件 %(number)s）")
        % {"kind": CardApplicationKind(kind).label, "number": case.number},
        card_status=status,
    )
    application = CardApplication(
        case=case,
        person=person,
        kind=kind,
        office=district_of(person.residence_office),
        previous_card_number=previous,
    )
    try:
        with transaction.atomic():
            audited_save(application, acting_user=acting_user)
    except IntegrityError:  # a concurrent application of the same person (the partial unique index)
        raise ValidationError({"person": [_("该人员已有制卡中的社保卡申领，请等待制卡完成。")]}) from None
    return application


@transaction.atomic
def card_batch_create(*, acting_user: Any) -> CardBatch:
    """Put every waiting application of the user's district into a new production batch."""
    office = user_office(acting_user)
    if office is None:
        raise ValidationError({"__all__": [_("没有所属经办机构，不能生成制卡批次。")]})
    district = district_of(office)
    if not office_in_jurisdiction(acting_user, district):
        raise ValidationError({"__all__": [_("制卡批次由区级经办机构生成。")]})
    waiting = list(
        CardApplication.objects.select_for_update()
        .filter(office=district, state=CardApplicationState.APPLIED)
        .order_by("created_at", "id")
    )
    if not waiting:
        raise ValidationError({"__all__": [_("没有待制卡的申领。")]})
    today = timezone.localdate()
    prefix = f"ZK{district.code}{today:%Y%m%d}"
    sequence = CardBatch.objects.filter(number__startswith=prefix).count() + 1
    batch = CardBatch(
        number=f"{prefix}{sequence:02d}", office=district, size=len(waiting), created_by=recorded_user(acting_user)
    )
    audited_save(batch, acting_user=acting_user)
    CardApplication.objects.filter(pk__in=[a.pk for a in waiting]).update(
        batch=batch, state=CardApplicationState.IN_PRODUCTION
    )
    return batch


def card_batch_production_file(*, batch: CardBatch, acting_user: Any) -> bytes:
    """The batch's production file for the card issuer; the whole ID numbers in it are logged as sent out."""
    applications = list(batch.applications.select_related("person", "person__residence_office").order_by("id"))
    rows = [
        [
            batch.number,
            str(a.uid),
            a.person.id_number,
            a.person.name,
            a.person.get_sex_display(),
            a.person.birth_date.isoformat(),
            a.get_kind_display(),
            a.previous_card_number,
            a.person.residence_office.name,
        ]
        for a in applications
    ]
    registry_services.sensitive_access_record_many(
        acting_user=acting_user, person_ids=[a.person_id for a in applications], channel=SensitiveAccess.Channel.EXPORT
    )
    return production_xlsx(rows)


def _line_problem(line: ConfirmationLine, batch: CardBatch, by_uid: dict[str, CardApplication]) -> str:
    if line.batch_number != batch.number:
        return _("批次号不是 %(number)s") % {"number": batch.number}
    application = by_uid.get(line.application)
    if application is None:
        return _("申领编号不在本批次中")
    if line.id_number != application.person.id_number:
        return _("公民身份号码与申领人不符")
    if line.result not in (RESULT_OK, RESULT_FAILED):
        return _("制卡结果应为“成功”或“失败”")
    if line.ok and not CARD_NUMBER.fullmatch(line.card_number):
        return _("社会保障卡号应为 9–20 位大写字母或数字")
    return ""


def _confirmation_check(lines: list[ConfirmationLine], batch: CardBatch) -> list[str]:
    by_uid = {str(a.uid): a for a in batch.applications.select_related("person")}
    problems, seen, numbers = [], set(), {}
    for line in lines:
        problem = _line_problem(line, batch, by_uid)
        if not problem and line.application in seen:
            problem = _("申领编号重复")
        if not problem and line.ok and line.card_number in numbers:
            problem = _("卡号与第 %(n)d 行重复") % {"n": numbers[line.card_number]}
        if problem:
            problems.append(_("第 %(n)d 行：%(p)s") % {"n": line.line, "p": problem})
        seen.add(line.application)
        if line.ok:
            numbers.setdefault(line.card_number, line.line)
    taken = Person.objects.filter(card_number__in=list(numbers)).values_list("card_number", flat=True)
    problems += [_("第 %(n)d 行：卡号 %(c)s 已被使用") % {"n": numbers[c], "c": c} for c in sorted(taken)]
    missing = len(by_uid) - len(seen & set(by_uid))
    if missing and not problems:
        problems.append(_("回盘文件缺少本批次的 %(n)d 条申领。") % {"n": missing})
    return problems


def _application_settle(application: CardApplication, line: ConfirmationLine, now: Any, acting_user: Any) -> None:
    person = application.person
    reason = _("社保卡制卡回盘（批次 %(number)s）") % {"number": application.batch.number}
    if line.ok:
        application.state, application.card_number, application.issued_at = (
            CardApplicationState.ISSUED,
            line.card_number,
            now,
        )
        changes = {"card_number": line.card_number, "card_status": CardStatus.ACTIVE}
    else:
        application.state = CardApplicationState.FAILED
        first = application.kind == CardApplicationKind.NEW
        changes = {"card_status": CardStatus.NONE if first else CardStatus.REPLACED}
    application.result_note = line.note
    audited_save(application, acting_user=acting_user, reason=reason)
    registry_services.person_update(person=person, acting_user=acting_user, reason=reason, **changes)


@transaction.atomic
def card_batch_confirm(*, batch: CardBatch, upload: Any, acting_user: Any) -> CardBatch:
    """Import the issuer's confirmation file of ``batch`` (all lines or none)."""
    batch = CardBatch.objects.select_for_update().get(pk=batch.pk)
    if not office_in_jurisdiction(acting_user, batch.office):
        raise CardBatch.DoesNotExist
    if batch.state != CardBatchState.SENT:
        raise ValidationError({"file": [_("该批次已回盘。")]})
    try:
        lines = confirmation_read(upload, max_rows=batch.size)
    except CardFileError as exc:
        raise ValidationError({"file": [str(exc)]}) from None
    problems = _confirmation_check(lines, batch)
    if problems:
        raise ValidationError({"file": problems[:20]})
    now = timezone.now()
    by_uid = {str(a.uid): a for a in batch.applications.select_related("person", "batch")}
    for line in lines:
        _application_settle(by_uid[line.application], line, now, acting_user)
    batch.state = CardBatchState.CONFIRMED
    batch.issued_count = sum(1 for line in lines if line.ok)
    batch.failed_count = len(lines) - batch.issued_count
    batch.confirmed_at, batch.confirmed_by = now, recorded_user(acting_user)
    batch.confirmation_name = str(getattr(upload, "name", ""))[:200]
    batch.confirmation_sha256 = hashlib.sha256(b"".join(upload.chunks())).hexdigest()
    audited_save(batch, acting_user=acting_user, reason=_("制卡回盘"))
    return batch
