"""Migrated contribution history (ContributionHistory): the set-based load the data consolidation calls, and the
withdrawal of rows a merge loaded when the merge is undone. PostgreSQL for the load."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import HISTORY_INSURANCES, ContributionHistory, history_columns
from contributions.selectors import person_recorded_periods
from registry.bulk import row_triggers
from registry.models import Office, Person

# The columns of contribution_history_insert_select's SELECT, in order: the month, then each insurance's base,
# employer and individual amount (HISTORY_INSURANCES order), then the source.
HISTORY_INSERT_COLUMNS = (
    "person_id", "employer_id", "period",
    *(c for insurance in HISTORY_INSURANCES for c in history_columns(insurance)),
    "office_id", "source_batch_id", "source_line", "created_at",
)  # fmt: skip


def contribution_history_insert_select(
    *, select_sql: str, params: dict | list | tuple = (), triggers_off: bool = False, skip_existing: bool = True
) -> int:
    """INSERT of the history rows <select_sql> yields (HISTORY_INSERT_COLUMNS): a row whose (person, period,
    office) is already recorded is skipped (a re-delivered month changes nothing).

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
        insert += " ON CONFLICT (person_id, period, office_id) WHERE source_batch_id IS NOT NULL DO NOTHING"
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
    """Delete migrated history rows that a merge loaded, when that merge is undone — the only DELETE the database
    allows on this table. On PostgreSQL through the owner's SECURITY DEFINER function
    ``contributions_history_withdraw`` (migration 0019): the application role may not delete history itself.
    Returns rows deleted."""
    if not ids:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT contributions_history_withdraw(%s::bigint[])", [list(ids)])
            return cur.fetchone()[0]
    deleted, _by_model = ContributionHistory.objects.filter(pk__in=ids, source_batch_id__isnull=False).delete()
    return deleted


@transaction.atomic
def contribution_history_add(*, rows: list[dict[str, Any]]) -> list[int]:
    """Record a few history rows (a merge loads a held person's months for the survivor): a row whose person,
    period and office are already recorded is skipped. Returns the ids of the rows written."""
    if not rows:
        return []
    keys = {(r["person_id"], r["period"], r["office_id"]) for r in rows}
    existing = set(
        ContributionHistory.objects.filter(
            person_id__in={k[0] for k in keys}, period__in={k[1] for k in keys}, source_batch_id__isnull=False
        ).values_list("person_id", "period", "office_id")
    )
    objs = []
    for row in rows:
        key = (row["person_id"], row["period"], row["office_id"])
        if key in existing:
            continue
        existing.add(key)
        obj = ContributionHistory(**row)
        obj.full_clean(validate_unique=False, validate_constraints=False)
        objs.append(obj)
    return [obj.pk for obj in ContributionHistory.objects.bulk_create(objs)]


@dataclass(frozen=True)
class TransferredMonths:
    """One line of another city's 参保缴费凭证: the months ``first``..``last`` (YYYYMM, inclusive) paid on ``base``
    with these monthly employer and individual amounts."""

    first: int
    last: int
    base: Decimal
    employer_amount: Decimal
    individual_amount: Decimal

    def periods(self) -> list[int]:
        out, year, month = [], self.first // 100, self.first % 100
        while year * 100 + month <= self.last:
            out.append(year * 100 + month)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out


@transaction.atomic
def contribution_history_transfer_in(
    *,
    person: Person,
    insurance_type: str,
    office: Office,
    source_city: str,
    lines: list[TransferredMonths],
    case_id: int,
) -> int:
    """Record the months a person paid in another city as history with that city (养老保险关系转入,
    国办发〔2009〕66号 art. 5: the months paid elsewhere count as paid here, toward the 15 years of 社会保险法
    art. 16). ``office`` is the receiving district. A month the city already records (billed here or recorded by a
    district) is refused: the same month paid twice is refunded by the sending city, not counted twice.
    Called by the completion of the transfer-in case, inside its transaction. Returns the months written."""
    periods = sorted({p for line in lines for p in line.periods()})
    if not periods:
        raise ValidationError({"transfer_months": [_("请填写转入的缴费期间。")]})
    if periods[-1] > int(timezone.localdate().strftime("%Y%m")):
        raise ValidationError({"transfer_months": [_("转入的缴费期间不能晚于本月。")]})
    clash = person_recorded_periods(person=person, insurance_type=insurance_type, periods=periods)
    if clash:
        raise ValidationError(
            {
                "transfer_months": [
                    _("%(periods)s 已在本市有缴费记录，重复缴费期间不能转入（由转出地清退）。")
                    % {"periods": "、".join(str(p) for p in clash[:12]) + ("等" if len(clash) > 12 else "")}
                ]
            }
        )
    base, employer, individual = history_columns(insurance_type)
    by_period = {}  # one row per month (a month in two lines of the certificate: the first line)
    for number, line in enumerate(lines, start=1):
        for period in line.periods():
            by_period.setdefault(
                period,
                ContributionHistory(
                    person=person,
                    period=period,
                    **{base: line.base, employer: line.employer_amount, individual: line.individual_amount},
                    office=office,
                    source_batch_id=None,
                    source_line=number,
                    source_city=source_city,
                    source_case_id=case_id,
                ),
            )
    rows = list(by_period.values())
    for row in rows:
        row.full_clean(validate_unique=False, validate_constraints=False)
    return len(ContributionHistory.objects.bulk_create(rows))
