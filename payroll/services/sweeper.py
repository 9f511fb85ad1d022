"""The payroll's way back when a worker dies: a run still queued or running, untouched for ``JOB_STALE_SECONDS``
and whose advisory lock nobody holds, is sent to a worker again (the run resumes after its last committed chunk).
The same for a return-file job (payroll.services.returns). The same rule as contributions' sweeper
(contributions.services.sweeper), for this app's two kinds of job."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from contributions.services.sweeper import JobKind, job_lock_held
from registry.locks import AdvisoryLock
from registry.task_queue import task_send

from ..models import BankReturnJob, PayrollRun, ReturnJobStatus, RunStatus

logger = logging.getLogger(__name__)

PAYROLL_RUN_JOB = JobKind(
    "payroll_run",
    PayrollRun,
    (RunStatus.QUEUED, RunStatus.RUNNING),
    "payroll.run_execute",
    AdvisoryLock.PAYROLL_RUN,
    lambda run: run.period,
)
# The recording transaction holds the bank file's lock (payroll.services.bank.bank_return_record).
BANK_RETURN_JOB = JobKind(
    "payroll_bank_return",
    BankReturnJob,
    (ReturnJobStatus.QUEUED, ReturnJobStatus.PROCESSING),
    "payroll.bank_return_process",
    AdvisoryLock.PAYROLL_BANK_FILE,
    lambda job: job.bank_file_id,
)


def payroll_runs_sweep(*, stale_seconds: int | None = None) -> list[int]:
    """Send again the task of every stuck payroll run and return-file job; the ids sent (runs', then jobs')."""
    limit = timezone.now() - datetime.timedelta(
        seconds=settings.JOB_STALE_SECONDS if stale_seconds is None else stale_seconds
    )
    sent = []
    for kind in (PAYROLL_RUN_JOB, BANK_RETURN_JOB):
        for job in kind.model.objects.filter(status__in=kind.statuses).order_by("pk"):
            if kind.since(job) > limit or job_lock_held(kind, job):
                continue
            if task_send(kind.task, job.pk):
                kind.model.objects.filter(pk=job.pk).update(
                    requeued_at=timezone.now(), requeue_count=F("requeue_count") + 1
                )
                logger.warning("sweeper: %s %s had no live task; sent it again", kind.name, job.pk)
                sent.append(job.pk)
    return sent
