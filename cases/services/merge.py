"""A person merge (data consolidation) moves the tombstone's open cases to the survivor; an undo moves them back.
Closed cases stay with the tombstone: they, their certificates and archived files are never rewritten."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from registry.audit import audited_save
from registry.models import Person

from ..models import OPEN_STATES, Case, CaseAction
from ._common import event_record


@transaction.atomic
def case_person_repoint(*, case: Case, person: Person, acting_user: Any, note: str) -> Case:
    """Make ``person`` the applicant of an open case (the case log says who and why)."""
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.state not in OPEN_STATES:
        raise ValidationError({"case": _("办件 %(number)s 已办结，不能变更申请人。") % {"number": case.number}})
    previous = case.person_id
    case.person = person
    audited_save(case, acting_user=acting_user, reason=note)
    event_record(
        case,
        action=CaseAction.MERGE,
        acting_user=acting_user,
        from_state=case.state,
        to_state=case.state,
        note=note,
        data={"from_person": previous, "to_person": person.pk},
    )
    return case
