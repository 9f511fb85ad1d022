"""Audit plumbing: one history library (django-simple-history) for the whole project.

simple-history records who made each change (from the request, or the ``_history_user``
a service sets); this adds the office the change was made from.
"""

from __future__ import annotations

from typing import Any

from simple_history.models import HistoricalRecords


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
