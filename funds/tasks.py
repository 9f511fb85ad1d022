"""Celery tasks of funds: thin wrappers, named explicitly, acked late. Scheduled by django-celery-beat rows
created in migration 0005 (administrators change the times in admin → 周期任务)."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(
    name="funds.contribution_income_post",
    acks_late=True,
    autoretry_for=(Exception,),
    max_retries=3,
    default_retry_delay=60,
)
def contribution_income_post(up_to: str | None = None) -> dict:
    """Post contribution and subsidy income created before ``up_to`` (ISO datetime; default: now)."""
    moment = datetime.datetime.fromisoformat(up_to) if up_to else timezone.now()
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    result = services.contribution_income_post(up_to=moment)
    return {
        "run_id": result.run_id,
        "contribution_transactions": result.contribution_transactions,
        "subsidy_transactions": result.subsidy_transactions,
    }


@shared_task(
    name="funds.fund_warning_run", acks_late=True, autoretry_for=(Exception,), max_retries=2, default_retry_delay=300
)
def fund_warning_run(on: str | None = None) -> dict:
    """The nightly early warning for ``on`` (ISO date; default: yesterday, local time)."""
    day = datetime.date.fromisoformat(on) if on else timezone.localdate() - datetime.timedelta(days=1)
    result = services.fund_warning_run(on=day)
    return {
        "on": day.isoformat(),
        "indicators": result.indicators,
        "warnings_created": result.warnings_created,
        "not_assessed": result.not_assessed,
    }
