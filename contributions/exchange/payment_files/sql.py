"""How the payment-file import speaks SQL: PostgreSQL in production, SQLite for quick local runs.

``render`` fills a statement of ``statements`` with its table names and this database's spelling; the other
helpers make, drop and analyze the import's temporary tables.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection

from contributions.exchange.payment_files.statements import TABLES

# A version-7 UUID (RFC 9562): the first 48 bits are the milliseconds since 1970 (clock_timestamp(), which moves
# during a statement), the rest random (gen_random_uuid()'s), with the version nibble set to 7 (0100 -> 0111: bits
# 52 and 53 of set_bit's numbering, the low bits of byte 6's high nibble). A million payments written by one
# statement then land at the right-hand end of the uid's unique index, as the ids do, instead of one random page
# of a large index each (issue 22); the variant bits stay gen_random_uuid()'s (10). The uid keeps its meaning
# (unique, not guessable: 74 random bits); it shows when the payment was recorded, as recorded_at does.
UUID_TIME_ORDERED = (
    "CAST(encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING "
    "substring(int8send(CAST(floor(extract(epoch FROM clock_timestamp()) * 1000) AS bigint)) FROM 3) "
    "FROM 1 FOR 6), 52, 1), 53, 1), 'hex') AS uuid)"
)


def dialect() -> dict[str, str]:
    if connection.vendor == "postgresql":
        return {
            "re": "~",
            "num": "NUMERIC",
            "int": "BIGINT",
            "greatest": "GREATEST",
            "least": "LEAST",
            "uuid": UUID_TIME_ORDERED,
            "json": "CAST(json_build_object({args}) AS jsonb)",
            "temp": "CREATE TEMP TABLE {name} ON COMMIT DROP AS",
            # Keeps the planner from pulling a subquery up into its parent, which would copy each of the
            # subquery's expressions into every place the parent uses them (the line checks ran four times).
            "fence": "OFFSET 0",
        }
    return {
        "re": "REGEXP",
        "num": "REAL",
        "int": "INTEGER",
        "greatest": "MAX",
        "least": "MIN",
        "uuid": "lower(hex(randomblob(16)))",
        "json": "json_object({args})",
        "temp": "CREATE TEMP TABLE {name} AS",
        "fence": "",
    }


def render(statement: str, **parts: str) -> str:
    """``statement`` with the table names, this database's spelling and the step's ``parts`` filled in."""
    return statement.format(**TABLES, **dialect(), **parts)


def temp_table_as(name: str, select: str) -> str:
    """``CREATE TEMP TABLE name AS select`` (dropped at COMMIT on PostgreSQL); ``select`` already rendered."""
    return f"{dialect()['temp'].format(name=name)}\n{select}"


def datetime_value(value: datetime.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def drop_temp(cur, *names: str) -> None:
    for name in names:
        cur.execute(f"DROP TABLE IF EXISTS {'pg_temp' if connection.vendor == 'postgresql' else 'temp'}.{name}")


def analyze_temp(cur, name: str) -> None:
    # Temporary tables get no statistics from autovacuum; without them the planner guesses badly at this size.
    if connection.vendor == "postgresql":
        cur.execute(f"ANALYZE {name}")
