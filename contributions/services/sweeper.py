"""The sweeper: jobs whose task is gone are sent again (Celery beat, every ``JOB_SWEEP_INTERVAL_SECONDS``).

A job — a bill run, a bill export, a payment file — is recorded in PostgreSQL before its task is sent, and its
worker holds the job's advisory lock (registry.locks) while it works. So a job is stuck when it is still
queued or running, nobody holds its lock, and nothing happened to it for ``JOB_STALE_SECONDS``:

- the message was never sent (Redis was down when the record committed: registry.task_queue),
- the message was lost (Redis restarted without it) or waits for Redis's visibility timeout (the whole worker
  was killed while it held the message),
- the task gave up (retries exhausted) with the record still queued or running.

Each stuck job's task is sent again; every task is idempotent and resumable (a bill run continues after its last
committed chunk, a payment file and a bill export are one transaction each), so a second message for a job that
was only slow does no harm: it finds the job done, or its lock taken, and returns. Where a job was sent again
is recorded on the job (``requeued_at``, ``requeue_count``) for the operator (docs/operations.md).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Model
from django.utils import timezone

from contributions.models import (
    BillExport,
    BillRun,
    BillRunStatus,
    ExportStatus,
    PaymentFile,
    PaymentFileStatus,
)
from registry.locks import AdvisoryLock, advisory_lock_held
from registry.task_queue import task_send

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its model, live statuses, task, and the lock its worker holds."""

    name: str
    model: type[Model]
    statuses: tuple[str, ...]
    task: str
    lock: AdvisoryLock
    lock_key: Any  # the job → the lock's key

    def since(self, job: Any) -> datetime.datetime:
        """When something last happened to the job: queued, started, or sent again by the sweeper."""
        moments = [job.created_at, getattr(job, "started_at", None), job.requeued_at]
        return max(m for m in moments if m is not None)


JOB_KINDS = (
    JobKind(
        "bill_run",
        BillRun,
        (BillRunStatus.QUEUED, BillRunStatus.RUNNING),
        "contributions.bill_run_execute",
        AdvisoryLock.BILL_RUN,
        lambda run: run.period,
    ),
    JobKind(
        "bill_export",
        BillExport,
        (ExportStatus.QUEUED,),
        "contributions.bill_export_execute",
        AdvisoryLock.BILL_EXPORT,
        lambda export: export.pk,
    ),
    JobKind(
        "payment_file",
        PaymentFile,
        (PaymentFileStatus.QUEUED, PaymentFileStatus.PROCESSING),
        "contributions.payment_file_process",
        AdvisoryLock.PAYMENT_FILE,
        lambda payment_file: payment_file.pk,
    ),
)


@dataclass
class SweepReport:
    requeued: dict[str, list[int]] = field(default_factory=dict)
    undispatched: dict[str, list[int]] = field(default_factory=dict)  # the broker was still unreachable

    def as_dict(self) -> dict[str, dict[str, list[int]]]:
        return {"requeued": self.requeued, "undispatched": self.undispatched}


def job_lock_held(kind: JobKind, job: Any) -> bool:
    """Whether a worker holds the job's lock now (always False on SQLite, which has no advisory locks)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        return advisory_lock_held(cur, kind.lock, kind.lock_key(job))


def jobs_stuck(*, stale_seconds: int | None = None) -> list[tuple[JobKind, Any]]:
    """Live jobs with nothing happening for the staleness limit and no worker holding their lock."""
    limit = timezone.now() - datetime.timedelta(
        seconds=settings.JOB_STALE_SECONDS if stale_seconds is None else stale_seconds
    )
    stuck = []
    for kind in JOB_KINDS:
        # Only the ids and moments: a sweep over a busy night reads a few rows, never the jobs' payloads.
        fields = ["pk", "created_at", "requeued_at"] + (["started_at", "period"] if kind.model is BillRun else [])
        for job in kind.model.objects.filter(status__in=kind.statuses).only(*fields).order_by("pk"):
            if kind.since(job) <= limit and not job_lock_held(kind, job):
                stuck.append((kind, job))
    return stuck


def jobs_sweep(*, stale_seconds: int | None = None) -> SweepReport:
    """Send the task of every stuck job again (see the module's docstring); what was sent, and what could not be
    (the broker still down: the next sweep tries again)."""
    report = SweepReport()
    for kind, job in jobs_stuck(stale_seconds=stale_seconds):
        if task_send(kind.task, job.pk):
            kind.model.objects.filter(pk=job.pk).update(
                requeued_at=timezone.now(), requeue_count=F("requeue_count") + 1
            )
            report.requeued.setdefault(kind.name, []).append(job.pk)
            logger.warning("sweeper: %s %s had no live task; sent %s again", kind.name, job.pk, kind.task)
        else:
            report.undispatched.setdefault(kind.name, []).append(job.pk)
    return report
