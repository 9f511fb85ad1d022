"""Reads for statistics, reports and exports from a PostgreSQL streaming replica (docs/scaling.md).

With ``REPLICA_DATABASE_URL`` set, settings add the database alias ``replica`` and ``ReplicaRouter``. Code that
produces statistics, reports or exports runs inside ``replica_reads()`` (or a view decorated with
``replica_view``); every ORM read there goes to the replica, except:

- writes: always the primary (``default``);
- any read while the primary has a transaction open (``transaction.atomic``): what that transaction wrote, or
  locked, or is about to decide on, is only on the primary;
- the models in ``PRIMARY_ONLY``: the change feed (its horizon is the primary's view of running transactions, and a
  replica's lag could hide an event below a cursor), webhooks, users, sessions, keys and idempotency records;
- a replica that does not answer, or whose replay lags more than ``REPLICA_MAX_LAG_SECONDS`` behind: skipped, the
  primary answers. Its state is checked at most every ``REPLICA_CHECK_SECONDS`` per process.

Raw SQL picks its connection with ``report_connection()``, which applies the same rules.
No home-made replication: the replica is PostgreSQL's own (a hot standby fed by streaming replication).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
PRIMARY = "default"

# app_label.model_name of the models that are never read from the replica.
PRIMARY_ONLY = frozenset(
    {
        "registry.changeevent",
        "registry.webhooksubscription",
        "registry.webhookdelivery",
        "registry.user",
        "registry.usersession",
        "registry.apikey",
        "registry.idempotencyrecord",
        "sessions.session",
    }
)

_reports: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_reads", default=False)


class _State:
    """The last look at the replica, per process: (checked at, usable, lag seconds or None, reason)."""

    lock = threading.Lock()
    checked_at = float("-inf")
    usable = False
    lag: float | None = None
    reason = "not checked yet"


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


# Lag in seconds: none when everything received has been replayed (an idle primary sends nothing, so the time of the
# last replayed commit says nothing then); otherwise the age of the last replayed commit. 0 on a primary.
LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() THEN 0
            WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9)
       END
"""


def replica_lag_check() -> tuple[bool, float | None, str]:
    """Ask the replica now: (usable, lag seconds, reason). Never raises: a replica that fails is not usable."""
    if not replica_configured():
        return False, None, "no REPLICA_DATABASE_URL"
    conn = connections[REPLICA]
    try:
        with conn.cursor() as cur:
            cur.execute(LAG_SQL)
            _in_recovery, lag = cur.fetchone()
    except DatabaseError as exc:
        # The connection is broken (the replica stopped): close it, so the next check reconnects.
        with suppress(DatabaseError):
            conn.close()
        return False, None, f"replica unreachable: {exc.__class__.__name__}"
    lag = float(lag)
    limit = float(settings.REPLICA_MAX_LAG_SECONDS)
    if lag > limit:
        return False, lag, f"replica lags {lag:.1f} s (limit {limit:g} s)"
    return True, lag, "ok"


def replica_status(*, fresh: bool = False) -> tuple[bool, float | None, str]:
    """The replica's state, checked at most every REPLICA_CHECK_SECONDS (``fresh`` checks now)."""
    now = time.monotonic()
    with _State.lock:
        if fresh or now - _State.checked_at >= settings.REPLICA_CHECK_SECONDS:
            usable, lag, reason = replica_lag_check()
            if usable != _State.usable:
                logger.warning("read replica %s: %s", "in use" if usable else "skipped", reason)
            _State.checked_at, _State.usable, _State.lag, _State.reason = now, usable, lag, reason
        return _State.usable, _State.lag, _State.reason


def replica_status_forget() -> None:
    """Forget the last check (tests; an operator after a fail-over): the next read checks again."""
    with _State.lock:
        _State.checked_at = float("-inf")


def _primary_in_transaction() -> bool:
    return connections[PRIMARY].in_atomic_block


def read_alias(model: type | None = None) -> str:
    """The alias a read of ``model`` (None: raw SQL) goes to under the rules above."""
    if not _reports.get() or not replica_configured():
        return PRIMARY
    if model is not None and model._meta.label_lower in PRIMARY_ONLY:
        return PRIMARY
    if _primary_in_transaction():
        return PRIMARY
    usable, _lag, _reason = replica_status()
    return REPLICA if usable else PRIMARY


def report_connection():
    """The connection raw SQL of a statistic, report or export reads through (inside ``replica_reads``)."""
    return connections[read_alias()]


@contextmanager
def replica_reads() -> Iterator[None]:
    """Statistics, reports and exports: reads inside go to the replica when it is usable (see the module)."""
    token = _reports.set(True)
    try:
        yield
    finally:
        _reports.reset(token)


def replica_view(view: Callable[..., Any]) -> Callable[..., Any]:
    """A view (or any function) whose reads are a report's: run inside ``replica_reads``."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with replica_reads():
            return view(*args, **kwargs)

    return wrapped


class ReplicaRouter:
    """settings.DATABASE_ROUTERS when REPLICA_DATABASE_URL is set."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        return read_alias(model)

    def db_for_write(self, model: type, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database, two copies of it

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == PRIMARY  # the replica is read-only: it gets the schema by replication
