"""Celery tasks of the hall: thin, named, acked late, idempotent (each message has a unique key)."""

from celery import shared_task
from django.utils import timezone

from .services import notifications


@shared_task(name="hall.case_event_notify", acks_late=True, autoretry_for=(Exception,), max_retries=5)
def case_event_notify(event_id: int) -> int | None:
    message = notifications.case_event_notify(event_id=event_id)
    return message.pk if message is not None else None


@shared_task(name="hall.bill_notices_run", acks_late=True, autoretry_for=(Exception,), max_retries=3)
def bill_notices_run() -> int:
    """Daily: bills issued, due within days, overdue — one message each to payers with a hall account."""
    return notifications.bill_notices_run(on=timezone.localdate())


@shared_task(name="hall.grade_season_run", acks_late=True, autoretry_for=(Exception,), max_retries=3)
def grade_season_run() -> int:
    """Daily in the grade season: residents who have not chosen next year's pension grade are reminded once."""
    return notifications.grade_season_run(on=timezone.localdate())
