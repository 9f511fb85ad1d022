"""Celery tasks of the data consolidation: thin, idempotent (a batch not in the expected state is left as it is),
resumable (the load skips files already loaded; the apply is one transaction) and acked late, so a worker that
dies mid-way leaves the message to be delivered again."""

from celery import shared_task
from django.db import OperationalError

from consolidation.services.apply import batch_apply as batch_apply_run
from consolidation.services.batches import import_batch_requeue_stuck, import_batches_stuck, import_folder_scan
from consolidation.services.load import batch_load as batch_load_run


@shared_task(name="consolidation.batch_load", acks_late=True, bind=True, max_retries=3, default_retry_delay=60)
def batch_load(self, batch_id: int) -> str:
    try:
        return batch_load_run(batch_id=batch_id).status
    except OperationalError as exc:  # the database went away: the load resumes at the first file not loaded
        raise self.retry(exc=exc) from exc


@shared_task(name="consolidation.batch_apply", acks_late=True, bind=True, max_retries=3, default_retry_delay=60)
def batch_apply(self, batch_id: int) -> str:
    try:
        return batch_apply_run(batch_id=batch_id).status
    except OperationalError as exc:  # nothing of the apply was committed: it starts again
        raise self.retry(exc=exc) from exc


@shared_task(name="consolidation.import_folder_scan", acks_late=True)
def import_folder_scan_task() -> list[str]:
    """Beat: register the import folder's new batches; re-enqueue batches whose worker died."""
    queued = [str(b.uid) for b in import_folder_scan()]
    for batch in import_batches_stuck():
        import_batch_requeue_stuck(batch_id=batch.pk)
    return queued
