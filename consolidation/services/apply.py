"""Applying a checked batch (status apply_queued → applying → applied): one transaction, one batch at a time in
the city (the matching sees every batch applied before, of every district).

1. **Employers**: by credit code; by the old 9-character organisation code inside exactly one registry credit
   code (characters 9–17); lines of one employer in the file are one employer; the rest with a valid credit
   code are created, the others not imported.
2. **Persons**: by ID number (15-digit numbers converted to 18 at the check) — sure, merged; a name whose
   pinyin differs from the registry's opens a field conflict. Lines of one number in the file are one person.
   The rest with a valid number are created; when a created person may be someone already registered (same
   birth date and sex, same name or pinyin, ID bodies one digit or two swapped digits apart, one of the two
   numbers a converted 15-digit number without a check character) a conflict pairs the two persons.
   A line with an invalid or missing number is matched by blocks of birth date and sex, then the pinyin of the
   names (pg_trgm similarity) and the digits of the numbers: only the check character wrong with the same name
   is sure; other candidates hold the line for a clerk; without candidates it is not imported.
3. **Enrollments** of imported persons are created unless the same one exists or it would overlap one.
4. **History** loads into ``contributions.ContributionHistory`` (a month already loaded from this district
   changes nothing); a held person's lines wait in ``StagedHistory``.
5. The reconciliation is computed and stored (services.report).
"""

from __future__ import annotations

import time
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consolidation.layout import LayoutError
from consolidation.models import BatchStatus, FileKind, FileStatus, ImportBatch, Outcome
from consolidation.services import apply_history, apply_persons
from consolidation.services.apply_common import params, rejected_from_raw
from consolidation.services.employer_candidates import employer_candidates
from consolidation.services.load import batch_raw_tables_drop, file_reload
from consolidation.services.report import batch_reconciliation, registry_counts
from consolidation.services.runner import APPLY_LOCK, batch_held, require_postgres
from consolidation.sql import (
    EMPLOYER_TABLE,
    ENROLLMENT_TABLE,
    HISTORY_TABLE,
    OFFICE_TABLE,
    PERSON_TABLE,
    STAGED_EMPLOYER_TABLE,
    analyze,
    table_exists,
)
from registry.bulk import employers_insert_select, row_triggers_off_allowed, rows_lock_key_share
from registry.locks import advisory_xact_lock
from registry.models import Office, OfficeLevel

BULK_TABLES = (PERSON_TABLE, EMPLOYER_TABLE, ENROLLMENT_TABLE, HISTORY_TABLE)


def batch_apply(*, batch_id: int) -> ImportBatch:
    """Apply a batch queued for it (idempotent: any other status is returned as it is). A database error rolls
    everything back and marks the batch failed (it can be queued again)."""
    require_postgres()
    with batch_held(batch_id) as held:
        batch = ImportBatch.objects.select_related("district").get(pk=batch_id)
        if not held or batch.status not in (BatchStatus.APPLY_QUEUED, BatchStatus.APPLYING):
            return batch
        ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.APPLYING, attempts=batch.attempts + 1)
        try:
            _raw_tables_restore(batch)
            timings = _apply(batch)
        except LayoutError as exc:
            ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.FAILED, error=str(exc)[:2000])
        except DatabaseError as exc:
            ImportBatch.objects.filter(pk=batch.pk).update(
                status=BatchStatus.FAILED,
                error=_("导入时数据库报错，本批次未写入任何数据，可重新导入：%(error)s") % {"error": str(exc)[:800]},
            )
        else:
            batch_raw_tables_drop(batch)
            ImportBatch.objects.filter(pk=batch.pk).update(timings={**(batch.timings or {}), **timings})
    batch.refresh_from_db()
    return batch


def _raw_tables_restore(batch: ImportBatch) -> None:
    """The raw tables are UNLOGGED: a database crash since the check empties them. Load such a file again
    (its staging rows and bad lines first removed), under the batch's lock."""
    for batch_file in batch.files.filter(status=FileStatus.LOADED):
        if table_exists(batch_file.raw_table):
            with connection.cursor() as cur:
                cur.execute(f"SELECT count(*) FROM {batch_file.raw_table}")
                if cur.fetchone()[0] == batch_file.line_count:
                    continue
        file_reload(batch, batch_file)


def _apply(batch: ImportBatch) -> dict[str, float]:
    timings: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[f"apply_{name}"] = round(now - mark, 3)
        mark = now

    files = {f.kind: f for f in batch.files.filter(status=FileStatus.LOADED)}
    with transaction.atomic():
        with connection.cursor() as cur:
            advisory_xact_lock(cur, *APPLY_LOCK)
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute("SET LOCAL jit = off")  # see services.load: compiling the inlined checks costs more
        before = registry_counts(batch)
        ctx = {
            "batch": batch,
            "files": files,
            "triggers_off": row_triggers_off_allowed(BULK_TABLES),
            "city_id": Office.objects.get(level=OfficeLevel.CITY).pk,
            "now": timezone.now(),
        }
        _apply_employers(ctx)
        employer_candidates(ctx)
        lap("employers")
        apply_persons.persons_apply(ctx)
        lap("persons")
        apply_persons.enrollments_apply(ctx)
        lap("enrollments")
        history = apply_history.history_apply(ctx)
        lap("history")
        reconciliation = batch_reconciliation(batch, before=before, history=history)
        lap("reconciliation")
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.APPLIED, reconciliation=reconciliation, applied_at=timezone.now(), error=""
        )
    return timings


# ---------------------------------------------------------------------------------------------
# Employers.


def _apply_employers(ctx: dict[str, Any]) -> None:
    p = params(ctx)
    with connection.cursor() as cur:
        # Sure: the credit code, or the organisation code inside exactly one registry credit code.
        cur.execute(
            f"""
            UPDATE {STAGED_EMPLOYER_TABLE} s SET outcome = 'matched', employer_id = e.id
            FROM {EMPLOYER_TABLE} e
            WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND s.credit_code <> '' AND e.credit_code = s.credit_code
            """,
            p,
        )
        cur.execute(
            f"""
            WITH m AS MATERIALIZED (
                SELECT substr(credit_code, 9, 9) AS org, min(id) AS id FROM {EMPLOYER_TABLE}
                GROUP BY 1 HAVING count(*) = 1
            )
            UPDATE {STAGED_EMPLOYER_TABLE} s SET outcome = 'matched', employer_id = m.id
            FROM m
            WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND s.org_code <> '' AND m.org = s.org_code
            """,
            p,
        )
        # One employer delivered on several lines: the first line stands for it. The duplicates (and above, the
        # organisation codes) are computed once (MATERIALIZED): planned as the inner side of a nested loop, the
        # grouping ran again for every staged line — 176 s for 10,000 employers at a 200,000-person batch.
        cur.execute(
            f"""
            WITH d AS MATERIALIZED (
                SELECT credit_code, min(line_no) AS first FROM {STAGED_EMPLOYER_TABLE}
                WHERE batch_id = %(batch)s AND outcome = 'pending' AND credit_code <> ''
                GROUP BY credit_code HAVING count(*) > 1
            )
            UPDATE {STAGED_EMPLOYER_TABLE} s SET outcome = 'duplicate'
            FROM d
            WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND s.credit_code = d.credit_code
              AND s.line_no > d.first
            """,
            p,
        )
    if ctx["triggers_off"]:
        rows_lock_key_share(
            table=OFFICE_TABLE,
            ids_sql=f"SELECT office_id FROM {STAGED_EMPLOYER_TABLE} WHERE batch_id = %s AND outcome = 'pending'",
            params=[ctx["batch"].pk],
        )
    created = employers_insert_select(
        select_sql=f"""
            SELECT gen_random_uuid(), s.credit_code, s.name, s.name_pinyin, s.employer_type, s.industry,
                s.risk_class, s.office_id, 'active', %(now)s, %(now)s
            FROM {STAGED_EMPLOYER_TABLE} s
            WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND s.credit_code <> ''
            ORDER BY s.line_no
        """,
        params=p,
        triggers_off=ctx["triggers_off"],
    )
    with connection.cursor() as cur:
        if created:
            cur.execute(
                f"""
                UPDATE {STAGED_EMPLOYER_TABLE} s SET outcome = 'created', employer_id = e.id
                FROM {EMPLOYER_TABLE} e JOIN bulk_new_employers n ON n.id = e.id
                WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND e.credit_code = s.credit_code
                """,
                p,
            )
        cur.execute(
            f"""
            UPDATE {STAGED_EMPLOYER_TABLE} s SET employer_id = l.employer_id
            FROM {STAGED_EMPLOYER_TABLE} l
            WHERE s.batch_id = %(batch)s AND s.outcome = 'duplicate' AND l.batch_id = %(batch)s
              AND l.credit_code = s.credit_code AND l.outcome IN ('matched', 'created')
            """,
            p,
        )
        cur.execute(
            f"""
            UPDATE {STAGED_EMPLOYER_TABLE} SET problem_detail = org_code
            WHERE batch_id = %(batch)s AND outcome = 'pending'
            """,
            p,
        )
    rejected_from_raw(
        ctx,
        kind=FileKind.EMPLOYERS,
        staged_table=STAGED_EMPLOYER_TABLE,
        code="employer_no_match",
        where="s.outcome = 'pending'",
    )
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {STAGED_EMPLOYER_TABLE} SET outcome = '{Outcome.REJECTED}', problem_code = 'employer_no_match' "
            "WHERE batch_id = %(batch)s AND outcome = 'pending'",
            p,
        )
        analyze(cur, STAGED_EMPLOYER_TABLE)
