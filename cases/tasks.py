"""Celery tasks of cases: thin, named, acked late."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="cases.overdue_notify", acks_late=True, autoretry_for=(Exception,), max_retries=3)
def overdue_notify() -> int:
    """Nightly: list each office's overdue cases and notify its office heads; returns the offices reported."""
    return len(services.case_overdue_notify(on=timezone.localdate()))
