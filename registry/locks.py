"""Every PostgreSQL advisory lock of the project, in one place.

A lock is taken in the two-integer form ``pg_advisory_*lock(namespace, key)``: the namespace names what is
locked, the key says which one (a period, a file's id, a hash bucket; 0 when there is one of its kind).

NEVER REUSE OR RENUMBER A NAMESPACE. A worker of the previous release still running during a deploy, a
database trigger installed by a migration and a benchmark all take these numbers: two names on one
number would block each other for no reason, and a renumbered one would let two writers that must
exclude each other run side by side. Add a new member with a new number; leave retired ones here, commented.

Other sessions' locks: ``SELECT classid AS namespace, objid AS key, pid FROM pg_locks WHERE locktype =
'advisory' AND objsubid = 2``. SQLite (``make run``) serialises writers by itself and has no advisory locks: there every call
here succeeds at once without a statement (a try-lock is always taken, nothing is held), so a caller needs no
vendor check of its own (the payroll run once missed one and ``make run`` failed).
"""

from __future__ import annotations

import enum
from typing import Any

INT4_MAX = 2**31 - 1


class AdvisoryLock(enum.IntEnum):
    """Namespaces (the first key, an int4). Never reuse or renumber: see the module's docstring."""

    # Key: the bucket (0–255) of hashtext(person_id:insurance_type). Taken by the statement trigger
    # registry_enrollment_no_overlap (registry migration 0010), whose SQL holds this number as a literal.
    ENROLLMENT_OVERLAP = 20261129
    # Key: the period (YYYYMM). Session lock held by the worker executing a bill run of that period.
    BILL_RUN = 7110
    # Key: a payment file's id — transaction lock held by the worker importing that file (the sweeper sees a
    # queued file nobody imports by its absence) — and ALL_FILES, taken after it: one file recorded at a time.
    PAYMENT_FILE = 7120
    # Key: a bill export's id. Transaction lock held by the worker writing that file: the sweeper
    # (contributions.services.sweeper) sees a queued export nobody writes by its absence.
    BILL_EXPORT = 7130
    # Key: 0. One contribution-income posting run at a time (funds.services.posting). The number spells "FUND".
    INCOME_POSTING = 0x46554E44
    # Key: a consolidation batch's id: session lock held by the worker loading or applying it (a sweeper sees a
    # dead worker by its absence); key 0 (ALL_BATCHES): one batch applied at a time in the city.
    CONSOLIDATION_BATCH = 20261219
    # Key: the period (YYYYMM). Session lock held by the worker executing the benefit payroll of that month
    # (payroll.services.run; its sweeper sees a run nobody executes by the lock's absence).
    PAYROLL_RUN = 20261207
    # Key: a bank file's id. Transaction lock held while its return file is recorded (one return at a time).
    PAYROLL_BANK_FILE = 20261208


ALL_FILES = 0  # PaymentFile ids start at 1
ALL_BATCHES = 0  # ImportBatch ids start at 1


def _key(key: int) -> int:
    if not 0 <= key <= INT4_MAX:
        raise ValueError(f"advisory-lock key {key} is outside int4; fold it into the namespace's key space first")
    return key


def _postgres(cursor: Any) -> bool:
    return getattr(getattr(cursor, "db", None), "vendor", "postgresql") == "postgresql"


def advisory_xact_lock(cursor: Any, namespace: AdvisoryLock, key: int = 0) -> None:
    """Wait for the lock; PostgreSQL releases it when the transaction ends."""
    if not _postgres(cursor):
        return
    cursor.execute("SELECT pg_advisory_xact_lock(%s::int4, %s::int4)", [int(namespace), _key(key)])


def advisory_try_lock(cursor: Any, namespace: AdvisoryLock, key: int = 0) -> bool:
    """Take the session lock if free (True), else False at once; release it with ``advisory_unlock``."""
    if not _postgres(cursor):
        return True
    cursor.execute("SELECT pg_try_advisory_lock(%s::int4, %s::int4)", [int(namespace), _key(key)])
    return bool(cursor.fetchone()[0])


def advisory_try_xact_lock(cursor: Any, namespace: AdvisoryLock, key: int = 0) -> bool:
    """Take the transaction lock if free (True), else False at once; PostgreSQL releases it when the transaction
    ends."""
    if not _postgres(cursor):
        return True
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s::int4, %s::int4)", [int(namespace), _key(key)])
    return bool(cursor.fetchone()[0])


def advisory_unlock(cursor: Any, namespace: AdvisoryLock, key: int = 0) -> None:
    """Release a session lock taken with ``advisory_try_lock``."""
    if not _postgres(cursor):
        return
    cursor.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", [int(namespace), _key(key)])


def advisory_xact_lock_range(cursor: Any, namespace: AdvisoryLock, keys: range) -> None:
    """Wait for every key of ``keys`` in ascending order (a bulk writer taking all of a trigger's buckets)."""
    if not _postgres(cursor):
        return
    cursor.execute(
        "SELECT pg_advisory_xact_lock(%s::int4, k::int4) FROM generate_series(%s, %s) k ORDER BY k",
        [int(namespace), _key(keys.start), _key(keys.stop - 1)],
    )


def advisory_lock_held(cursor: Any, namespace: AdvisoryLock, key: int) -> bool:
    """Whether some session of this database holds the lock now (a worker still at work on ``key``)."""
    if not _postgres(cursor):
        return False
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = %s AND objid = %s)",
        [int(namespace), _key(key)],
    )
    return bool(cursor.fetchone()[0])
