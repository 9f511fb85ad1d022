"""The import of a stored payment file: one transaction runs the steps in order.

Lines staged and checked (``line_checks``); a strict file with a bad line is rolled back and marked rejected
with its report; then what is due and what is open, payments and their allocations (``allocation``), the
reconciliation, and the change-feed events of the payments.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.exchange.payment_files import statements as q
from contributions.exchange.payment_files import triggers
from contributions.exchange.payment_files.allocation import (
    StrictLineTurnedBad,
    record_payment_events,
    record_payments,
)
from contributions.exchange.payment_files.line_checks import LineCounts, TotalsMismatch, line_counts, load_lines
from contributions.exchange.payment_files.reconciliation import reconcile
from contributions.exchange.problems import line_problem_text
from contributions.models import LineStatus, PaymentFile, PaymentFileLine, PaymentFileMode, PaymentFileStatus
from contributions.uploads import UploadError
from registry.locks import ALL_FILES, AdvisoryLock, advisory_try_xact_lock, advisory_xact_lock
from registry.task_queue import task_enqueue_on_commit

REPORT_MAX_LINES = 1000  # messages kept in a rejection report; the counts are always complete


class _Rejected(Exception):
    def __init__(self, report: dict[str, Any]):
        super().__init__("rejected")
        self.report = report


class _Laps:
    """Seconds each step took, for the file's report."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.mark = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.mark, 3)
        self.mark = now


def payment_file_process(*, payment_file_id: int, data: bytes | None = None) -> PaymentFile:
    """Import a queued payment file (idempotent: a file no longer queued is returned as it is).

    One transaction: lines, payments, allocations, reconciliation and change-feed events commit together.
    A strict file with bad lines is rolled back and marked rejected with its report.
    """
    started = time.perf_counter()
    payment_file = PaymentFile.objects.select_related("office", "uploaded_by").get(pk=payment_file_id)
    if payment_file.status != PaymentFileStatus.QUEUED:
        return payment_file
    try:
        with transaction.atomic():
            if not _file_lock(payment_file):
                return payment_file  # another worker imports this file right now (a second message for it)
            locked = PaymentFile.objects.select_for_update().get(pk=payment_file.pk)
            if locked.status != PaymentFileStatus.QUEUED:
                return locked
            _import(payment_file, data, started=started)
    except _Rejected as rejected:
        PaymentFile.objects.filter(pk=payment_file.pk).update(
            status=PaymentFileStatus.REJECTED,
            line_count=rejected.report["lines"],
            bad_count=rejected.report["bad"],
            report=rejected.report,
            error=rejected.report.get("message", ""),
            finished_at=timezone.now(),
            seconds=round(time.perf_counter() - started, 3),
        )
    except UploadError as exc:
        PaymentFile.objects.filter(pk=payment_file.pk).update(
            status=PaymentFileStatus.FAILED, error=str(exc), finished_at=timezone.now()
        )
    except (OperationalError, InterfaceError):
        # The connection was lost (terminated, the server restarted): nothing of the file was written and it stays
        # queued; the task retries, and the sweeper sends it again sooner (services.sweeper).
        raise
    except DatabaseError as exc:
        # Nothing of the file was written; it can simply be uploaded again (a failed file does not count as
        # imported). A reference the API recorded meanwhile is not one of these: the line becomes a repeat or a
        # bad line (allocation._payments_insert_or_recheck).
        PaymentFile.objects.filter(pk=payment_file.pk).update(
            status=PaymentFileStatus.FAILED,
            error=_("导入时数据库报错，本文件未写入任何到账，请重新上传：%(error)s") % {"error": str(exc)[:500]},
            finished_at=timezone.now(),
        )
    payment_file.refresh_from_db()
    return payment_file


def _import(payment_file: PaymentFile, data: bytes | None, *, started: float) -> None:
    """The steps, inside the transaction that holds the file's row lock."""
    triggers_off = _transaction_prepare()
    if data is None:
        with payment_file.file.open("rb") as handle:
            data = handle.read()
    laps = _Laps()
    try:
        counts = load_lines(payment_file, data, triggers_off=triggers_off)
    except TotalsMismatch as mismatch:
        lines = PaymentFileLine.objects.filter(payment_file=payment_file).count()
        raise _Rejected({"lines": lines, "bad": 0, "shown": 0, "problems": [], "message": str(mismatch)}) from None
    laps.lap("load_and_check")
    if counts.bad and payment_file.mode == PaymentFileMode.STRICT:
        raise _Rejected({**_report(payment_file, counts), "timings": laps.timings})
    periods = _periods(payment_file)
    try:
        recorded = record_payments(payment_file, periods=periods, triggers_off=triggers_off, lap=laps.lap)
    except StrictLineTurnedBad:
        # A line's reference was recorded for another payer or amount meanwhile: rejected as the checks would have.
        raise _Rejected({**_report(payment_file, line_counts(payment_file)), "timings": laps.timings}) from None
    laps.lap("credit")
    if recorded.lines_changed:
        counts = line_counts(payment_file)  # lines whose reference the API recorded meanwhile: repeats or bad now
    reconcile(payment_file, periods=periods, due_ready=True)
    laps.lap("reconciliation")
    record_payment_events(triggers_off=triggers_off)
    laps.lap("change_events")
    # Late-fee bills (滞纳金) of the bills the file paid in full after their due date, after the commit.
    task_enqueue_on_commit("contributions.late_fee_bills_sweep", payment_file.pk)
    _file_finish(payment_file, counts, credit=recorded.credit, periods=periods, timings=laps.timings, started=started)


def _file_lock(payment_file: PaymentFile) -> bool:
    """The file's own lock, for this transaction: held while a worker imports it, so the sweeper (services.sweeper)
    tells a file being imported from one whose worker is gone, and a second message for it returns at once."""
    with connection.cursor() as cur:
        return advisory_try_xact_lock(cur, AdvisoryLock.PAYMENT_FILE, payment_file.pk)


def _transaction_prepare() -> bool:
    """One payment file at a time, memory for the big joins; returns whether per-row triggers may go off."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        # Besides the file's own lock: files are still recorded one at a time (their payers' allocations).
        advisory_xact_lock(cur, AdvisoryLock.PAYMENT_FILE, ALL_FILES)
        cur.execute(q.WORK_MEM)
        cur.execute(q.JIT_OFF)
        _temp_buffers(cur)
        return triggers.row_triggers_off_allowed(cur)


def _temp_buffers(cur) -> None:
    """Room for the temporary tables in memory (``statements.TEMP_BUFFERS``), when the session still allows it."""
    cur.execute(q.TEMP_BUFFERS_NOW)
    if cur.fetchone()[0]:
        return
    try:
        with transaction.atomic():
            cur.execute(q.TEMP_BUFFERS)
    except DatabaseError:
        pass  # the session has used a temporary table already: the import runs, with less memory


def _file_finish(
    payment_file: PaymentFile,
    counts: LineCounts,
    *,
    credit: Decimal,
    periods: list[int],
    timings: dict[str, float],
    started: float,
) -> None:
    report = _report(payment_file, counts) if counts.bad else {}
    PaymentFile.objects.filter(pk=payment_file.pk).update(
        status=PaymentFileStatus.PENDING_LINES if counts.bad else PaymentFileStatus.IMPORTED,
        line_count=counts.lines,
        imported_count=counts.new,
        repeat_count=counts.repeat + counts.duplicate,
        bad_count=counts.bad,
        open_bad_count=counts.bad,
        imported_amount=counts.new_amount,
        credit_amount=credit,
        bad_amount=counts.bad_amount,
        periods=periods,
        report={**report, "timings": timings},
        finished_at=timezone.now(),
        seconds=round(time.perf_counter() - started, 3),
    )


def _report(payment_file: PaymentFile, counts: LineCounts) -> dict[str, Any]:
    bad = list(
        PaymentFileLine.objects.filter(payment_file=payment_file, status=LineStatus.BAD)
        .order_by("line_no")
        .values_list("line_no", "problem_code", "problem_detail")[:REPORT_MAX_LINES]
    )
    return {
        "lines": counts.lines,
        "bad": counts.bad,
        "shown": len(bad),
        "problems": [
            {"line": line, "code": code, "detail": detail, "message": line_problem_text(line, code, detail)}
            for line, code, detail in bad
        ],
    }


def _periods(payment_file: PaymentFile) -> list[int]:
    return sorted(
        PaymentFileLine.objects.filter(payment_file=payment_file, period__isnull=False)
        .order_by()
        .values_list("period", flat=True)
        .distinct()
    )
