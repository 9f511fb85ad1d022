"""FIFO allocation: the payments of the file's new lines and their allocations, for all payers at once.

Payments are recorded exactly as ``payment_record`` records them (one per agency reference, allocated to the
payer's open bill insurances oldest bill first and then in ``INSURANCE_ORDER``, the rest to credit), but by
interval overlap: per payer, payment *i* (in line order) covers [P(i-1), P(i)) of the running sum of its
payments, open item *j* (in allocation order) needs [B(j-1), B(j)) of the running sum of open amounts; the
allocation is the overlap, computed with window functions and one join. Money is handled in integer fen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.exchange.payment_files import statements as q
from contributions.exchange.payment_files import triggers
from contributions.exchange.payment_files.line_checks import lines_recorded_meanwhile
from contributions.exchange.payment_files.sql import analyze_temp, datetime_value, drop_temp, render, temp_table_as
from contributions.models import INSURANCE_ORDER, Channel, Payment, PaymentFile, PaymentFileMode
from registry.feed.changes import change_events_record

REFERENCE_ONCE = "payment_agency_reference_once"  # Payment's unique index on agency_reference


@dataclass(frozen=True)
class Recorded:
    credit: Decimal
    lines_changed: bool  # some new lines turned repeat or bad after their checks: the file's counts are stale


class StrictLineTurnedBad(Exception):
    """A new line of a strict file turned out bad after its checks (``line_checks.lines_recorded_meanwhile``): the
    file is rejected, as its checks would have rejected it."""


def _no_lap(_step: str) -> None:
    pass


def insurance_rank_sql(column: str) -> str:
    """The rank of an insurance type in ``INSURANCE_ORDER`` (the order a bill's insurances are paid in)."""
    whens = " ".join(f"WHEN '{ins.value}' THEN {i}" for i, ins in enumerate(INSURANCE_ORDER))
    return f"CASE {column} {whens} ELSE 99 END"


def record_payments(
    payment_file: PaymentFile, *, periods: list[int], triggers_off: bool, lap: Callable[[str], None] = _no_lap
) -> Recorded:
    """Payments of the file's new lines and their allocations (FIFO by interval overlap). Returns the credit, and
    whether lines changed status (``_payments_insert_or_recheck``).

    First, with the payers locked, what is due in the file's ``periods`` (``pf_due``, for ``reconcile``) and what
    is open, read together (``_open_items``). Leaves ``pf_pay`` (the new payments) for ``record_payment_events``.
    ``lap(step)`` is called after each step (the file's report keeps how long each took)."""
    now = datetime_value(timezone.now())
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            triggers.lock_payers(cur, payment_file)
        lap("payer_locks")
        drop_temp(cur, "pf_pay", "pf_bills", "pf_open", "pf_due")
        _open_items(cur, payment_file, periods)
        lap("open_items_and_due")
        if triggers_off:
            triggers.row_triggers(cur, on=False)
        written, lines_changed = _payments_insert_or_recheck(cur, payment_file, now, periods)
        if written:
            analyze_temp(cur, "pf_pay")
            lap("payments")
            user = payment_file.uploaded_by_id
            cur.execute(render(q.ALLOCATE_TO_BILLS), [now, user])  # BillSettlement's trigger runs inside
            lap("allocations_and_settlements")
            credit = _allocate_credit(cur, [_("多缴转结余"), now, user])
        drop_temp(cur, "pf_bills", "pf_open")
        if triggers_off:
            triggers.row_triggers(cur, on=True)
    return Recorded(credit.quantize(Decimal("0.01")) if written else Decimal("0.00"), lines_changed)


def _open_items(cur, payment_file: PaymentFile, periods: list[int]) -> None:
    """``pf_bills`` and ``pf_open`` (the bills due in ``periods`` and the payers' open bills, each bill insurance's
    open amount in allocation order), and from them ``pf_due``: the bills and their totals read once for both
    (issue 22). Runs before the file's payments are recorded and after their payers are locked."""
    open_only = q.OPEN_BILLS_ONLY if connection.vendor == "postgresql" else ""  # SQLite keeps no settlement
    in_periods = f"b.period IN ({', '.join(['%s'] * len(periods))})" if periods else "1 = 0"
    scope = payment_file.office.path + "%"
    cur.execute(
        temp_table_as("pf_bills", render(q.PAYER_AND_DUE_BILLS, open_only=open_only, in_periods=in_periods)),
        [*periods, scope, payment_file.pk, *periods, scope, payment_file.pk, *periods, scope],
    )
    analyze_temp(cur, "pf_bills")
    cur.execute(
        temp_table_as("pf_open", render(q.OPEN_ITEMS, insurance_rank=insurance_rank_sql("t.insurance_type"))),
        [payment_file.pk],
    )
    analyze_temp(cur, "pf_open")
    cur.execute(temp_table_as("pf_due", q.DUE_FROM_OPEN_ITEMS))
    analyze_temp(cur, "pf_due")


def _payments_insert_or_recheck(cur, payment_file: PaymentFile, now, periods: list[int]) -> tuple[int, bool]:
    """``_payments_insert`` under a savepoint; returns how many payments were written and whether lines changed.

    When the API recorded one of the new lines' references while the file was between its line checks and its
    payer locks, the insert meets the reference's unique index: back to the savepoint, those lines become what
    the checks would have made of them (``lines_recorded_meanwhile``: repeats, or bad lines of another payer or
    amount), and the insert runs again. The rest of the file is imported rather than the whole file failed (a
    nightly file of a million lines, reported in real time through the API as well). One savepoint on the
    normal path, no statement more. Each retry changes at least one line (the reference it met has committed),
    else the error stands.
    """
    lines_changed = False
    while True:
        try:
            with transaction.atomic():
                return _payments_insert(cur, payment_file, now), lines_changed
        except IntegrityError as exc:
            if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != REFERENCE_ONCE:
                raise
            repeats, bad = lines_recorded_meanwhile(cur, payment_file)
            if not (repeats or bad):
                raise
            lines_changed = True
            if bad and payment_file.mode == PaymentFileMode.STRICT:
                raise StrictLineTurnedBad from exc
            if bad:
                # A reference recorded for another payer or amount: its payment may have paid bills read as this
                # file's own (pf_open's file_fen, pf_due); read them again without it. A repeat changes nothing
                # there: its payment, of a payer locked since, was read with the line still new, as the file's.
                drop_temp(cur, "pf_bills", "pf_open", "pf_due")
                _open_items(cur, payment_file, periods)


def _payments_insert(cur, payment_file: PaymentFile, now) -> int:
    """One payment per new line, and ``pf_pay``; returns how many payments were written."""
    params = [Channel.FILE, payment_file.uploaded_by_id, now, payment_file.pk]
    if connection.vendor == "postgresql":
        cur.execute(q.PAY_CREATE)
        cur.execute(render(q.PAYMENTS_INSERT_INTO_PAY, payments_insert=render(q.PAYMENTS_INSERT)), params)
        return cur.rowcount
    cur.execute(render(q.PAYMENTS_INSERT), params)
    written = cur.rowcount
    cur.execute(temp_table_as("pf_pay", render(q.PAY_FROM_LINES)), [payment_file.pk])
    return written


def _allocate_credit(cur, params: list) -> Decimal:
    """The rest of each payment to credit; returns the credit's total."""
    credit_insert = render(q.ALLOCATE_CREDIT)
    if connection.vendor == "postgresql":
        cur.execute(q.ALLOCATE_CREDIT_RETURNING_TOTAL.format(credit_insert=credit_insert), params)
        return Decimal(cur.fetchone()[0])
    cur.execute(credit_insert, params)
    cur.execute(render(q.CREDIT_TOTAL_FEN))
    return Decimal(int(cur.fetchone()[0] or 0)) / 100


def record_payment_events(*, triggers_off: bool) -> None:
    """Change-feed events of the file's new payments (``pf_pay``, left by ``record_payments``), then drop it."""
    with connection.cursor() as cur:
        if triggers_off:
            triggers.row_triggers(cur, on=False)  # change_events_record stamps the txid itself; see triggers
        change_events_record(
            change_type="payment", queryset=Payment.objects.filter(pk__in=RawSQL("SELECT payment_id FROM pf_pay", []))
        )
        if triggers_off:
            triggers.row_triggers(cur, on=True)
        drop_temp(cur, "pf_pay")
