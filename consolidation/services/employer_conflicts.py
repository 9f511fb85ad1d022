"""Maker-checker on the queue of employers that may be one (疑似同一单位, ``EmployerConflict``): a clerk proposes
*是同一单位* or *不是同一单位*, another person approves (or sends it back with a reason). The permissions and
jurisdiction are those of the person conflicts (``consolidation.resolve_conflict`` / ``approve_conflict``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consolidation.models import EmployerConflict, EmployerConflictStatus, EmployerDecision
from registry.audit import audited_save
from registry.jurisdiction import office_in_jurisdiction


def _locked(conflict: EmployerConflict, acting_user: Any, permission: str) -> EmployerConflict:
    conflict = EmployerConflict.objects.select_for_update().select_related("office").get(pk=conflict.pk)
    if not office_in_jurisdiction(acting_user, conflict.office):
        raise EmployerConflict.DoesNotExist
    if not acting_user.has_perm(permission):
        raise PermissionDenied(_("您的角色不能处理此项。"))
    return conflict


@transaction.atomic
def employer_conflict_propose(
    *, conflict: EmployerConflict, acting_user: Any, decision: str, note: str = ""
) -> EmployerConflict:
    """The first person's decision on a pair of employers."""
    conflict = _locked(conflict, acting_user, "consolidation.resolve_conflict")
    if conflict.status != EmployerConflictStatus.OPEN:
        raise ValidationError({"decision": _("此项已有处理意见（%(s)s）。") % {"s": conflict.get_status_display()}})
    if decision not in EmployerDecision.values:
        raise ValidationError({"decision": _("请选择“是同一单位”或“不是同一单位”。")})
    conflict.decision, conflict.note = decision, (note or "").strip()[:2000]
    conflict.status, conflict.proposed_by, conflict.proposed_at = (
        EmployerConflictStatus.PROPOSED,
        acting_user,
        timezone.now(),
    )
    audited_save(conflict, acting_user=acting_user, reason=_("提出处理意见"))
    return conflict


@transaction.atomic
def employer_conflict_approve(*, conflict: EmployerConflict, acting_user: Any) -> EmployerConflict:
    """The second person agrees: the pair is decided (never by the proposer)."""
    conflict = _locked(conflict, acting_user, "consolidation.approve_conflict")
    if conflict.status != EmployerConflictStatus.PROPOSED:
        raise ValidationError({"decision": _("此项没有待复核的处理意见。")})
    if conflict.proposed_by_id == acting_user.pk:
        raise ValidationError({"decision": _("处理意见须由另一人复核。")})
    same = conflict.decision == EmployerDecision.SAME
    conflict.status = EmployerConflictStatus.SAME if same else EmployerConflictStatus.SEPARATE
    conflict.decided_by, conflict.decided_at = acting_user, timezone.now()
    audited_save(conflict, acting_user=acting_user, reason=_("复核通过"))
    return conflict


@transaction.atomic
def employer_conflict_return(*, conflict: EmployerConflict, acting_user: Any, note: str) -> EmployerConflict:
    """The second person does not agree: open again, with the reason."""
    conflict = _locked(conflict, acting_user, "consolidation.approve_conflict")
    if conflict.status != EmployerConflictStatus.PROPOSED:
        raise ValidationError({"note": _("此项没有待复核的处理意见。")})
    if not (note or "").strip():
        raise ValidationError({"note": _("请填写退回意见。")})
    conflict.status, conflict.decision, conflict.returned_note = EmployerConflictStatus.OPEN, "", note.strip()[:2000]
    conflict.proposed_by = conflict.proposed_at = None
    audited_save(conflict, acting_user=acting_user, reason=_("退回"))
    return conflict
