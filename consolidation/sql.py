"""SQL text shared by the load and the apply: column references of a raw table, the insurance code table,
temporary tables. Values always go in as parameters; only identifiers made here are formatted in."""

from __future__ import annotations

from django.db import connection

from consolidation.layout import INSURANCE_ALIASES
from consolidation.models import (
    Conflict,
    ConflictCandidate,
    RejectedLine,
    StagedEmployer,
    StagedEnrollment,
    StagedHistory,
    StagedPerson,
)
from contributions.models import ContributionHistory
from registry.models import Employer, Enrollment, Office, Person

# The tables the raw SQL names, taken from their models (registry/tests/test_sql_knowledge.py keeps it so).
PERSON_TABLE = Person._meta.db_table
EMPLOYER_TABLE = Employer._meta.db_table
ENROLLMENT_TABLE = Enrollment._meta.db_table
OFFICE_TABLE = Office._meta.db_table
HISTORY_TABLE = ContributionHistory._meta.db_table
STAGED_PERSON_TABLE = StagedPerson._meta.db_table
STAGED_EMPLOYER_TABLE = StagedEmployer._meta.db_table
STAGED_ENROLLMENT_TABLE = StagedEnrollment._meta.db_table
STAGED_HISTORY_TABLE = StagedHistory._meta.db_table
REJECTED_LINE_TABLE = RejectedLine._meta.db_table
CONFLICT_TABLE = Conflict._meta.db_table
CONFLICT_CANDIDATE_TABLE = ConflictCandidate._meta.db_table


def col(columns: dict[str, int], key: str, alias: str = "r") -> str:
    """The raw-table column holding layout column ``key`` (trimmed), or '' when the file lacks it."""
    position = columns.get(key)
    return f"btrim({alias}.c{position + 1})" if position is not None else "''::text"


def raw_columns(width: int, alias: str = "r") -> str:
    return ", ".join(f"{alias}.c{i}" for i in range(1, width + 1))


def blank_line(width: int, alias: str = "r") -> str:
    """True for a line whose every cell is empty (skipped, as a blank line between data lines)."""
    return "(" + " AND ".join(f"{alias}.c{i} = ''" for i in range(1, width + 1)) + ")"


def insurance_code(text: str) -> str:
    """The insurance type of an accepted name or code (any case) in ``text``, NULL for none: a CASE expression
    (a join to a VALUES list was planned inside the per-line loop of the enrollments' check: a hash table built
    for every line, 130 µs a line)."""
    pairs: dict[str, str] = {}
    for code, aliases in INSURANCE_ALIASES.items():
        for alias in {code, *aliases}:
            assert pairs.setdefault(alias.lower(), code) == code, alias
    branches = " ".join(f"WHEN '{alias}' THEN '{code}'" for alias, code in sorted(pairs.items()))
    return f"CASE lower({text}) {branches} END"


def temp_drop(cur, *names: str) -> None:
    for name in names:
        cur.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")


def analyze(cur, name: str) -> None:
    """Temporary and freshly filled tables have no statistics yet: the planner would guess badly at this size.
    A temporary table is the session's own; the consolidation's raw and staging tables are the owner's (the
    application role analyses them through the owner's function, migration 0004)."""
    if name.startswith("consolidation_"):
        cur.execute("SELECT consolidation_analyze(%s)", [name])
    else:
        cur.execute(f"ANALYZE {name}")


def table_exists(name: str) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return bool(cur.fetchone()[0])
