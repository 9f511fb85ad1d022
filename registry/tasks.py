"""Celery tasks of the registry: thin wrappers that take ids and call a service."""

from celery import shared_task

from registry import partitions, services
from registry.api import calllog as api_calllog
from registry.api import idempotency as api_idempotency
from registry.feed import webhooks
from registry.security import log as security_log
from registry.security import sessions as security_sessions


@shared_task(name="registry.person_pinyin_refresh", acks_late=True, autoretry_for=(Exception,), max_retries=3)
def person_pinyin_refresh(person_ids: list[int]) -> int:
    return services.person_pinyin_refresh(person_ids=person_ids)


@shared_task(name="registry.webhooks_dispatch", acks_late=True)
def webhooks_dispatch() -> dict[str, int]:
    """Beat, every 30 seconds: enqueue new change events for each webhook and send the due deliveries.
    Safe to run concurrently and again (unique deliveries, SKIP LOCKED claims), so no retry of its own."""
    return webhooks.webhooks_dispatch()


@shared_task(name="registry.partitions_ensure", acks_late=True)
def partitions_ensure() -> list[str]:
    """Nightly (beat): the monthly partitions of this month and the next ones (registry.partitions), created by the
    owner role's SECURITY DEFINER function (the application role may not CREATE). Idempotent."""
    return partitions.partitions_ensure()


@shared_task(name="registry.api_call_log_purge", acks_late=True)
def api_call_log_purge() -> int:
    """Nightly (beat): one set-based DELETE of call log rows beyond API_CALL_LOG_RETENTION_DAYS."""
    return api_calllog.api_call_log_purge()


@shared_task(name="registry.idempotency_record_purge", acks_late=True)
def idempotency_record_purge() -> int:
    """Nightly (beat): one set-based DELETE of expired Idempotency-Key records."""
    return api_idempotency.idempotency_record_purge()


@shared_task(name="registry.security_log_purge", acks_late=True)
def security_log_purge() -> int:
    """Nightly (beat): delete security events beyond SECURITY_LOG_RETENTION_DAYS (never younger than 183 days: the
    database refuses) and registered sessions past their absolute lifetime."""
    return security_log.security_events_purge() + security_sessions.sessions_stale_purge()
