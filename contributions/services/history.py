"""Migrated contribution history (ContributionHistory): the set-based load the data consolidation calls, and the
withdrawal of rows a merge loaded when the merge is undone. PostgreSQL for the load."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

from contributions.models import ContributionHistory
from registry.bulk import row_triggers

HISTORY_INSERT_COLUMNS = (
    "person_id", "employer_id", "period", "insurance_type", "base", "employer_amount", "individual_amount",
    "office_id", "source_batch_id", "source_line", "created_at",
)  # fmt: skip


def contribution_history_insert_select(
    *, select_sql: str, params: dict | list | tuple = (), triggers_off: bool = False, skip_existing: bool = True
) -> int:
    """INSERT of the history rows <select_sql> yields (HISTORY_INSERT_COLUMNS): a row whose (person,
    period, insurance, office) is already recorded is skipped (a re-delivered month changes nothing).

    The SELECT yields checked values in that column order (period YYYYMM, amounts not negative, the office the
    district that delivered them). ``triggers_off``: the caller locked the persons, employers and office the rows
    point at (registry.bulk.rows_lock_key_share), so PostgreSQL's per-row foreign-key checks are skipped.
    ``skip_existing=False``: a plain INSERT, about a third faster for tens of millions of rows, for a caller that
    knows nothing is recorded yet; a row recorded twice then fails the statement (IntegrityError) and the caller
    tries again with ``skip_existing`` (inside a savepoint, the failure rolls back the rows already written).
    Returns the number of rows written.
    """
    table = ContributionHistory._meta.db_table
    insert = f"INSERT INTO {table} ({', '.join(HISTORY_INSERT_COLUMNS)}) {select_sql}"
    if skip_existing:
        insert += " ON CONFLICT (person_id, period, insurance_type, office_id) DO NOTHING"
    if triggers_off:
        row_triggers(on=False)
    with connection.cursor() as cur:
        cur.execute(insert, params)
        count = cur.rowcount
    if triggers_off:
        row_triggers(on=True)
    return count


@transaction.atomic
def contribution_history_withdraw(*, ids: list[int], acting_user: Any, reason: str) -> int:
    """Delete migrated history rows that a merge loaded, when that merge is undone (the only DELETE the
    database allows on this table, signalled to its trigger for this transaction only). Returns rows deleted."""
    if not ids:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET LOCAL tzsi.history_withdraw = 'on'")
    deleted, _by_model = ContributionHistory.objects.filter(pk__in=ids).delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET LOCAL tzsi.history_withdraw = 'off'")
    return deleted


@transaction.atomic
def contribution_history_add(*, rows: list[dict[str, Any]]) -> list[int]:
    """Record a few history rows (a merge loads a held person's months for the survivor): a row whose person,
    period, insurance and office are already recorded is skipped. Returns the ids of the rows written."""
    if not rows:
        return []
    keys = {(r["person_id"], r["period"], r["insurance_type"], r["office_id"]) for r in rows}
    existing = set(
        ContributionHistory.objects.filter(
            person_id__in={k[0] for k in keys}, period__in={k[1] for k in keys}
        ).values_list("person_id", "period", "insurance_type", "office_id")
    )
    objs = []
    for row in rows:
        key = (row["person_id"], row["period"], row["insurance_type"], row["office_id"])
        if key in existing:
            continue
        existing.add(key)
        obj = ContributionHistory(**row)
        obj.full_clean(validate_unique=False, validate_constraints=False)
        objs.append(obj)
    return [obj.pk for obj in ContributionHistory.objects.bulk_create(objs)]
