"""Helpers shared by the case services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from registry.jurisdiction import user_office

from ..models import Case, CaseEvent


def save(obj: Any, *, acting_user: Any, reason: str = "") -> None:
    """Validate fully and save, recording who acted in the history."""
    obj.full_clean()
    obj._history_user = acting_user if getattr(acting_user, "pk", None) else None
    if reason:
        obj._change_reason = reason
    obj.save()


def event_record(
    case: Case,
    *,
    action: str,
    acting_user: Any,
    from_state: str = "",
    to_state: str = "",
    step_kind: str = "",
    note: str = "",
    data: dict | None = None,
) -> CaseEvent:
    event = CaseEvent(
        case=case,
        action=action,
        step_kind=step_kind or "",
        from_state=from_state or "",
        to_state=to_state or "",
        actor=acting_user if getattr(acting_user, "pk", None) else None,
        actor_office=user_office(acting_user),
        note=(note or "").strip(),
        data=data or {},
    )
    event.full_clean(exclude=["case"])
    event.save()
    return event


def today():
    return timezone.localdate()


def field_error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})
