"""Trigger switching: bulk writes without PostgreSQL's per-row foreign-key triggers, when safe and allowed.

A million-line file writes about four million rows whose foreign keys PostgreSQL would otherwise check one by
one at COMMIT (80 s of a 290 s import). The import may switch those per-row triggers off for its own writes
(``session_replication_role = replica``, ``SET LOCAL``) because it locks first what the keys point at
(``lock_payers``).
"""

from __future__ import annotations

from django.db import DatabaseError, connection

from contributions.exchange.payment_files import statements as q
from contributions.exchange.payment_files.sql import render
from contributions.models import PaymentFile
from registry.models import Employer, Office, Person


def row_triggers_off_allowed(cur) -> bool:
    """May this import write its lines, payments, allocations and change events without per-row FK triggers?

    Only on PostgreSQL, only when the database user may set ``session_replication_role`` (a superuser, or on
    PostgreSQL 15+ ``GRANT SET ON PARAMETER session_replication_role``), and only while those tables
    (``statements.BULK_TABLES``) carry no INSERT trigger of their own that replica mode would silence (but the
    change events' txid stamp, which ``change_events_record`` writes itself). Otherwise the triggers simply run.
    """
    if connection.vendor != "postgresql":
        return False
    cur.execute(q.TRIGGERS_REPLICA_WOULD_SILENCE, [list(q.BULK_TABLES), list(q.SILENCEABLE_TRIGGERS)])
    if cur.fetchone()[0]:
        return False
    cur.execute(q.SUPERUSER_AND_VERSION)
    superuser, version = cur.fetchone()
    if superuser:
        return True
    if version < 150000:
        return False
    cur.execute(q.MAY_SET_REPLICATION_ROLE)
    return bool(cur.fetchone()[0])


def row_triggers(cur, *, on: bool) -> None:
    """Switch the per-row triggers of this transaction's writes off (replica) or back on (origin).

    Every key these writes carry is safe without the per-row check: the file row is locked by this import;
    payers are locked FOR UPDATE before their payments are written, and the offices of the payments (and of
    their change events) and the uploader's user row FOR KEY SHARE (``lock_payers`` fails the import when one
    of them has gone meanwhile); allocations point at payments of this transaction and at issued bills, which a
    trigger keeps from being changed or deleted.
    Called only when ``row_triggers_off_allowed``. ``SET LOCAL``: a rollback restores the setting too.
    """
    cur.execute(q.SET_REPLICATION_ROLE.format(role="origin" if on else "replica"))


def lock_payers(cur, payment_file: PaymentFile) -> None:
    """Lock every payer of the file's new lines FOR UPDATE (as the API path locks its one payer), and their
    offices and the uploader's user row FOR KEY SHARE; fail when one of them is no longer there.

    Runs before anything that points at them is written: the triggers-off path relies on these locks (and on
    this count) in place of the per-row foreign-key checks.
    """
    rows = (
        (Employer._meta.db_table, "employer_id", "FOR UPDATE", "payers"),
        (Person._meta.db_table, "person_id", "FOR UPDATE", "payers"),
        (Office._meta.db_table, "office_id", "FOR KEY SHARE", "offices"),
    )
    for table, column, lock, what in rows:
        cur.execute(
            render(q.LOCK_AND_COUNT_LINE_TARGETS, payer_table=table, column=column, lock=lock),
            {"file": payment_file.pk},
        )
        locked, expected = cur.fetchone()
        if locked != expected:
            raise DatabaseError(f"{expected - locked} {what} of payment file {payment_file.pk} no longer exist")
    if payment_file.uploaded_by_id:
        cur.execute(render(q.LOCK_UPLOADER), [payment_file.uploaded_by_id])
        if cur.fetchone() is None:
            raise DatabaseError(f"the uploader of payment file {payment_file.pk} no longer exists")
