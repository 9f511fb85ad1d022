"""Celery tasks of contributions: thin, idempotent, acked late."""

from celery import shared_task

from contributions import services


@shared_task(name="contributions.bill_run_execute", acks_late=True, bind=True, max_retries=3, default_retry_delay=30)
def bill_run_execute(self, bill_run_id: int) -> str:
    try:
        return services.bill_run_execute(bill_run_id=bill_run_id).status
    except Exception as exc:  # database hiccups: retry; the run resumes where it stopped
        raise self.retry(exc=exc) from exc


@shared_task(name="contributions.bill_export_execute", acks_late=True, autoretry_for=(Exception,), max_retries=2)
def bill_export_execute(bill_export_id: int) -> str:
    return services.bill_export_execute(bill_export_id=bill_export_id).status


@shared_task(name="contributions.bill_exports_nightly", acks_late=True, autoretry_for=(Exception,), max_retries=2)
def bill_exports_nightly(formats: list | None = None) -> dict:
    """The nightly bill files (beat, migration 0004): current period, city and each district; ``formats`` is a
    list of [format, encoding] pairs, e.g. [["csv", "utf-8"], ["csv", "gbk"], ["xlsx", ""]]."""
    made = services.bill_exports_nightly(formats=formats)
    return {"exports": [str(e.uid) for e in made], "failed": sum(1 for e in made if e.status == "failed")}


@shared_task(
    name="contributions.payment_file_process", acks_late=True, bind=True, max_retries=3, default_retry_delay=60
)
def payment_file_process(self, payment_file_id: int) -> str:
    try:
        return services.payment_file_process(payment_file_id=payment_file_id).status
    except Exception as exc:  # database hiccups: retry; the import is one transaction, so nothing is half-done
        raise self.retry(exc=exc) from exc


@shared_task(
    name="contributions.resident_medical_run_execute", acks_late=True, bind=True, max_retries=3, default_retry_delay=30
)
def resident_medical_run_execute(self, run_id: int) -> str:
    try:
        return services.resident_medical_run_execute(run_id=run_id).status
    except Exception as exc:  # database hiccups: retry; persons already billed are skipped
        raise self.retry(exc=exc) from exc


@shared_task(name="contributions.jobs_sweep", acks_late=True)
def jobs_sweep() -> dict:
    """Beat, every JOB_SWEEP_INTERVAL_SECONDS: send again the tasks of bill runs, bill exports and payment files
    whose worker is gone (services.sweeper)."""
    return services.jobs_sweep().as_dict()


@shared_task(name="contributions.late_fee_bills_sweep", acks_late=True, autoretry_for=(Exception,), max_retries=2)
def late_fee_bills_sweep(payment_file_id: int | None = None) -> int:
    """The late-fee bills of bills paid in full after their due date (idempotent: one per bill): of a payment
    file's payers when given, else of everyone (daily beat)."""
    return services.late_fee_bills_sweep(payment_file_id=payment_file_id)
