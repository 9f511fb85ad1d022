"""Celery tasks of the evaluation app: thin, named, acked late; the work is in ``evaluation.services``."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="evaluation.metrics_refresh", acks_late=True, autoretry_for=(Exception,), max_retries=3)
def metrics_refresh() -> int:
    """Nightly: recompute the office metrics of this month and the last (unless published); returns rows changed."""
    return sum(r.rows_changed for r in services.office_metrics_refresh(on=timezone.localdate()))


@shared_task(name="evaluation.supervision_digest", acks_late=True, autoretry_for=(Exception,), max_retries=3)
def supervision_digest() -> int:
    """Daily: each office's due-soon and overdue cases to its heads; returns the offices reported."""
    return len(services.supervision_digest_send(on=timezone.localdate()))


@shared_task(name="evaluation.statistics_refresh", acks_late=True, autoretry_for=(Exception,), max_retries=3)
def statistics_refresh() -> int:
    """Nightly: the pre-aggregated statistics (this and last month's snapshots, 24 months of flows); rows written."""
    return services.statistics_refresh(on=timezone.localdate())
