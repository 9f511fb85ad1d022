"""The guards of the case workflow: who may do which action on a case, at which office level, in which state.

Pure reads, used by the services before every write and by the pages/API to offer only the actions the
user may take. A refusal raises:

- ``Case.DoesNotExist`` — the case is outside the user's jurisdiction (404 everywhere);
- ``CaseStateError`` (a ValidationError, 400) — the action is not possible in the case's state;
- ``CaseAuthorityError`` (a ``registry.exceptions.PermissionDeniedError``, 403) — wrong role, office level too low, or the two-person rule.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from registry import roles
from registry.exceptions import ApplicationError, PermissionDeniedError
from registry.jurisdiction import office_in_jurisdiction, user_office, user_sees_everything
from registry.models import Office, OfficeLevel

from .models import (
    ACTIVE_STATES,
    CLOSED_STATES,
    OPEN_STATES,
    Case,
    CaseAction,
    CaseState,
    Channel,
    ServiceItemStep,
    StepKind,
)


class CaseStateError(ValidationError):
    def __init__(self, message: str):
        super().__init__({"action": [message]}, code="invalid_state")


class CaseAuthorityError(PermissionDeniedError):
    pass


WORKFLOW_ACTIONS = [
    CaseAction.ACCEPT,
    CaseAction.CLAIM,
    CaseAction.PASS,
    CaseAction.CORRECT,
    CaseAction.RESUME,
    CaseAction.REJECT,
    CaseAction.WITHDRAW,
]

_LEVEL_LABELS = dict(OfficeLevel.choices)
_ROLE_LABELS = {k: str(v) for k, v in roles.ROLE_LABELS.items()}


def level_label(level: int) -> str:
    return str(_LEVEL_LABELS.get(level, level))


def user_has_role(user: Any, role: str) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    cache = getattr(user, "_case_role_names", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True)) if getattr(user, "pk", None) else set()
        user._case_role_names = cache
    return role in cache


def office_at_level(office: Office, level: int) -> Office:
    """The nearest ancestor-or-self of ``office`` whose level is ``level`` or higher (a smaller number)."""
    if office.level <= level:
        return office
    codes = office.path.strip("/").split("/")
    return Office.objects.get(code=codes[level - 1])


def item_steps(item) -> list[ServiceItemStep]:
    """The item's steps in order (uses a prefetch when there is one)."""
    return sorted(item.steps.all(), key=lambda s: s.sequence)


def intake_step(item) -> ServiceItemStep | None:
    return next((s for s in item_steps(item) if s.kind == StepKind.INTAKE), None)


def step_after(item, step: ServiceItemStep | None) -> ServiceItemStep | None:
    steps = item_steps(item)
    if step is None:
        return steps[0] if steps else None
    later = [s for s in steps if s.sequence > step.sequence]
    return later[0] if later else None


def check_jurisdiction(case: Case, user: Any) -> None:
    if not office_in_jurisdiction(user, case.intake_office):
        raise Case.DoesNotExist


def check_step_authority(step: ServiceItemStep, user: Any) -> None:
    """The user has the step's role and works at an office of the step's level or higher."""
    office = user_office(user)
    step_label = step.get_kind_display()
    if office is None and not user_sees_everything(user):
        raise CaseAuthorityError(_("您没有所属经办机构，不能办理业务。"))
    if not user_has_role(user, step.role):
        raise CaseAuthorityError(
            _("“%(step)s”环节须由“%(role)s”角色办理，您没有该角色。")
            % {"step": step_label, "role": _ROLE_LABELS.get(step.role, step.role)}
        )
    if office is not None and office.level > step.lowest_level:
        raise CaseAuthorityError(
            _("“%(step)s”环节须由%(level)s及以上经办机构办理，您所在的%(office)s（%(own)s）没有该权限。")
            % {
                "step": step_label,
                "level": level_label(step.lowest_level),
                "office": office.name,
                "own": level_label(office.level),
            }
        )


def earlier_steps_done_by(case: Case, user: Any) -> list[str]:
    """Labels of the steps of this case the user has already done (受理, 审核 …)."""
    if not getattr(user, "pk", None):
        return []
    kinds = list(
        case.events.filter(actor_id=user.pk, action__in=[CaseAction.ACCEPT, CaseAction.PASS]).values_list(
            "step_kind", flat=True
        )
    )
    if case.received_by_id == user.pk and StepKind.INTAKE not in kinds:
        kinds.append(StepKind.INTAKE)
    labels = dict(StepKind.choices)
    return [str(labels.get(k, k)) for k in dict.fromkeys(kinds) if k]


def check_two_person(case: Case, step: ServiceItemStep, user: Any) -> None:
    if not case.item.two_person_rule or step.kind == StepKind.INTAKE:
        return
    done = earlier_steps_done_by(case, user)
    if done:
        raise CaseAuthorityError(
            _("本事项实行双人办理：您已办理本件的“%(done)s”环节，不能再办理“%(step)s”环节，请由其他工作人员办理。")
            % {"done": "、".join(done), "step": step.get_kind_display()}
        )


def _state_error(case: Case, action: str) -> CaseStateError:
    labels = dict(CaseAction.choices)
    if case.state in CLOSED_STATES:
        return CaseStateError(
            _("本件已“%(state)s”，不能再“%(action)s”。") % {"state": case.get_state_display(), "action": labels[action]}
        )
    return CaseStateError(
        _("本件当前状态为“%(state)s”，不能“%(action)s”。")
        % {"state": case.get_state_display(), "action": labels[action]}
    )


def check_system_channel(case: Case, user: Any) -> None:
    """An external system acts only on the applications it submitted itself, through its own channel: a district
    system may not withdraw, resubmit or add to a case taken in at a counter (or sent by another system) merely
    because the case lies in its jurisdiction."""
    if not getattr(user, "is_system", False):
        return
    if case.channel == Channel.COUNTER or case.created_by_id != getattr(user, "pk", None):
        raise CaseAuthorityError(_("外部系统只能办理本系统提交的申请；本件由其他渠道受理，请由窗口柜员办理。"))


def _is_window_user(case: Case, user: Any) -> bool:
    """A counter clerk (the applicant brings materials or asks to withdraw at the window), or the external system
    that submitted the application (check_system_channel has checked it is that one)."""
    return bool(getattr(user, "is_system", False)) or user_has_role(user, roles.COUNTER_CLERK)


def check_action(case: Case, user: Any, action: str) -> None:
    """Raise unless ``user`` may do ``action`` on ``case`` now."""
    check_jurisdiction(case, user)
    check_system_channel(case, user)
    step = case.current_step
    if action == CaseAction.ACCEPT:
        if case.state != CaseState.SUBMITTED or step is None:
            raise _state_error(case, action)
        check_step_authority(step, user)
    elif action in (CaseAction.PASS, CaseAction.CLAIM):
        if case.state not in (CaseState.REVIEW, CaseState.APPROVAL, CaseState.COMPLETION) or step is None:
            raise _state_error(case, action)
        check_step_authority(step, user)
        check_two_person(case, step, user)
        if action == CaseAction.CLAIM and case.assignee_id == getattr(user, "pk", None):
            raise CaseStateError(_("本件已由您领办。"))
    elif action == CaseAction.CORRECT:
        if case.state not in ACTIVE_STATES or step is None:
            raise _state_error(case, action)
        check_step_authority(step, user)
    elif action == CaseAction.RESUME:
        if case.state != CaseState.SUSPENDED:
            raise _state_error(case, action)
        if not _is_window_user(case, user):
            raise CaseAuthorityError(_("补正材料须由窗口柜员收取（或经网上办事渠道提交）。"))
    elif action == CaseAction.REJECT:
        if case.state not in OPEN_STATES or step is None:
            raise _state_error(case, action)
        check_step_authority(step, user)
    elif action == CaseAction.WITHDRAW:
        if case.state not in OPEN_STATES:
            raise _state_error(case, action)
        if not _is_window_user(case, user):
            raise CaseAuthorityError(_("撤回申请须由窗口柜员按申请人要求办理（或经网上办事渠道提交）。"))
    else:
        raise CaseStateError(_("未知的操作“%(action)s”。") % {"action": action})


def allowed_actions(case: Case, user: Any) -> list[str]:
    """The workflow actions ``user`` may take on ``case`` now (empty outside his jurisdiction)."""
    if not office_in_jurisdiction(user, case.intake_office):
        return []
    allowed = []
    for action in WORKFLOW_ACTIONS:
        try:
            check_action(case, user, action)
        except (ValidationError, ApplicationError, Case.DoesNotExist):
            continue
        allowed.append(str(action))
    return allowed


def waiting_for(case: Case) -> str:
    """Who the case waits for, in words: "黄岩区社会保险服务中心 · 区级及以上 · 审核"."""
    step = case.current_step
    if case.state == CaseState.SUSPENDED:
        return _("申请人补正材料")
    if case.state not in ACTIVE_STATES or step is None:
        return ""
    return _("%(office)s · %(level)s及以上 · %(role)s") % {
        "office": case.current_office.name,
        "level": level_label(step.lowest_level),
        "role": _ROLE_LABELS.get(step.role, step.role),
    }
