"""COPY staging: the file's lines into the temporary table ``pf_stage`` (COPY on PostgreSQL, batched INSERT on
SQLite), every cell as text, for the line checks to read in one statement."""

from __future__ import annotations

import csv
import io

from django.db import connection

from contributions.exchange.payment_files import statements as q
from contributions.exchange.payment_files.sql import drop_temp

COPY_CHUNK = 100_000  # lines per COPY: bounds the memory of the CSV buffer
INSERT_BATCH = 5000  # lines per executemany on SQLite


def stage_create(cur) -> None:
    drop_temp(cur, "pf_stage")
    cur.execute(q.STAGE_CREATE.format(on_commit=" ON COMMIT DROP" if connection.vendor == "postgresql" else ""))


def stage_fill(cur, lines) -> int:
    """Load the lines into the staging table in chunks; returns how many."""
    if connection.vendor == "postgresql":
        return _copy(cur, lines)
    count = 0
    batch: list[tuple] = []
    for line in lines:
        batch.append(line)
        count += 1
        if len(batch) >= INSERT_BATCH:
            cur.executemany(q.STAGE_INSERT, batch)
            batch = []
    if batch:
        cur.executemany(q.STAGE_INSERT, batch)
    return count


def _copy(cur, lines) -> int:
    raw = cur.cursor  # psycopg2's own cursor, for COPY
    count = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for line in lines:
        writer.writerow(line)
        count += 1
        if count % COPY_CHUNK == 0:
            buffer.seek(0)
            raw.copy_expert(q.STAGE_COPY, buffer)
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
    buffer.seek(0)
    raw.copy_expert(q.STAGE_COPY, buffer)
    return count
