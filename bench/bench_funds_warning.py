"""Funds early-warning benchmark: the nightly job over 10,000,000 ledger entries on PostgreSQL.

    .venv/bin/python bench/bench_funds_warning.py            # DATABASE_URL defaults to …/tzsi_bench_funds

Creates and migrates the database when missing, then (when the ledger holds fewer than BENCH_ENTRIES
entries) generates the ledger set-based with ``generate_series``: BENCH_ENTRIES / 2 balanced transactions
of two entries each, over the 8 funds, the 3 districts and the city office, dated over 2021-01-01 …
BENCH_ON, two thirds contribution income and one third benefit expenditure. The load runs with
``session_replication_role = replica`` and the balance trigger disabled for its transaction (it fires ALWAYS, for
the application; a bulk load of data known to balance is the owner's, who alone may disable it) and ends with
``VACUUM ANALYZE``. Run as the database owner role (DATABASE_URL, or DATABASE_OWNER_URL when set).

Timed in the same run: the nightly job (``funds.services.fund_warning_run``: the aggregate, the
thresholds, 40+ indicator rows, warnings and notices), a re-run of the same night, and the plain aggregate
query of the job alone (the SQL ``selectors.fund_figures_query`` produces). Writes the section
"## Funds: nightly early warning" of docs/benchmarks.md (at the full size, or with BENCH_WRITE_DOCS=1). Goal: the job
under 30 s on a 2-core machine. The baseline is the job's aggregate alone (ANALYZE first, its plan printed); the
benchmark fails when it is slower than the whole job. The database is dropped afterwards unless BENCH_KEEP=1.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tzsi_bench_funds")
if os.environ.get("DATABASE_OWNER_URL"):  # the load needs the owner role (docs/security.md)
    os.environ["DATABASE_URL"] = os.environ["DATABASE_OWNER_URL"]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")
if not os.environ["DATABASE_URL"].startswith("postgres"):
    sys.exit("bench_funds_warning needs PostgreSQL: set DATABASE_URL=postgres://…")

ENTRIES = int(os.environ.get("BENCH_ENTRIES", "10000000"))
ON = datetime.date.fromisoformat(os.environ.get("BENCH_ON", "2025-11-30"))
START = datetime.date(2021, 1, 1)
HEADING = "## Funds: nightly early warning"
KEEP = os.environ.get("BENCH_KEEP") == "1"
WRITE_DOCS = os.environ.get("BENCH_WRITE_DOCS") == "1" or ENTRIES == 10_000_000


def generate(cur, transactions: int) -> float:
    days = (ON - START).days + 1
    start = time.perf_counter()
    cur.execute("BEGIN")
    cur.execute("SET LOCAL session_replication_role = replica")
    cur.execute("ALTER TABLE funds_ledgerentry DISABLE TRIGGER ledger_entry_checks")
    cur.execute(
        "TRUNCATE funds_notice, funds_fundwarning, funds_fundindicator, funds_ledgerentry, funds_ledgertransaction CASCADE"
    )
    cur.execute("SELECT array_agg(id ORDER BY id) FROM funds_fund")
    funds = cur.fetchone()[0]
    cur.execute("SELECT array_agg(id ORDER BY level DESC, code) FROM registry_office WHERE level <= 2")
    offices = cur.fetchone()[0]
    # One balanced transaction per i: income (i % 3 <> 0) or benefit expenditure (i % 3 = 0).
    cur.execute(
        """
        INSERT INTO funds_ledgertransaction (id, uid, fund_id, office_id, kind, booked_on, amount, description,
            document_number, source_type, source_id, reverses_id, posting_run_id, created_at, created_by_id)
        SELECT i, gen_random_uuid(), (%(funds)s::bigint[])[1 + i %% 8], (%(offices)s::bigint[])[1 + (i / 8) %% 4],
               CASE WHEN i %% 3 = 0 THEN 'benefit' ELSE 'contribution' END,
               %(start)s::date + (i * 7919 %% %(days)s)::int,
               ((i * 104729) %% 5000000 + 100) / 100.0, 'bench', '', '', NULL, NULL, NULL, now(), NULL
        FROM generate_series(1::bigint, %(n)s::bigint) AS i
        """,
        {"funds": funds, "offices": offices, "start": START, "days": days, "n": transactions},
    )
    cur.execute(
        """
        INSERT INTO funds_ledgerentry (transaction_id, fund_id, office_id, account, amount, booked_on)
        SELECT t.id, t.fund_id, t.office_id, 'bank',
               CASE WHEN t.kind = 'benefit' THEN -t.amount ELSE t.amount END, t.booked_on
        FROM funds_ledgertransaction t
        UNION ALL
        SELECT t.id, t.fund_id, t.office_id,
               CASE WHEN t.kind = 'benefit' THEN 'benefit_expenditure' ELSE 'contribution_income' END,
               CASE WHEN t.kind = 'benefit' THEN t.amount ELSE -t.amount END, t.booked_on
        FROM funds_ledgertransaction t
        """
    )
    cur.execute("SELECT setval(pg_get_serial_sequence('funds_ledgertransaction', 'id'), %s)", [transactions])
    cur.execute("ALTER TABLE funds_ledgerentry ENABLE ALWAYS TRIGGER ledger_entry_checks")
    cur.execute("COMMIT")
    cur.execute("VACUUM ANALYZE funds_ledgertransaction")
    cur.execute("VACUUM ANALYZE funds_ledgerentry")
    return time.perf_counter() - start


def main() -> None:
    from benchdb import Verdicts, analyze, database_drop, database_ensure, explain, load_average, section_write

    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.db import connection

    from funds.models import FundIndicator, FundWarning, LedgerEntry
    from funds.selectors import fund_figures_query
    from funds.services import fund_warning_run

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM funds_ledgerentry")
        have = cur.fetchone()[0]
        load_seconds = None
        if have < ENTRIES:
            load_seconds = generate(cur, ENTRIES // 2)
            print(f"generated {ENTRIES:,} entries in {load_seconds:.1f} s")
        cur.execute("SELECT count(*), min(booked_on), max(booked_on) FROM funds_ledgerentry")
        entries, first_day, last_day = cur.fetchone()
        cur.execute("SELECT pg_size_pretty(pg_total_relation_size('funds_ledgerentry'))")
        size = cur.fetchone()[0]
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]
        cur.execute("SHOW max_parallel_workers_per_gather")
        parallel = cur.fetchone()[0]
        cur.execute("SHOW shared_buffers")
        shared_buffers = cur.fetchone()[0]
    print(f"ledger: {entries:,} entries ({size}), {first_day} … {last_day}")

    sql, params = fund_figures_query(on=ON).query.sql_with_params()
    # The baseline is the job's own aggregate alone, planned with fresh statistics and its plan printed.
    with connection.cursor() as cur:
        analyze(cur, "funds_ledgerentry", "funds_ledgertransaction", "funds_fund")
        plan = explain(cur, sql, params, label="baseline (the plain aggregate)")
    load_before = load_average()

    def aggregate() -> float:
        start = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(sql, params)
            cur.fetchall()
        return time.perf_counter() - start

    def first_night() -> None:
        # Each timed run is a first run of the night, not a re-run (warnings cascade to their notices).
        FundWarning.objects.filter(opened_on=ON).delete()
        FundIndicator.objects.filter(on=ON).delete()

    warm = aggregate()  # the table in cache, as it is on a database server that ran all day
    job = []
    plain = []
    for _attempt in range(3):
        # Alternately, so the machine's load of the moment weighs on both alike.
        plain.append(aggregate())
        first_night()
        start = time.perf_counter()
        result = fund_warning_run(on=ON)
        job.append(time.perf_counter() - start)
    start = time.perf_counter()
    rerun = fund_warning_run(on=ON)
    rerun_seconds = time.perf_counter() - start
    print(f"warm-up aggregate {warm:.2f} s; job {job}; plain aggregate {plain}; re-run {rerun_seconds:.2f} s")
    assert LedgerEntry.objects.count() == entries
    load_after = load_average()

    job_median, plain_median = statistics.median(job), statistics.median(plain)
    verdicts = Verdicts()
    ratio = verdicts.ratio("nightly job ÷ its plain aggregate", job_median, plain_median)
    section = f"""{HEADING}

Command: `.venv/bin/python bench/bench_funds_warning.py` (database `tzsi_bench_funds`, created and migrated
when missing; part of `make bench`). Machine: {os.cpu_count()} cores, {platform.machine()}, PostgreSQL
{pg_version} (shared_buffers {shared_buffers}, max_parallel_workers_per_gather {parallel}), measured
{time.strftime("%Y-%m-%d %H:%M")}; load average {load_before} before, {load_after} after (other engineers' test
suites share the two cores: seconds are upper bounds, the ratio is measured in the same run).

Data: **{entries:,} ledger entries** ({entries // 2:,} balanced transactions; {size} with indexes) over the
8 funds, 3 districts and the city office, dated {first_day} … {last_day}, generated set-based with
`generate_series`{f" in {load_seconds:.0f} s" if load_seconds else ""}. The night assessed: {ON}.

| what | seconds (median of 3) | runs |
|---|---:|---|
| nightly job `fund_warning_run` (one aggregate over the ledger, thresholds from policies, collection rate from contributions, {result.indicators} indicator rows, warnings and notices, one transaction) | **{job_median:.2f}** | {", ".join(f"{s:.2f}" for s in job)} |
| the plain aggregate query of the job alone (`selectors.fund_figures_query`: per fund, 6 conditional sums over every entry up to the night) | {plain_median:.2f} | {", ".join(f"{s:.2f}" for s in plain)} |
| re-run of the same night (nothing changes) | {rerun_seconds:.2f} | 1 |
| **ratio job ÷ plain aggregate** (baseline: the aggregate alone, after ANALYZE, timed alternately with the job) | **{ratio:.2f}×** | |

Goal: under 30 s on a 2-core machine. The job costs the aggregate plus a few dozen small queries; the
aggregate is a parallel sequential scan with `SUM … FILTER` (no per-entry Python). Plan of the baseline
(EXPLAIN after ANALYZE):

```
{plan}
```
"""
    assert rerun.warnings_created == 0
    print(section)
    if WRITE_DOCS:
        section_write(HEADING, section)
    if not KEEP:
        connection.close()
        database_drop(os.environ["DATABASE_URL"])  # the disk is shared
    verdicts.finish()


if __name__ == "__main__":
    main()
