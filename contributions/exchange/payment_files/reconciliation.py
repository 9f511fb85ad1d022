"""Reconciliation: per payer and period, matched, amount mismatch, billed but unpaid, or unknown payer,
computed in SQL and stored with a summary per office and category."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Q

from contributions.exchange.payment_files import statements as q
from contributions.exchange.payment_files.sql import analyze_temp, drop_temp, render, temp_table_as
from contributions.models import PaymentFile, ReconciliationItem, ReconciliationSummary
from registry.models import OfficeLevel


def _key_filter(keys: list[tuple[int, int]] | None, key_expr: str, period_expr: str) -> tuple[str, list[Any]]:
    """SQL narrowing to the (payer key, period) pairs ``keys`` (None: no narrowing), with its params."""
    if keys is None:
        return "", []
    if not keys:
        return " AND 1 = 0", []
    clause = " OR ".join([f"({key_expr} = %s AND {period_expr} = %s)"] * len(keys))
    return f" AND ({clause})", [v for key in keys for v in key]


def due_create(payment_file: PaymentFile, *, periods: list[int], keys: list[tuple[int, int]] | None = None) -> None:
    """The temporary table ``pf_due``: per payer key and period, what the issued bills ask for less what
    payments not reported in this file paid (after a correction, for its ``keys``; the import makes the same
    table with its open items, before recording the file's payments: ``allocation.record_payments``)."""
    scope = payment_file.office.path + "%"
    with connection.cursor() as cur:
        drop_temp(cur, "pf_due")
        if periods:
            marks = ", ".join(["%s"] * len(periods))
            key_sql, key_params = _key_filter(keys, "COALESCE(b.employer_id, -b.person_id)", "b.period")
            cur.execute(
                temp_table_as("pf_due", render(q.DUE_BY_PAYER_AND_PERIOD, periods=marks, key_filter=key_sql)),
                [*periods, payment_file.pk, *periods, scope, *key_params],
            )
        else:
            cur.execute(temp_table_as("pf_due", q.DUE_NONE))
        analyze_temp(cur, "pf_due")


def reconcile(
    payment_file: PaymentFile,
    *,
    periods: list[int],
    keys: list[tuple[int, int]] | None = None,
    line_ids: list[int] | None = None,
    due_ready: bool = False,
) -> None:
    """Compute and store the reconciliation of the file (or only of ``keys`` = (payer key, period) and the
    unknown-payer items of ``line_ids``, after a correction). A payer key is the employer id, or minus the
    person id. ``due`` is what the payer's issued bills of the period ask for less what payments not
    reported in this file paid; ``paid`` is the sum of this file's payments for the payer and period.
    ``due_ready``: the due table is there already (the import makes it with its open items, before the
    payments: ``allocation.record_payments``)."""
    partial = keys is not None or line_ids is not None
    if partial:
        _items_delete(payment_file, keys=keys, line_ids=line_ids)
    if not due_ready:
        due_create(payment_file, periods=periods, keys=keys)
    file_id = payment_file.pk
    with connection.cursor() as cur:
        key_sql, key_params = _key_filter(keys, "COALESCE(l.employer_id, -l.person_id)", "l.period")
        cur.execute(render(q.ITEMS_PAID, key_filter=key_sql), [file_id, file_id, *key_params])
        cur.execute(render(q.ITEMS_BILLED_UNPAID), [file_id, file_id])
        line_sql, line_params = ("", [])
        if partial:
            ids = line_ids or []
            line_sql = f" AND l.id IN ({', '.join(['%s'] * len(ids))})" if ids else " AND 1 = 0"
            line_params = list(ids)
        cur.execute(
            render(q.ITEMS_UNKNOWN_PAYER, line_filter=line_sql),
            [file_id, payment_file.office_id, OfficeLevel.DISTRICT, payment_file.office.path + "%", file_id]
            + line_params,
        )
        drop_temp(cur, "pf_due")
        ReconciliationSummary.objects.filter(payment_file=payment_file).delete()
        cur.execute(render(q.SUMMARY_INSERT), [file_id])


def _items_delete(payment_file: PaymentFile, *, keys: list[tuple[int, int]] | None, line_ids: list[int] | None) -> None:
    """Delete the items a correction recomputes: those of ``keys`` and the unknown-payer items of ``line_ids``."""
    selector = Q(pk__in=[])
    for key, period in keys or []:
        payer = Q(employer_id=key) if key > 0 else Q(person_id=-key)
        selector |= payer & Q(period=period)
    if line_ids:
        selector |= Q(line_id__in=line_ids)
    ReconciliationItem.objects.filter(payment_file=payment_file).filter(selector).delete()
