"""Monthly partitions (native PostgreSQL range partitioning) of the tables that grow forever (docs/scaling.md).

Partitioned by month of their time column: the API call log (``at``) and the change-feed outbox (``occurred_at``),
Asia/Shanghai months; and by contribution period (an integer YYYYMM): the bill lines of contributions (``period``,
migration contributions 0018; registered by contributions with ``period_partitioned_register``). One partition
``<table>_pYYYYMM`` each, and a ``<table>_default`` partition that only catches a row no monthly partition was made
for (a safety net: then the beat job reports that month instead of creating it; bill lines of a period before the
first partition, e.g. back pay for years before the system, stay there for good).

PostgreSQL's rules and what they mean here:

- a primary key or unique index must contain the partition key: the primary key is (id, <time column>). ``id`` still
  comes from one sequence (unique in practice); Django keeps treating ``id`` as the primary key, which is what it
  looks rows up by;
- no foreign key can point at a partitioned table unless it carries the key: webhook deliveries keep the change's id
  without a database constraint (events are append-only, never deleted; an archived month's deliveries are long done);
- row triggers (the txid stamp, append-only) are created on the parent and cloned to every partition, also future ones.

``partitioned_table_convert`` / ``partitioned_table_revert`` turn an existing table into a partitioned one and back,
copying the rows and re-creating indexes (under the same names), foreign keys and triggers from the catalogue: the
reversible migration 0019 of registry uses them. ``partitions_ensure`` creates the months ahead through the owner's
SECURITY DEFINER function ``registry_partitions_ensure`` (the application role may not CREATE; the beat task
``registry.partitions_ensure`` calls it nightly); ``partition_detach`` detaches an old month for archive (owner role:
``manage.py partitions --detach-before YYYY-MM``), after which it is an ordinary table to dump and drop.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from typing import Any

from django.db import connection
from django.utils import timezone

from registry.models import ApiCallLog, ChangeEvent

# Table → its partition key (a timestamp with time zone, partitioned by Asia/Shanghai month).
MONTHLY_PARTITIONED = {
    ApiCallLog._meta.db_table: "at",
    ChangeEvent._meta.db_table: "occurred_at",
}
# Table → its partition key (an integer period YYYYMM, partitioned by period). Registered by the app that owns the
# table, in its AppConfig.ready (contributions: the bill lines): registry sits below the apps it would have to import.
PERIOD_PARTITIONED: dict[str, str] = {}
TIME_ZONE = "Asia/Shanghai"
_ZONE = zoneinfo.ZoneInfo(TIME_ZONE)
MONTHS_AHEAD = 3
_NAME = re.compile(r"^(?P<parent>[a-z_]+)_p(?P<month>\d{6})$")


def period_partitioned_register(table: str, key: str) -> None:
    """Declare ``table`` partitioned by the integer period ``key`` (YYYYMM): for the months ahead and the archive."""
    PERIOD_PARTITIONED[table] = key


def partitioned_tables() -> dict[str, str]:
    """Every table partitioned by month → its partition key."""
    return MONTHLY_PARTITIONED | PERIOD_PARTITIONED


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def month_add(month: datetime.date, n: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + n
    return datetime.date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: datetime.date) -> str:
    return f"{table}_p{month:%Y%m}"


def _bounds(table: str, month: datetime.date) -> tuple[str, str]:
    """The range of one month: periods YYYYMM, or an Asia/Shanghai month as timestamptz literals."""
    nxt = month_add(month, 1)
    if table in PERIOD_PARTITIONED:
        return f"{month:%Y%m}", f"{nxt:%Y%m}"
    return f"{month:%Y-%m-%d} 00:00:00+08", f"{nxt:%Y-%m-%d} 00:00:00+08"


def _first_month(table: str, first: Any) -> datetime.date:
    """The month of the smallest key value of ``table`` (a period YYYYMM or a timestamp)."""
    if table in PERIOD_PARTITIONED:
        return datetime.date(int(first) // 100, int(first) % 100, 1)
    return month_start(timezone.localtime(first, _ZONE).date())


def is_partitioned(cur: Any, table: str) -> bool:
    cur.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))", [table])
    return bool(cur.fetchone()[0])


def partitions_list(cur: Any, table: str) -> list[str]:
    """The partitions of ``table`` by name (monthly ones in order, the default last)."""
    cur.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
        [table],
    )
    names = [row[0] for row in cur.fetchall()]
    return sorted(names, key=lambda n: (n.endswith("_default"), n))


# ---------------------------------------------------------------- catalogue


def _indexes(cur: Any, table: str) -> list[tuple[str, str, bool]]:
    """(name, definition, is the primary key) of every index of ``table``."""
    cur.execute(
        """
        SELECT ic.relname, pg_get_indexdef(i.indexrelid), i.indisprimary
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = to_regclass(%s) ORDER BY ic.relname
        """,
        [table],
    )
    return cur.fetchall()


def _foreign_keys(cur: Any, table: str) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) "
        "AND contype = 'f' ORDER BY conname",
        [table],
    )
    return cur.fetchall()


def _referencing(cur: Any, table: str) -> list[str]:
    cur.execute(
        "SELECT conrelid::regclass::text || '.' || conname FROM pg_constraint "
        "WHERE confrelid = to_regclass(%s) AND contype = 'f' AND conrelid <> confrelid",
        [table],
    )
    return [row[0] for row in cur.fetchall()]


def _triggers(cur: Any, table: str) -> list[tuple[str, str, str]]:
    """(name, definition, enabled: O origin, A always, R replica, D disabled) of the table's own triggers."""
    cur.execute(
        "SELECT tgname, pg_get_triggerdef(oid), tgenabled FROM pg_trigger WHERE tgrelid = to_regclass(%s) "
        "AND NOT tgisinternal AND tgparentid = 0 ORDER BY tgname",
        [table],
    )
    return cur.fetchall()


def _on_table(definition: str, old: str, new: str) -> str:
    """An index or trigger definition read from ``old`` rewritten for ``new`` (ON [ONLY] [public.]old)."""
    return re.sub(rf" ON (ONLY )?(public\.)?{re.escape(old)}\b", f" ON {new}", definition, count=1)


def _enable(table: str, trigger: str, enabled: str) -> str | None:
    return {
        "A": f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}",
        "R": f"ALTER TABLE {table} ENABLE REPLICA TRIGGER {trigger}",
        "D": f"ALTER TABLE {table} DISABLE TRIGGER {trigger}",
    }.get(enabled)


def _identity_sequence(cur: Any, table: str, column: str) -> str | None:
    cur.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
    return cur.fetchone()[0]


# ---------------------------------------------------------------- converting


def partitioned_table_convert(cur: Any, *, table: str, key: str, months_ahead: int = MONTHS_AHEAD) -> int:
    """Make ``table`` a table partitioned by month of ``key`` (timestamptz, or a period YYYYMM), keeping its rows, index names,
    foreign keys, triggers and id sequence. Returns the number of rows moved. Refuses when a foreign key of another
    table points at it (drop that constraint first: PostgreSQL cannot point one at a partitioned table by id)."""
    if is_partitioned(cur, table):
        return 0
    referencing = _referencing(cur, table)
    if referencing:
        raise RuntimeError(f"foreign keys point at {table}: {', '.join(referencing)}")
    old = f"{table}_unpartitioned"
    indexes, fks, triggers = _indexes(cur, table), _foreign_keys(cur, table), _triggers(cur, table)
    sequence = _identity_sequence(cur, table, "id")
    cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    cur.execute(f"SELECT COALESCE(MAX(id), 0), MIN({key}) FROM {table}")
    max_id, first = cur.fetchone()
    cur.execute(f"ALTER TABLE {table} RENAME TO {old}")
    for name, _definition, _primary in indexes:
        cur.execute(f"ALTER INDEX {name} RENAME TO {name[:50]}_unpart")
    # The id keeps coming from a sequence of the same name, owned by the new table's column (PostgreSQL 15 has no
    # identity columns on partitioned tables).
    if sequence:
        cur.execute(f"ALTER SEQUENCE {sequence} RENAME TO {table}_id_seq_unpart")
    cur.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE) "
        f"PARTITION BY RANGE ({key})"
    )
    cur.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
    cur.execute(f"SELECT setval('{table}_id_seq', %s + 1, false)", [max_id])
    cur.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
    cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, {key})")
    today = timezone.localdate(timezone=_ZONE)
    month = month_start(today)
    if first is not None:
        month = min(month, _first_month(table, first))
    while month <= month_add(month_start(today), months_ahead):
        partition_create(cur, table=table, month=month)
        month = month_add(month, 1)
    cur.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    # Rows first, triggers after: the txid stamp would otherwise overwrite the feed order of every event.
    cur.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    moved = cur.rowcount
    # Definitions read before the renames: they name the original indexes, triggers and table.
    for _name, definition, primary in indexes:
        if not primary:
            cur.execute(definition)
    for name, definition in fks:
        cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for name, definition, enabled in triggers:
        cur.execute(definition)
        statement = _enable(table, name, enabled)
        if statement:
            cur.execute(statement)
    cur.execute(f"DROP TABLE {old}")
    cur.execute(f"ANALYZE {table}")
    return moved


def partitioned_table_revert(cur: Any, *, table: str, key: str) -> int:
    """The way back: ``table`` as one ordinary table with an identity id and primary key (id) again, rows kept."""
    if not is_partitioned(cur, table):
        return 0
    old = f"{table}_partitioned"
    indexes, fks, triggers = _indexes(cur, table), _foreign_keys(cur, table), _triggers(cur, table)
    cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
    max_id = cur.fetchone()[0]
    cur.execute(f"ALTER TABLE {table} RENAME TO {old}")
    for name, _definition, _primary in indexes:
        cur.execute(f"ALTER INDEX {name} RENAME TO {name[:50]}_part")
    cur.execute(f"ALTER TABLE {old} ALTER COLUMN id DROP DEFAULT")
    cur.execute(f"DROP SEQUENCE IF EXISTS {table}_id_seq")
    cur.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)")
    cur.execute(f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s + 1, false)", [max_id])
    cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id)")
    cur.execute(f"INSERT INTO {table} OVERRIDING SYSTEM VALUE SELECT * FROM {old} ORDER BY id")
    moved = cur.rowcount
    for _name, definition, primary in indexes:
        if not primary:
            cur.execute(_on_table(definition, table, table))  # a partitioned index says ON ONLY
    for name, definition in fks:
        cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for name, definition, enabled in triggers:
        cur.execute(definition)
        statement = _enable(table, name, enabled)
        if statement:
            cur.execute(statement)
    cur.execute(f"DROP TABLE {old}")
    cur.execute(f"ANALYZE {table}")
    return moved


# ---------------------------------------------------------------- the months ahead, the months archived

# The owner's function the application role calls (registry.security.dbroles.SECURITY_DEFINER_FUNCTIONS).
_ENSURE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION registry_partitions_ensure(months_ahead integer) RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    parent text;
    first date := date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')::date;
    m date;
    name text;
BEGIN
    IF months_ahead < 0 OR months_ahead > 24 THEN
        RAISE EXCEPTION 'months_ahead must lie between 0 and 24, not %', months_ahead;
    END IF;
    FOR parent IN
        SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = ANY (ARRAY[%(tables)s]::text[])
        ORDER BY c.relname
    LOOP
        FOR i IN 0..months_ahead LOOP
            m := (first + make_interval(months => i))::date;
            name := parent || '_p' || to_char(m, 'YYYYMM');
            CONTINUE WHEN to_regclass('public.' || name) IS NOT NULL;
            BEGIN
                IF parent = ANY (ARRAY[%(period_tables)s]::text[]) THEN  -- an integer period YYYYMM
                    EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES FROM (%L) TO (%L)',
                                   name, parent, to_char(m, 'YYYYMM'), to_char(m + interval '1 month', 'YYYYMM'));
                ELSE
                    EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES FROM (%L) TO (%L)',
                                   name, parent, to_char(m, 'YYYY-MM-DD') || ' 00:00:00+08',
                                   to_char(m + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+08');
                END IF;
                RETURN NEXT name;
            EXCEPTION WHEN check_violation THEN
                -- Rows of that month already sit in the default partition (the job did not run in time): an operator
                -- moves them (docs/scaling.md); the table keeps taking rows meanwhile.
                RETURN NEXT 'skipped ' || name || ': rows of that month are in ' || parent || '_default';
            END;
        END LOOP;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION registry_partitions_ensure(integer) FROM PUBLIC;
"""


def ensure_function_sql() -> str:
    """The owner's function for every table partitioned by month (those registered by the apps included)."""
    quoted = {
        name: ", ".join(f"'{t}'" for t in tables)
        for name, tables in (("tables", partitioned_tables()), ("period_tables", PERIOD_PARTITIONED))
    }
    # An empty ARRAY[] needs its type; the ::text[] casts in the function carry it.
    return _ENSURE_FUNCTION.replace("%(tables)s", quoted["tables"]).replace(
        "%(period_tables)s", quoted["period_tables"]
    )


ENSURE_FUNCTION_DROP = "DROP FUNCTION IF EXISTS registry_partitions_ensure(integer);"


def partitions_ensure(*, months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the monthly partitions of this month and ``months_ahead`` months ahead that are missing (owner's
    function). Returns what it created or skipped. Nothing on SQLite."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cur:
        cur.execute("SELECT registry_partitions_ensure(%s)", [months_ahead])
        return [row[0] for row in cur.fetchall()]


def partition_create(cur: Any, *, table: str, month: datetime.date) -> str:
    """Create ``table``'s partition of ``month`` when it is missing (owner role); returns its name."""
    name = partition_name(table, month_start(month))
    cur.execute("SELECT to_regclass(%s) IS NULL", [name])
    if cur.fetchone()[0]:
        lo, hi = _bounds(table, month_start(month))
        cur.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)", [lo, hi])
    return name


def partition_detach(cur: Any, *, table: str, month: datetime.date) -> str:
    """Detach ``table``'s partition of ``month`` for archive (owner role): afterwards an ordinary table, outside the
    feed and the log, to dump and drop. Refuses this month and later months."""
    if table not in partitioned_tables():
        raise ValueError(f"{table} is not partitioned by month")
    if month_start(month) >= month_start(datetime.date.today()):
        raise ValueError("only a past month can be detached")
    name = partition_name(table, month_start(month))
    if name not in partitions_list(cur, table):
        raise ValueError(f"{name} is not a partition of {table}")
    cur.execute(f"ALTER TABLE {table} DETACH PARTITION {name}")
    return name
