"""The benchmark databases: each bench script names its own PostgreSQL database in DATABASE_URL; these
helpers talk to the server's maintenance database to see whether it exists and to create or re-create it.

Imported by the bench scripts (run as ``python bench/bench_*.py``, so this folder is on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def server_connection(url: str):
    """An autocommit connection to the ``postgres`` database of the server ``url`` names."""
    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(
        dbname="postgres",
        user=parts.username or "postgres",
        password=parts.password,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
    )
    conn.autocommit = True
    return conn


def database_exists(url: str) -> bool:
    conn = server_connection(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database_name(url)])
            return cur.fetchone() is not None
    finally:
        conn.close()


def database_create(url: str, *, drop_first: bool = False) -> None:
    """Create the database ``url`` names (dropping it first when ``drop_first``)."""
    from psycopg2 import sql

    name = sql.Identifier(database_name(url))
    conn = server_connection(url)
    try:
        with conn.cursor() as cur:
            if drop_first:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            cur.execute(sql.SQL("CREATE DATABASE {}").format(name))
    finally:
        conn.close()


def database_ensure(url: str, *, migrate: bool = True) -> None:
    """Create the database when it does not exist, then apply the migrations (``manage.py migrate``)."""
    if not database_exists(url):
        database_create(url)
    if migrate:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, check=True)


# ---------------------------------------------------------------- honest baselines (docs/benchmarks.md)
#
# A baseline is the same work done the plainest way (one hand-written statement, a plain COPY), measured in the same
# run. It is only fair when it is planned with statistics (ANALYZE first: without them the planner nests loops over
# millions of rows) and writes into the same layout the code writes into. A baseline slower than the code is a
# planning accident, not a limit: the benchmark then fails with its plan printed, instead of reporting a flattering
# ratio below 1.


def analyze(cur, *tables: str) -> float:
    """ANALYZE the named tables (all of the database when none), before a baseline is planned; returns seconds."""
    start = time.perf_counter()
    cur.execute("ANALYZE " + ", ".join(tables) if tables else "ANALYZE")
    return time.perf_counter() - start


def explain(cur, sql_text: str, params=None, *, label: str = "baseline") -> str:
    """The plan the baseline statement will run with (plain EXPLAIN: nothing executed), printed and returned."""
    cur.execute("EXPLAIN " + sql_text, params)
    plan = "\n".join(row[0] for row in cur.fetchall())
    print(f"plan of the {label}:\n{plan}", flush=True)
    return plan


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


class Verdicts:
    """Ratios of the code to its baselines, measured in the same run; ``finish`` fails the benchmark (exit 1) when a
    baseline was slower than the code. Goals are reported (met / missed), not enforced: seconds differ by machine."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, float | None]] = []

    def ratio(
        self, label: str, code_seconds: float, baseline_seconds: float, *, goal: float | None = None, unit: str = "s"
    ) -> float:
        ratio = code_seconds / baseline_seconds if baseline_seconds > 0 else float("inf")
        self.rows.append((label, code_seconds, baseline_seconds, goal))
        verdict = "" if goal is None else f" (goal ≤ {goal:.1f}×: {'met' if ratio <= goal else 'MISSED'})"
        print(
            f"ratio {label}: {code_seconds:.2f} {unit} ÷ {baseline_seconds:.2f} {unit} = {ratio:.2f}×{verdict}",
            flush=True,
        )
        return ratio

    def slower_baselines(self) -> list[str]:
        return [
            f"{label}: the baseline ({base:.2f}) is slower than the code ({code:.2f}) — a planning accident or an "
            "unfair layout, not a limit; read its plan above"
            for label, code, base, _goal in self.rows
            if base > code
        ]

    def finish(self) -> None:
        problems = self.slower_baselines()
        for problem in problems:
            print(f"FAIL {problem}", file=sys.stderr, flush=True)
        if problems:
            sys.exit(1)


def section_write(heading: str, section: str) -> None:
    """Replace only this benchmark's section (from ``heading`` to the next ``## ``) of docs/benchmarks.md."""
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if heading in text:
        before, _sep, after = text.partition(heading)
        rest = after.split("\n## ", 1)
        text = before + section.rstrip("\n") + "\n" + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def index_definitions(cur, table: str, target: str) -> list[str]:
    """CREATE INDEX statements of every index of ``table`` (primary key and unique ones included), rewritten for
    ``target``: a baseline built by hand ends with the same indexes as the table the code wrote into."""
    cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
        "ORDER BY indexname",
        [table],
    )
    out = []
    for name, definition in cur.fetchall():
        head, _on, tail = definition.partition(f" ON {current_schema_prefix(cur)}{table} ")
        if not tail:
            head, _on, tail = definition.partition(f" ON {table} ")
        head = head.replace(f"INDEX {name}", f"INDEX bench_{name}"[:70], 1)
        out.append(f"{head} ON {target} {tail}")
    return out


def current_schema_prefix(cur) -> str:
    cur.execute("SELECT current_schema()")
    return cur.fetchone()[0] + "."


def copy_baseline(cur, tables: list[tuple[str, str]], *, with_indexes: bool = True) -> list[tuple[str, float]]:
    """A plain COPY of the rows already in each (table, columns) into a bare copy of the table, then (with_indexes)
    the table's own indexes built on it: the same rows and the same indexes at the end, the plainest way.

    The rows are exported to files first (not timed); the copies are made in the caller's transaction, which the
    caller rolls back. Returns (step, seconds) per table and a last row with the total."""
    import tempfile

    steps: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for table, columns in tables:
            files[table] = Path(tmp) / f"{table}.tsv"
            with files[table].open("w") as out:
                cur.copy_expert(f"COPY (SELECT {columns} FROM {table} ORDER BY id) TO STDOUT", out)
        cur.execute("SET LOCAL synchronous_commit = off")
        cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for table, columns in tables:
            target = f"bench_copy_{table}"
            cur.execute(f"CREATE TABLE {target} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)")
            indexes = index_definitions(cur, table, target) if with_indexes else []
            start = time.perf_counter()
            with files[table].open() as data:
                cur.copy_expert(f"COPY {target} ({columns}) FROM STDIN", data, 1 << 20)
            for statement in indexes:
                cur.execute(statement)
            steps.append(
                (
                    f"COPY into a bare copy of `{table}`" + (f", then its {len(indexes)} indexes" if indexes else ""),
                    time.perf_counter() - start,
                )
            )
    steps.append(("total", sum(seconds for _step, seconds in steps)))
    return steps


def database_drop(url: str) -> None:
    """Drop the benchmark database ``url`` names (the disk is shared: benchmarks drop what they made)."""
    from psycopg2 import sql

    conn = server_connection(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database_name(url))))
    finally:
        conn.close()


def explain_requests(requests: list[tuple[str, object]]) -> str:
    """EXPLAIN of every SELECT that each (label, callable) sends, captured by running it once in process: the plans of
    an endpoint's statements (the API benchmark's baseline and code), after the caller's ANALYZE."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    out = []
    for label, call in requests:
        with CaptureQueriesContext(connection) as captured:
            call()
        for query in captured.captured_queries:
            one_line = " ".join(query["sql"].split())  # a statement written out in a module spans lines
            if not one_line.upper().startswith(("SELECT", "WITH")):
                continue
            with connection.cursor() as cur:
                cur.execute("EXPLAIN " + query["sql"])
                plan = "\n".join(row[0] for row in cur.fetchall())
            out.append(f"-- {label}: {one_line[:160]}\n{plan}")
    text = "\n\n".join(out)
    print(text, flush=True)
    return text
