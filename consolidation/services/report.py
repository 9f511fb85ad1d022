"""The batch report after the check, and the reconciliation after the apply: every line received is accounted
for (rejected with its reason, created, merged, queued for a clerk, already present), per kind of file, and
the history's amounts agree to the fen with what the contribution record now holds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Min, Sum

from consolidation.models import Conflict, ImportBatch, RejectedLine
from consolidation.sql import (
    EMPLOYER_TABLE,
    OFFICE_TABLE,
    PERSON_TABLE,
    STAGED_EMPLOYER_TABLE,
    STAGED_ENROLLMENT_TABLE,
    STAGED_PERSON_TABLE,
)

SAMPLES = 5


def batch_check_report(batch: ImportBatch) -> dict[str, Any]:
    """Per file: lines and bad lines; per kind and problem: how many, their amount, the first few lines."""
    files = {
        f.kind: {
            "name": f.name,
            "lines": f.totals.get("rows", f.line_count),
            "bad": f.bad_count,
            "format": f.file_format,
            "encoding": f.encoding,
        }
        for f in batch.files.all()
    }
    return {"files": files, "problems": rejected_summary(batch)}


def rejected_summary(batch: ImportBatch) -> list[dict[str, Any]]:
    rows = (
        RejectedLine.objects.filter(batch=batch)
        .values("kind", "code")
        .annotate(count=Count("id"), amount=Sum("amount"), first=Min("line_no"))
        .order_by("kind", "-count", "code")
    )
    summary = []
    for row in rows:
        samples = list(
            RejectedLine.objects.filter(batch=batch, kind=row["kind"], code=row["code"])
            .order_by("line_no")
            .values_list("line_no", "detail")[:SAMPLES]
        )
        summary.append(
            {
                "kind": row["kind"],
                "code": row["code"],
                "count": row["count"],
                "amount": str(row["amount"]) if row["amount"] is not None else None,
                "samples": [[line, detail] for line, detail in samples],
            }
        )
    return summary


def registry_counts(batch: ImportBatch) -> dict[str, int]:
    """Persons (not merged away) and employers of the batch's district in the registry now."""
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT (SELECT count(*) FROM {PERSON_TABLE} p JOIN {OFFICE_TABLE} o ON o.id = p.residence_office_id
                    WHERE o.path LIKE %(path)s AND p.merged_into_id IS NULL),
                   (SELECT count(*) FROM {EMPLOYER_TABLE} e JOIN {OFFICE_TABLE} o ON o.id = e.office_id
                    WHERE o.path LIKE %(path)s)
            """,
            {"path": batch.district.path + "%"},
        )
        persons, employers = cur.fetchone()
    return {"persons": persons, "employers": employers}


def _outcomes(table: str, batch: ImportBatch, months: bool = False) -> dict[str, Any]:
    extra = ", coalesce(sum(months), 0)" if months else ""
    with connection.cursor() as cur:
        cur.execute(f"SELECT outcome, count(*){extra} FROM {table} WHERE batch_id = %s GROUP BY outcome", [batch.pk])
        rows = cur.fetchall()
    counts = {row[0]: row[1] for row in rows}
    result: dict[str, Any] = {"counts": counts}
    if months:
        result["months"] = {row[0]: int(row[2]) for row in rows}
    return result


def _check(code: str, expected: Any, actual: Any) -> dict[str, Any]:
    return {"code": code, "expected": str(expected), "actual": str(actual), "ok": expected == actual}


def batch_reconciliation(batch: ImportBatch, *, before: dict[str, int], history: dict[str, Any]) -> dict[str, Any]:
    """Computed at the end of the apply, in its transaction, from what the database now holds."""
    persons = _outcomes(STAGED_PERSON_TABLE, batch)["counts"]
    employers = _outcomes(STAGED_EMPLOYER_TABLE, batch)["counts"]
    enrollment_outcomes = _outcomes(STAGED_ENROLLMENT_TABLE, batch, months=True)
    enrollments, months = enrollment_outcomes["counts"], enrollment_outcomes["months"]
    after = registry_counts(batch)
    queued = Conflict.objects.filter(batch=batch).count()

    def total(counts: dict[str, int]) -> int:
        return sum(counts.values())

    checks = [
        _check(
            "persons_lines",
            total(persons),
            sum(persons.get(k, 0) for k in ("rejected", "created", "matched", "duplicate", "held")),
        ),
        _check(
            "employers_lines",
            total(employers),
            sum(employers.get(k, 0) for k in ("rejected", "created", "matched", "duplicate")),
        ),
        _check(
            "enrollments_lines",
            total(enrollments),
            sum(enrollments.get(k, 0) for k in ("rejected", "created", "present", "overlap", "held")),
        ),
        _check(
            "enrollments_months",
            sum(months.values()),
            sum(months.get(k, 0) for k in ("rejected", "created", "present", "overlap", "held")),
        ),
        _check("registry_persons", before["persons"] + persons.get("created", 0), after["persons"]),
        _check("registry_employers", before["employers"] + employers.get("created", 0), after["employers"]),
    ]
    if history:
        parts = ("rejected_check", "loaded", "present", "duplicate", "differs", "held", "not_imported")
        checks += [
            _check("history_lines", history["received_rows"], sum(history[f"{k}_rows"] for k in parts)),
            _check(
                "history_amount",
                Decimal(history["received_amount"]).quantize(Decimal("0.01")),
                sum((Decimal(history[f"{k}_amount"]) for k in parts), Decimal(0)).quantize(Decimal("0.01")),
            ),
            _check("history_loaded", history["inserted_rows"], history["loaded_rows"]),
        ]
    return {
        "persons": {**persons, "queued": queued},
        "employers": employers,
        "enrollments": enrollments,
        "enrollment_months": months,
        "history": {k: str(v) for k, v in history.items()},
        "registry_before": before,
        "registry_after": after,
        "checks": checks,
        "agrees": all(c["ok"] for c in checks),
    }
