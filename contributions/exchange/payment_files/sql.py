"""How the payment-file import speaks SQL: PostgreSQL in production, SQLite for quick local runs.

``render`` fills a statement of ``statements`` with its table names and this database's spelling; the other
helpers make, drop and analyze the import's temporary tables.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection

from contributions.exchange.payment_files.statements import TABLES


def dialect() -> dict[str, str]:
    if connection.vendor == "postgresql":
        return {
            "re": "~",
            "num": "NUMERIC",
            "int": "BIGINT",
            "greatest": "GREATEST",
            "least": "LEAST",
            "uuid": "gen_random_uuid()",
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
