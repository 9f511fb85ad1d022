"""Helpers shared by the case services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from registry.audit import recorded_user
from registry.jurisdiction import user_office

from ..models import Case, CaseEvent


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
        actor=recorded_user(acting_user),
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
