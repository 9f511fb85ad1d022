"""The payroll's way back when a worker dies: a run still queued or running, untouched for ``JOB_STALE_SECONDS``
and whose advisory lock nobody holds, is sent to a worker again (the run resumes after its last committed chunk).
The same rule as contributions' sweeper (contributions.services.sweeper), for this app's one kind of job."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from contributions.services.sweeper import JobKind, job_lock_held
from registry.locks import AdvisoryLock
from registry.task_queue import task_send

from ..models import PayrollRun, RunStatus

logger = logging.getLogger(__name__)

PAYROLL_RUN_JOB = JobKind(
    "payroll_run",
    PayrollRun,
    (RunStatus.QUEUED, RunStatus.RUNNING),
    "payroll.run_execute",
    AdvisoryLock.PAYROLL_RUN,
    lambda run: run.period,
)


def payroll_runs_sweep(*, stale_seconds: int | None = None) -> list[int]:
    """Send again the task of every stuck payroll run; the ids sent."""
    limit = timezone.now() - datetime.timedelta(
        seconds=settings.JOB_STALE_SECONDS if stale_seconds is None else stale_seconds
    )
    sent = []
    kind = PAYROLL_RUN_JOB
    for run in PayrollRun.objects.filter(status__in=kind.statuses).order_by("pk"):
        if kind.since(run) > limit or job_lock_held(kind, run):
            continue
        if task_send(kind.task, run.pk):
            PayrollRun.objects.filter(pk=run.pk).update(
                requeued_at=timezone.now(), requeue_count=F("requeue_count") + 1
            )
            logger.warning("sweeper: payroll run %s had no live task; sent it again", run.pk)
            sent.append(run.pk)
    return sent
