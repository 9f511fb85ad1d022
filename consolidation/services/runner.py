"""How a worker holds a batch while it loads or applies it: a PostgreSQL session advisory lock on the batch (held
by the worker's database connection, so it ends when the worker or its connection dies) and a heartbeat written
every few seconds by a side thread on its own connection (the work itself runs in long transactions, whose
writes nobody sees before commit). A sweeper finds a working batch whose lock nobody holds and whose heartbeat
is old (``batches.import_batch_requeue_stuck``)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator

from django.db import DatabaseError, connection, connections
from django.utils import timezone
from django.utils.translation import gettext as _

from consolidation.models import ImportBatch
from registry.locks import ALL_BATCHES, AdvisoryLock, advisory_lock_held, advisory_try_lock, advisory_unlock

LOCK_NAMESPACE = AdvisoryLock.CONSOLIDATION_BATCH  # registry.locks: the batch's id is the key
# One batch applied at a time in the city: matching sees every batch applied before.
APPLY_LOCK = (AdvisoryLock.CONSOLIDATION_BATCH, ALL_BATCHES)
HEARTBEAT_SECONDS = 5


class NeedsPostgres(Exception):
    """The consolidation import runs on PostgreSQL only (COPY, UNLOGGED staging tables, pg_trgm)."""

    def __init__(self) -> None:
        super().__init__(
            _(
                "数据大集中导入需要 PostgreSQL 数据库（设置 DATABASE_URL=postgres://…）；SQLite 演示环境不能装载批次文件。"
            )
        )


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        raise NeedsPostgres


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def batch_lock_held(batch_id: int) -> bool:
    """Whether some database session (a worker) holds the batch's advisory lock now."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        return advisory_lock_held(cur, LOCK_NAMESPACE, batch_id)


def _beat(batch_id: int, stop: threading.Event) -> None:
    try:
        while not stop.wait(HEARTBEAT_SECONDS):
            ImportBatch.objects.filter(pk=batch_id).update(heartbeat_at=timezone.now())
    finally:
        connections.close_all()  # this thread's own connection


@contextlib.contextmanager
def batch_held(batch_id: int) -> Iterator[bool]:
    """Hold the batch for the duration (yields False when another worker holds it: do nothing then)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cur:
        got = advisory_try_lock(cur, LOCK_NAMESPACE, batch_id)
    if not got:
        yield False
        return
    stop = threading.Event()
    ImportBatch.objects.filter(pk=batch_id).update(heartbeat_at=timezone.now(), worker=worker_name())
    beat = threading.Thread(target=_beat, args=(batch_id, stop), name=f"batch-{batch_id}-heartbeat", daemon=True)
    beat.start()
    try:
        yield True
    finally:
        stop.set()
        beat.join()
        with contextlib.suppress(DatabaseError), connection.cursor() as cur:  # a dead connection released it
            advisory_unlock(cur, LOCK_NAMESPACE, batch_id)
