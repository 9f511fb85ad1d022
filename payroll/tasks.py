"""Celery tasks of the payroll: thin, idempotent, acked late."""

from celery import shared_task

from payroll import services


@shared_task(name="payroll.run_execute", acks_late=True, bind=True, max_retries=3, default_retry_delay=30)
def run_execute(self, run_id: int) -> str:
    try:
        return services.payroll_run_execute(run_id=run_id).status
    except Exception as exc:  # database hiccups: retry; the run resumes after its last committed chunk
        raise self.retry(exc=exc) from exc


@shared_task(name="payroll.bank_return_process", acks_late=True, bind=True, max_retries=3, default_retry_delay=30)
def bank_return_process(self, job_id: int) -> str:
    try:
        return services.bank_return_process(job_id=job_id).status
    except Exception as exc:  # database hiccups: retry; a refused file is the job's recorded error, not raised
        raise self.retry(exc=exc) from exc


@shared_task(name="payroll.runs_sweep", acks_late=True)
def runs_sweep() -> list:
    """Beat, every JOB_SWEEP_INTERVAL_SECONDS: send again the task of a payroll run or a return file whose worker is gone."""
    return services.payroll_runs_sweep()
