"""Supervision of time limits (时限监察): an overdue case reported to the office above, with a note."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry import roles
from registry.exceptions import ApplicationError, ConflictError, PermissionDeniedError
from registry.jurisdiction import user_office

from ..models import ACTIVE_STATES, Case, CaseAction, CaseEscalation
from ..rules import check_jurisdiction, user_has_role
from ._common import event_record


@transaction.atomic
def case_escalate(*, case: Case, acting_user: Any, note: str) -> CaseEscalation:
    """Report an overdue case to the office above its current office (督办), recorded as a case event.

    Reform plan 台政办发〔2016〕127号 二(四)3: the statutory time limits are enforced; an office head reports a
    case past its due date (补正 pauses already moved the due date) to the supervising office. The case stays
    with its current office. Refused: a case in time, closed or paused; the city office (none above); twice to
    the same office; anyone but an office head within whose jurisdiction the case lies (out of it: 404).
    """
    case = (
        Case.objects.select_for_update(of=("self",)).select_related("current_office", "intake_office").get(pk=case.pk)
    )
    check_jurisdiction(case, acting_user)
    if not user_has_role(acting_user, roles.OFFICE_HEAD) or user_office(acting_user) is None:
        raise PermissionDeniedError(_("只有经办机构负责人可以上报超期办件。"))
    text = (note or "").strip()
    if not text:
        raise ApplicationError(_("请填写督办说明。"), {"note": [_("请填写督办说明。")]})
    today = timezone.localdate()
    if case.state not in ACTIVE_STATES or case.due_date is None or case.due_date >= today:
        raise ConflictError(_("只有办理中且已超过办结期限的办件才能上报督办。"), code="not_overdue")
    target = case.current_office.parent
    if target is None:
        raise ConflictError(_("该办件由市级机构办理，没有上级机构可上报。"), code="no_office_above")
    escalation = CaseEscalation(
        case=case,
        from_office=case.current_office,
        to_office=target,
        note=text,
        due_date=case.due_date,
        escalated_by=acting_user,
    )
    escalation.full_clean(exclude=["case"], validate_constraints=False)
    try:
        with transaction.atomic():
            escalation.save()
    except IntegrityError:
        raise ConflictError(
            _("该办件已上报 %(office)s 督办。") % {"office": target.name}, code="already_escalated"
        ) from None
    event_record(
        case,
        action=CaseAction.ESCALATE,
        acting_user=acting_user,
        from_state=case.state,
        to_state=case.state,
        note=text,
        data={"to_office": target.code, "due_date": case.due_date.isoformat()},
    )
    return escalation
