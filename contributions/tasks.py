"""Celery tasks of contributions: thin, idempotent, acked late."""

from celery import shared_task

from . import services


@shared_task(name="contributions.bill_run_execute", acks_late=True, bind=True, max_retries=3, default_retry_delay=30)
def bill_run_execute(self, bill_run_id: int) -> str:
    try:
        return services.bill_run_execute(bill_run_id=bill_run_id).status
    except Exception as exc:  # database hiccups: retry; the run resumes where it stopped
        raise self.retry(exc=exc) from exc
