"""Bank return files recorded by a Celery task, not in the web request.

``bank_return_upload`` (the page) keeps the upload with a queued ``BankReturnJob`` and sends the task after commit;
``bank_return_process`` (the task) records it with ``bank_return_record`` — whole, in one transaction with the
job's DONE, or not at all: a refusal (another run's file, an unknown line, a different amount, a missing line, a
file already returned) rolls the records back and becomes the job's ``errors``, shown to the clerk on the job's
page. Idempotent: a re-delivered task of a finished job returns at once, and the bank file's lock (held by the
recording transaction) keeps two workers from recording the same file; ``payroll_runs_sweep`` re-sends the task of
a job untouched for ``JOB_STALE_SECONDS`` whose lock nobody holds.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.audit import recorded_user
from registry.exceptions import ApplicationError
from registry.jurisdiction import office_in_jurisdiction
from registry.task_queue import task_enqueue_on_commit

from ..models import BankFile, BankReturnJob, ReturnJobStatus
from .bank import bank_return_record

TASK = "payroll.bank_return_process"


@transaction.atomic
def bank_return_upload(*, bank_file: BankFile, name: str, data: bytes, acting_user: Any) -> BankReturnJob:
    """Keep the return file of ``bank_file`` and queue its recording (after commit)."""
    if not office_in_jurisdiction(acting_user, bank_file.run.office):
        raise BankFile.DoesNotExist
    job = BankReturnJob(
        bank_file=bank_file,
        name=(name or "")[:200],
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        uploaded_by=recorded_user(acting_user),
    )
    job.full_clean()
    job.save()
    task_enqueue_on_commit(TASK, job.pk)
    return job


def _messages(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        return [str(m) for m in exc.messages]
    return [str(getattr(exc, "message", exc))]


def bank_return_process(*, job_id: int) -> BankReturnJob:
    """Record the job's return file (the task; see the module's docstring)."""
    job = BankReturnJob.objects.select_related("bank_file__run", "uploaded_by").get(pk=job_id)
    if job.status not in (ReturnJobStatus.QUEUED, ReturnJobStatus.PROCESSING):
        return job
    BankReturnJob.objects.filter(pk=job.pk).update(status=ReturnJobStatus.PROCESSING, started_at=timezone.now())
    acting_user = job.uploaded_by
    try:
        with transaction.atomic():
            # The job row first: a second worker for the same job waits here, then finds it finished.
            locked = BankReturnJob.objects.select_for_update().get(pk=job.pk)
            if locked.status == ReturnJobStatus.PROCESSING:
                bank_return_record(bank_file=job.bank_file, data=bytes(job.data), acting_user=acting_user)
                BankReturnJob.objects.filter(pk=job.pk).update(
                    status=ReturnJobStatus.DONE, errors=[], finished_at=timezone.now()
                )
    except (ValidationError, ApplicationError, BankFile.DoesNotExist) as exc:
        denied = isinstance(exc, BankFile.DoesNotExist)
        errors = [_("无权导入该代发文件的回盘。")] if denied else _messages(exc)
        BankReturnJob.objects.filter(pk=job.pk).update(
            status=ReturnJobStatus.REJECTED, errors=errors, finished_at=timezone.now()
        )
    job.refresh_from_db()
    return job
