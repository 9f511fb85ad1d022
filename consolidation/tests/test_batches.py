"""Batches from the import folder, the task path (dispatched on commit, run by the worker), and the way back for a
batch whose worker died: stuck when nobody holds its lock and its heartbeat is old, then re-enqueued."""

from __future__ import annotations

import datetime
import json

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from consolidation.generator import DistrictSpec, HumanFactory, district_folder
from consolidation.models import BatchChannel, BatchStatus, ImportBatch
from consolidation.services.batches import import_batch_requeue_stuck, import_batches_stuck, import_folder_scan
from consolidation.services.load import batch_load
from consolidation.services.runner import LOCK_NAMESPACE

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_import_folder_is_scanned_once_and_its_batch_loaded_by_the_task(
    tmp_path, django_capture_on_commit_callbacks
):
    district_folder(tmp_path, DistrictSpec("331002", 15, 2), HumanFactory(7), label="folder")
    with django_capture_on_commit_callbacks(execute=True):
        queued = import_folder_scan(root=str(tmp_path))
    assert len(queued) == 1
    batch = ImportBatch.objects.get()
    assert batch.channel == BatchChannel.FOLDER and batch.status == BatchStatus.CHECKED
    assert batch.report["files"]["persons"]["lines"] == 15
    assert import_folder_scan(root=str(tmp_path)) == []  # registered already: nothing changes
    assert ImportBatch.objects.count() == 1


def test_a_folder_file_changed_after_registration_is_refused(tmp_path):
    folder = tmp_path / "331002-changed"
    district_folder(tmp_path, DistrictSpec("331002", 5, 1), HumanFactory(8), label="changed")
    (batch,) = import_folder_scan(root=str(tmp_path))
    with (folder / "persons.csv").open("a", encoding="utf-8") as handle:
        handle.write("331002198001010011,加塞,,,,,,,,\r\n")
    batch = batch_load(batch_id=batch.pk)
    assert batch.status == BatchStatus.REJECTED and "SHA-256 不一致" in batch.error


def test_a_folder_with_an_unusable_manifest_is_a_rejected_batch_with_the_reason(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "batch.json").write_text(json.dumps({"district": "999999", "files": {"persons": "p.csv"}}), "utf-8")
    import_folder_scan(root=str(tmp_path))
    batch = ImportBatch.objects.get(folder=str(folder))
    assert batch.status == BatchStatus.REJECTED and "999999" in batch.error


def _other_connection():
    settings = connection.settings_dict
    return psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
    )


def test_a_batch_whose_worker_died_is_found_and_re_enqueued(tmp_path, django_capture_on_commit_callbacks):
    district_folder(tmp_path, DistrictSpec("331003", 5, 1), HumanFactory(9), label="stuck")
    (batch,) = import_folder_scan(root=str(tmp_path))  # its task message was lost with the worker
    old = timezone.now() - datetime.timedelta(minutes=30)
    ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.LOADING, heartbeat_at=old)
    # While another session (a live worker) holds the batch's lock, it is not stuck, whatever its heartbeat.
    worker = _other_connection()
    try:
        with worker.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s, %s)", [int(LOCK_NAMESPACE), batch.pk])
        assert batch not in import_batches_stuck(stale_seconds=60)
        assert import_batch_requeue_stuck(batch_id=batch.pk, stale_seconds=60) is False
        with worker.cursor() as cur:  # the worker ends (unlocked now: a closing backend lets go a moment later)
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [int(LOCK_NAMESPACE), batch.pk])
    finally:
        worker.close()
    assert batch in import_batches_stuck(stale_seconds=60)
    with django_capture_on_commit_callbacks(execute=True):
        assert import_batch_requeue_stuck(batch_id=batch.pk, stale_seconds=60) is True
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CHECKED  # the load ran again, from the start, and finished
    assert import_batch_requeue_stuck(batch_id=batch.pk, stale_seconds=60) is False
