"""Audit plumbing: one history library (django-simple-history) for the whole project.

simple-history records who made each change (from the request, or the ``_history_user`` set on the
instance); this module is the one place that sets it. Services save through ``audited_save`` /
``audited_delete``; admin ``save_model`` and import resources, which save through Django's own code, call
``audit_mark`` first. ``history_record_office`` adds the office the change was made from.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simple_history.models import HistoricalRecords


def recorded_user(acting_user: Any) -> Any:
    """The user to record as having acted: a saved user, else None (a nightly job, an anonymous caller)."""
    return acting_user if getattr(acting_user, "pk", None) else None


def audit_mark(obj: Any, *, acting_user: Any, reason: str | None = None) -> None:
    """Tell simple-history who acts (and why) on the next save or delete of ``obj``.

    For code that saves through someone else's ``save`` (admin, django-import-export); services use
    ``audited_save``. An explicit None (no user) keeps the request's user out of a job's history row."""
    obj._history_user = recorded_user(acting_user)
    if reason:
        obj._change_reason = reason


def audited_save(
    obj: Any,
    *,
    acting_user: Any,
    reason: str | None = None,
    update_fields: Iterable[str] | None = None,
) -> None:
    """Validate fully (``full_clean``) and save, recording who acted and why in the history."""
    obj.full_clean()
    audit_mark(obj, acting_user=acting_user, reason=reason)
    obj.save(update_fields=update_fields)


def audited_delete(obj: Any, *, acting_user: Any, reason: str | None = None) -> None:
    """Delete, recording who removed it and why in the history (the last history row)."""
    audit_mark(obj, acting_user=acting_user, reason=reason)
    obj.delete()


def history_record_office(sender: Any, instance: Any, history_instance: Any, **kwargs: Any) -> None:
    if not hasattr(history_instance, "history_office_id"):
        return
    user = getattr(history_instance, "history_user", None)
    if user is None:
        request = getattr(HistoricalRecords.context, "request", None)
        user = getattr(request, "user", None)
    office_id = getattr(user, "office_id", None)
    if office_id:
        history_instance.history_office_id = office_id
