"""The case workflow: intake, acceptance, steps, correction (补正), rejection, withdrawal, completion.

Every function is one transaction, locks the case row, runs the guards of ``cases.rules`` on the locked
row, records a ``CaseEvent`` and who acted. Completion runs the item's effect (``services.effects``) in the
same transaction, so a failing effect leaves the case as it was.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from policies.selectors import ParameterNotFound, parameter_value
from policies.workdays import WorkCalendar
from registry.audit import audited_save, recorded_user
from registry.exceptions import ConflictError, PermissionDeniedError
from registry.jurisdiction import office_in_jurisdiction, user_office
from registry.models import Employer, Office, Person

from ..models import (
    OPEN_STATES,
    STEP_STATE,
    Case,
    CaseAction,
    CaseMaterial,
    CaseState,
    Channel,
    Effect,
    MaterialStatus,
    ServiceItem,
    StepKind,
    Subject,
)
from ..rules import (
    CaseStateError,
    check_action,
    check_step_authority,
    intake_step,
    level_label,
    office_at_level,
    step_after,
)
from ._common import event_record
from .attachments import attachment_add, attachments_precheck
from .effects import handler_for

# ---------------------------------------------------------------------------------------------
# Helpers.


def _lock(case: Case) -> Case:
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("item", "intake_office", "current_office", "current_step", "person", "employer")
        .get(pk=case.pk)
    )


def _reason(text: str, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({field: [message]})
    return text


def _codes(values: Iterable[str] | None) -> list[str]:
    return [str(v).strip() for v in (values or []) if str(v).strip()]


def _check_material_codes(item: ServiceItem, codes: list[str], field: str = "materials") -> None:
    known = set(item.materials.values_list("code", flat=True))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValidationError({field: [_("本事项没有以下申请材料：%(codes)s。") % {"codes": "、".join(unknown)}]})


def _missing_required(case: Case) -> list[str]:
    return list(
        case.materials.filter(material__required=True)
        .exclude(status__in=[MaterialStatus.RECEIVED, MaterialStatus.SYSTEM])
        .order_by("material__sequence")
        .values_list("material__name", flat=True)
    )


def _mark_received(case: Case, codes: list[str], now: datetime.datetime) -> None:
    if codes:
        case.materials.filter(material__code__in=codes).exclude(status=MaterialStatus.SYSTEM).update(
            status=MaterialStatus.RECEIVED, received_at=now
        )


def _case_number(office: Office, on: datetime.date) -> str:
    prefix = f"{office.code}{on:%Y%m%d}"
    last = Case.objects.filter(number__startswith=prefix).order_by("-number").values_list("number", flat=True).first()
    seq = int(last[len(prefix) :]) + 1 if last and last[len(prefix) :].isdigit() else 1
    return f"{prefix}{seq:04d}"


def time_limit_for(item: ServiceItem, *, on: datetime.date, office: Office) -> tuple[int, dict]:
    """The item's statutory time limit in working days on ``on``: from the policy parameter when the item names
    one, otherwise the catalogue figure."""
    if item.time_limit_parameter:
        try:
            resolved = parameter_value(item.time_limit_parameter, on=on, office=office)
        except ParameterNotFound as exc:
            raise ValidationError({"item": exc.messages}) from None
        return int(resolved.value), {"source": "parameter", **resolved.as_record()}
    return int(item.time_limit_days), {"source": "catalogue", "is_demo": item.time_limit_is_demo}


def _start_clock(case: Case, on: datetime.date) -> None:
    days, basis = time_limit_for(case.item, on=on, office=case.intake_office)
    calendar = WorkCalendar()
    case.time_limit_days = days
    case.time_limit_basis = basis
    case.due_date = calendar.add_working_days(on, days)
    case.calendar_warning = bool(calendar.missing_years(on, case.due_date))


def _move_to(case: Case, step) -> None:
    case.current_step = step
    case.state = STEP_STATE[step.kind]
    case.current_office = office_at_level(case.intake_office, step.lowest_level)
    case.assignee = None


def _complete(case: Case, acting_user: Any, *, public_base_url: str, note: str = "") -> None:
    missing = _missing_required(case)
    if missing:
        raise ValidationError({"materials": [_("缺少必需材料：%(names)s，不能办结。") % {"names": "、".join(missing)}]})
    from_state = case.state
    summary = handler_for(case.item).perform(case=case, acting_user=acting_user, public_base_url=public_base_url)
    case.state = CaseState.COMPLETED
    case.current_step = None
    case.assignee = None
    case.completed_at = timezone.now()
    case.result_summary = (summary or "")[:300]
    audited_save(case, acting_user=acting_user, reason=_("办结"))
    event_record(
        case,
        action=CaseAction.COMPLETE,
        acting_user=acting_user,
        from_state=from_state,
        to_state=case.state,
        note=note or summary,
        data={"result": summary},
    )


def _pause(case: Case, on: datetime.date) -> None:
    case.suspended_state = case.state
    case.state = CaseState.SUSPENDED
    case.paused_on = on


def _suspend_for_missing(case: Case, acting_user: Any, missing_codes: list[str], note: str) -> None:
    from_state = case.state
    case.materials.filter(material__code__in=missing_codes).exclude(status=MaterialStatus.SYSTEM).update(
        status=MaterialStatus.MISSING
    )
    _pause(case, timezone.localdate())
    audited_save(case, acting_user=acting_user, reason=_("一次性告知补正"))
    names = list(case.item.materials.filter(code__in=missing_codes).values_list("name", flat=True))
    event_record(
        case,
        action=CaseAction.CORRECT,
        acting_user=acting_user,
        from_state=from_state,
        to_state=case.state,
        step_kind=case.current_step.kind if case.current_step_id else "",
        note=note,
        data={"missing": missing_codes, "missing_names": names},
    )


def _after_receipt(case: Case, acting_user: Any, *, public_base_url: str) -> None:
    """Intake is done: start the clock, then go to the next step, complete at once, or ask for missing materials."""
    on = timezone.localdate(case.received_at)
    _start_clock(case, on)
    nxt = step_after(case.item, case.current_step)
    missing = list(
        case.materials.filter(material__required=True)
        .exclude(status__in=[MaterialStatus.RECEIVED, MaterialStatus.SYSTEM])
        .values_list("material__code", flat=True)
    )
    if nxt is None:
        if missing:
            names = _missing_required(case)
            raise ValidationError(
                {"materials": [_("即办事项须材料齐全，缺少：%(names)s。") % {"names": "、".join(names)}]}
            )
        _complete(case, acting_user, public_base_url=public_base_url)
        return
    _move_to(case, nxt)
    audited_save(case, acting_user=acting_user, reason=_("受理"))
    if missing:
        names = _missing_required(case)
        _suspend_for_missing(
            case,
            acting_user,
            missing,
            _("受理时材料不全，一次性告知需补正：%(names)s。") % {"names": "、".join(names)},
        )


def _resolve_applicant(item: ServiceItem, person: Person | None, employer: Employer | None, acting_user: Any) -> None:
    if item.subject in (Subject.PERSON, Subject.PERSON_EMPLOYER) and person is None:
        raise ValidationError({"person": [_("请选择申请人。")]})
    if item.subject == Subject.EMPLOYER and employer is None:
        raise ValidationError({"employer": [_("请选择参保单位。")]})
    if person is not None and not office_in_jurisdiction(acting_user, person.residence_office):
        raise ValidationError({"person": [_("申请人不在您的辖区内。")]})
    if employer is not None and not office_in_jurisdiction(acting_user, employer.office):
        raise ValidationError({"employer": [_("参保单位不在您的辖区内。")]})


def _new_case(
    *,
    item: ServiceItem,
    person: Person | None,
    employer: Employer | None,
    channel: str,
    intake_office: Office,
    form_data: dict,
    note: str,
    acting_user: Any,
    provided_codes: list[str],
    subject_key: str = "",
    window_office: Office | None = None,
) -> Case:
    step = intake_step(item)
    now = timezone.now()
    _refuse_duplicate(item, person, employer, subject_key)
    for _attempt in range(5):
        case = Case(
            number=_case_number(intake_office, timezone.localdate(now)),
            item=item,
            person=person,
            employer=employer,
            channel=channel,
            intake_office=intake_office,
            current_office=intake_office,
            state=CaseState.SUBMITTED,
            current_step=step,
            form_data=form_data,
            subject_key=subject_key,
            window_office=window_office,
            applicant_note=(note or "").strip(),
            submitted_at=now,
            created_by=recorded_user(acting_user),
        )
        try:
            with transaction.atomic():
                audited_save(case, acting_user=acting_user, reason=_("提交申请"))
            break
        except IntegrityError as exc:
            if "case_open_once" in str(exc):  # the same application committed a moment ago (double submit)
                _refuse_duplicate(item, person, employer, subject_key)
                raise _duplicate_error(None) from None
            continue  # a colleague took the same number a moment ago
    else:  # pragma: no cover - five collisions in a row
        raise ValidationError({"number": [_("办件编号生成冲突，请重试。")]})
    CaseMaterial.objects.bulk_create(_material_rows(case, item, provided_codes, now))
    return case


def _material_rows(case: Case, item: ServiceItem, provided_codes: list[str], now: datetime.datetime) -> list:
    rows = []
    for material in item.materials.all():
        if material.system_source:
            status = MaterialStatus.SYSTEM
        elif material.code in provided_codes:
            status = MaterialStatus.RECEIVED
        else:
            status = MaterialStatus.NOT_RECEIVED
        rows.append(
            CaseMaterial(
                case=case,
                material=material,
                status=status,
                received_at=now if status in (MaterialStatus.RECEIVED, MaterialStatus.SYSTEM) else None,
            )
        )
    return rows


def _duplicate_error(number: str | None) -> ConflictError:
    if number:
        return ConflictError(_("已有相同的办件正在办理（办件编号 %(number)s），不能重复受理。") % {"number": number})
    return ConflictError(_("已有相同的办件正在办理，不能重复受理。"))


def _refuse_duplicate(item: ServiceItem, person: Person | None, employer: Employer | None, key: str) -> None:
    """No duplicate work: a second open case of the same item, applicant and subject is refused (the database's
    case_open_once index catches two at the same moment)."""
    if not key:
        return
    same = Case.objects.filter(item=item, person=person, employer=employer, subject_key=key, state__in=OPEN_STATES)
    number = same.values_list("number", flat=True).first()
    if number:
        raise _duplicate_error(number)


def _check_item(item: ServiceItem) -> None:
    if not item.is_active:
        raise ValidationError({"item": [_("经办事项“%(name)s”已停用。") % {"name": item.name}]})
    if intake_step(item) is None:
        raise ValidationError(
            {"item": [_("经办事项“%(name)s”没有受理环节，请管理员检查事项清单。") % {"name": item.name}]}
        )


# ---------------------------------------------------------------------------------------------
# Intake.


@transaction.atomic
def case_intake(
    *,
    acting_user: Any,
    item: ServiceItem,
    person: Person | None = None,
    employer: Employer | None = None,
    materials_received: Iterable[str] = (),
    form_data: dict | None = None,
    note: str = "",
    files: Iterable[Any] = (),
    public_base_url: str = "",
) -> Case:
    """Take in an application at the counter (一窗受理) of the user's own office.

    The case is received at once (the time limit starts), then goes to the office that has authority for
    its next step; a 即办 item completes on the spot. Missing required materials are told at once and
    pause the case (一次性告知补正). Every uploaded file is checked; one bad file refuses the whole intake.
    """
    _check_item(item)
    step = intake_step(item)
    check_step_authority(step, acting_user)
    office = user_office(acting_user)
    if office is None:
        raise PermissionDeniedError(_("您没有所属经办机构，不能受理业务。"))
    _resolve_applicant(item, person, employer, acting_user)
    received = _codes(materials_received)
    _check_material_codes(item, received)
    handler = handler_for(item)
    cleaned = handler.clean(
        item=item, person=person, employer=employer, data=dict(form_data or {}), acting_user=acting_user
    )
    files = list(files or ())
    attachments_precheck(files)
    case = _new_case(
        item=item,
        person=person,
        employer=employer,
        channel=Channel.COUNTER,
        intake_office=office,
        form_data=cleaned,
        note=note,
        acting_user=acting_user,
        provided_codes=received,
        subject_key=handler.subject_key(item=item, data=cleaned),
    )
    case.received_at = case.submitted_at
    case.received_by = acting_user
    event_record(
        case,
        action=CaseAction.ACCEPT,
        acting_user=acting_user,
        step_kind=StepKind.INTAKE,
        note=_("窗口受理"),
        data={"materials_received": received},
    )
    for upload in files:
        attachment_add(case=case, acting_user=acting_user, file=upload)
    _after_receipt(case, acting_user, public_base_url=public_base_url)
    return case


def _check_submit_office(item: ServiceItem, step, intake_office: Office, acting_user: Any) -> None:
    if not office_in_jurisdiction(acting_user, intake_office):
        raise ValidationError({"intake_office": [_("受理机构不在您的辖区内。")]})
    if intake_office.level > step.lowest_level:
        raise ValidationError(
            {
                "intake_office": [
                    _("经办事项“%(item)s”不能在%(office)s受理：最低受理层级为%(level)s。")
                    % {
                        "item": item.name,
                        "office": intake_office.name,
                        "level": level_label(step.lowest_level),
                    }
                ]
            }
        )


@transaction.atomic
def case_submit(
    *,
    acting_user: Any,
    item: ServiceItem,
    person: Person | None = None,
    employer: Employer | None = None,
    channel: str = Channel.ONLINE,
    intake_office: Office | None = None,
    materials_provided: Iterable[str] = (),
    form_data: dict | None = None,
    note: str = "",
) -> Case:
    """An application through the online service hall or an external system: waits for a clerk to accept it.

    The intake office defaults to the applicant's nearest office that may take the item in.
    """
    if channel not in (Channel.ONLINE, Channel.API):
        raise ValidationError({"channel": [_("接口提交的渠道只能是“网上办事大厅”或“系统接口”。")]})
    _check_item(item)
    _resolve_applicant(item, person, employer, acting_user)
    step = intake_step(item)
    if intake_office is None:
        home = person.residence_office if person is not None else employer.office
        intake_office = office_at_level(home, step.lowest_level)
    _check_submit_office(item, step, intake_office, acting_user)
    provided = _codes(materials_provided)
    _check_material_codes(item, provided, "materials_provided")
    handler = handler_for(item)
    cleaned = handler.clean(
        item=item, person=person, employer=employer, data=dict(form_data or {}), acting_user=acting_user
    )
    case = _new_case(
        item=item,
        person=person,
        employer=employer,
        channel=channel,
        intake_office=intake_office,
        form_data=cleaned,
        note=note,
        acting_user=acting_user,
        provided_codes=provided,
        subject_key=handler.subject_key(item=item, data=cleaned),
    )
    event_record(
        case,
        action=CaseAction.SUBMIT,
        acting_user=acting_user,
        to_state=CaseState.SUBMITTED,
        note=case.get_channel_display(),
        data={"materials_provided": provided},
    )
    return case


# ---------------------------------------------------------------------------------------------
# Transitions.


@transaction.atomic
def case_accept(
    *, case: Case, acting_user: Any, materials_received: Iterable[str] = (), note: str = "", public_base_url: str = ""
) -> Case:
    """A counter clerk accepts an online/API application (受理); the clock starts."""
    case = _lock(case)
    check_action(case, acting_user, CaseAction.ACCEPT)
    received = _codes(materials_received)
    _check_material_codes(case.item, received)
    now = timezone.now()
    _mark_received(case, received, now)
    case.received_at = now
    case.received_by = acting_user
    event_record(
        case,
        action=CaseAction.ACCEPT,
        acting_user=acting_user,
        from_state=case.state,
        to_state=case.state,
        step_kind=StepKind.INTAKE,
        note=note,
        data={"materials_received": received},
    )
    _after_receipt(case, acting_user, public_base_url=public_base_url)
    return case


@transaction.atomic
def case_pass(*, case: Case, acting_user: Any, note: str = "", public_base_url: str = "") -> Case:
    """The current step (审核 / 复核审批 / 办结) is passed: on to the next step's office, or completed."""
    case = _lock(case)
    check_action(case, acting_user, CaseAction.PASS)
    missing = _missing_required(case)
    if missing:
        raise ValidationError(
            {
                "materials": [
                    _("缺少必需材料：%(names)s。请先一次性告知申请人补正，材料齐全后才能“%(step)s”通过。")
                    % {"names": "、".join(missing), "step": case.current_step.get_kind_display()}
                ]
            }
        )
    step = case.current_step
    from_state = case.state
    event_record(
        case,
        action=CaseAction.PASS,
        acting_user=acting_user,
        from_state=from_state,
        to_state=from_state,
        step_kind=step.kind,
        note=note,
    )
    nxt = step_after(case.item, step)
    if nxt is None:
        _complete(case, acting_user, public_base_url=public_base_url, note=note)
        return case
    _move_to(case, nxt)
    audited_save(case, acting_user=acting_user, reason=_("%(step)s通过") % {"step": step.get_kind_display()})
    return case


@transaction.atomic
def case_claim(*, case: Case, acting_user: Any) -> Case:
    """The user takes the case on (领办): he becomes its assignee for the current step."""
    case = _lock(case)
    check_action(case, acting_user, CaseAction.CLAIM)
    case.assignee = acting_user
    audited_save(case, acting_user=acting_user, reason=_("领办"))
    event_record(
        case,
        action=CaseAction.CLAIM,
        acting_user=acting_user,
        from_state=case.state,
        to_state=case.state,
        step_kind=case.current_step.kind,
    )
    return case


@transaction.atomic
def case_request_correction(*, case: Case, acting_user: Any, missing: Iterable[str] = (), note: str = "") -> Case:
    """一次性告知补正: name every missing material at once; the case and its clock pause."""
    case = _lock(case)
    check_action(case, acting_user, CaseAction.CORRECT)
    codes = _codes(missing)
    _check_material_codes(case.item, codes, "missing")
    system = list(case.item.materials.filter(code__in=codes).exclude(system_source="").values_list("name", flat=True))
    if system:
        raise ValidationError(
            {"missing": [_("以下材料由系统核验，不需要申请人提交：%(names)s。") % {"names": "、".join(system)}]}
        )
    if not codes:
        raise ValidationError({"missing": [_("请勾选需要补正的材料（一次性告知全部缺少的材料）。")]})
    names = list(case.item.materials.filter(code__in=codes).values_list("name", flat=True))
    text = (note or "").strip() or _("请补正：%(names)s。") % {"names": "、".join(names)}
    _suspend_for_missing(case, acting_user, codes, text)
    return case


@transaction.atomic
def case_resume(*, case: Case, acting_user: Any, materials_received: Iterable[str] = (), note: str = "") -> Case:
    """The applicant brought the missing materials: the case resumes where it was and the clock runs again;
    the due date moves by the working days the case was paused."""
    case = _lock(case)
    check_action(case, acting_user, CaseAction.RESUME)
    received = _codes(materials_received)
    _check_material_codes(case.item, received)
    now = timezone.now()
    _mark_received(case, received, now)
    still = list(
        case.materials.filter(status=MaterialStatus.MISSING)
        .order_by("material__sequence")
        .values_list("material__name", flat=True)
    )
    if still:
        raise ValidationError({"materials": [_("仍缺少补正材料：%(names)s。") % {"names": "、".join(still)}]})
    today = timezone.localdate(now)
    paused_days = 0
    if case.due_date is not None and case.paused_on is not None:
        calendar = WorkCalendar()
        paused_days = calendar.working_days_between(case.paused_on, today)
        case.due_date = calendar.add_working_days(case.due_date, paused_days)
        case.paused_working_days += paused_days
        case.calendar_warning = case.calendar_warning or bool(calendar.used_missing_years)
    from_state = case.state
    case.state = case.suspended_state
    case.suspended_state = ""
    case.paused_on = None
    audited_save(case, acting_user=acting_user, reason=_("补正材料，恢复办理"))
    event_record(
        case,
        action=CaseAction.RESUME,
        acting_user=acting_user,
        from_state=from_state,
        to_state=case.state,
        note=note,
        data={"materials_received": received, "paused_working_days": paused_days},
    )
    return case


def _close(case: Case, acting_user: Any, *, state: str, action: str, reason: str) -> Case:
    from_state = case.state
    case.state = state
    case.closing_reason = reason
    case.assignee = None
    case.paused_on = None
    case.suspended_state = ""
    case.completed_at = timezone.now()
    audited_save(case, acting_user=acting_user, reason=dict(CaseAction.choices)[action])
    event_record(
        case,
        action=action,
        acting_user=acting_user,
        from_state=from_state,
        to_state=state,
        step_kind=case.current_step.kind if case.current_step_id else "",
        note=reason,
    )
    return case


@transaction.atomic
def case_reject(*, case: Case, acting_user: Any, reason: str) -> Case:
    """不予办理, with the reason the applicant is told."""
    case = _lock(case)
    check_action(case, acting_user, CaseAction.REJECT)
    text = _reason(reason, "reason", _("请填写不予办理的理由（将告知申请人）。"))
    return _close(case, acting_user, state=CaseState.REJECTED, action=CaseAction.REJECT, reason=text)


@transaction.atomic
def case_withdraw(*, case: Case, acting_user: Any, reason: str) -> Case:
    """The applicant withdraws the application."""
    case = _lock(case)
    check_action(case, acting_user, CaseAction.WITHDRAW)
    text = _reason(reason, "reason", _("请填写撤回理由。"))
    return _close(case, acting_user, state=CaseState.WITHDRAWN, action=CaseAction.WITHDRAW, reason=text)


def case_transition(
    *,
    case: Case,
    acting_user: Any,
    action: str,
    note: str = "",
    reason: str = "",
    materials: Iterable[str] = (),
    missing: Iterable[str] = (),
    public_base_url: str = "",
) -> Case:
    """One entry point for pages and the API: dispatch ``action`` to its service."""
    if action == CaseAction.ACCEPT:
        return case_accept(
            case=case, acting_user=acting_user, materials_received=materials, note=note, public_base_url=public_base_url
        )
    if action == CaseAction.PASS:
        return case_pass(case=case, acting_user=acting_user, note=note, public_base_url=public_base_url)
    if action == CaseAction.CLAIM:
        return case_claim(case=case, acting_user=acting_user)
    if action == CaseAction.CORRECT:
        return case_request_correction(case=case, acting_user=acting_user, missing=missing, note=note)
    if action == CaseAction.RESUME:
        return case_resume(case=case, acting_user=acting_user, materials_received=materials, note=note)
    if action == CaseAction.REJECT:
        return case_reject(case=case, acting_user=acting_user, reason=reason or note)
    if action == CaseAction.WITHDRAW:
        return case_withdraw(case=case, acting_user=acting_user, reason=reason or note)
    raise CaseStateError(_("未知的操作“%(action)s”。") % {"action": action})


# ---------------------------------------------------------------------------------------------
# Self-service (自助即办).

SELF_SERVICE_EFFECTS = (Effect.CERTIFICATE_ENROLLMENT, Effect.CERTIFICATE_RECORD)


@transaction.atomic
def case_self_service(*, acting_user: Any, item: ServiceItem, person: Person, public_base_url: str = "") -> Case:
    """An applicant issues himself a certificate through the online hall (a system channel): submitted, received
    and completed at once, at his residence office. Only certificate items whose single step is the intake (即办,
    no judgement by a clerk) and that the catalogue offers online; the certificate is the counter's (same PDF,
    same public check)."""
    if not getattr(acting_user, "is_system", False):
        raise PermissionDeniedError(_("自助办理只能通过网上办事渠道。"))
    if item.effect not in SELF_SERVICE_EFFECTS or not item.offered_online or step_after(item, intake_step(item)):
        raise ValidationError({"item": [_("经办事项“%(name)s”不能自助即办。") % {"name": item.name}]})
    case = case_submit(acting_user=acting_user, item=item, person=person, channel=Channel.ONLINE)
    case.received_at = timezone.now()
    case.received_by = acting_user
    event_record(
        case,
        action=CaseAction.ACCEPT,
        acting_user=acting_user,
        step_kind=StepKind.INTAKE,
        note=_("网上自助办理"),
    )
    _after_receipt(case, acting_user, public_base_url=public_base_url)
    return case
