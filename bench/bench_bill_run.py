"""Bill-run benchmark: 1,000,000 employees of 50,000 employers × 5 insurances on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tzsi_bench_billrun .venv/bin/python bench/bench_bill_run.py

Seeds the population with ``seed_demo --employee-share 1`` (skipped when already there), declares a
base for every employee for the period in SQL, then times the real bill run (``bill_run_execute``,
chunked, with totals, issue and declaration locking) against a hand-written single INSERT … SELECT
that produces the same line rows into a copy of the line table, measured in the same run.
Sizes: BENCH_PERSONS (1,000,000), BENCH_EMPLOYERS (50,000). Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tzsi_bench_billrun")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")
if not os.environ["DATABASE_URL"].startswith("postgres"):
    sys.exit("bench_bill_run needs PostgreSQL: set DATABASE_URL=postgres://…")

PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
EMPLOYERS = int(os.environ.get("BENCH_EMPLOYERS", "50000"))
PERIOD = int(os.environ.get("BENCH_PERIOD", "202510"))


def main() -> None:
    from benchdb import database_ensure

    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.db import connection

    from contributions.models import Bill, BillRun, BillRunScope
    from contributions.services.bill_run import bill_run_execute
    from registry.models import Office, Person

    if Person.objects.count() < PERSONS:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "seed_demo",
                "--persons",
                str(PERSONS - Person.objects.count()),
                "--employers",
                str(EMPLOYERS),
                "--employee-share",
                "1",
                "--flexible-share",
                "0",
            ],
            cwd=ROOT,
            check=True,
        )
        print(f"seeded in {time.perf_counter() - start:.1f} s")
    with connection.cursor() as cur:
        # A clean slate for the period: bills are immutable, so drop the triggers' objects by TRUNCATE.
        cur.execute(
            "TRUNCATE contributions_billline, contributions_billtotal, contributions_paymentallocation, "
            "contributions_bill, contributions_billrun, contributions_declarationline, "
            "contributions_declaration CASCADE"
        )
        cur.execute("DROP TABLE IF EXISTS bench_billline")
        start = time.perf_counter()
        cur.execute(
            """
            INSERT INTO contributions_declaration (uid, employer_id, period, status, channel, created_at, updated_at)
            SELECT gen_random_uuid(), id, %s, 'open', 'file', now(), now() FROM registry_employer
            """,
            [PERIOD],
        )
        cur.execute(
            """
            INSERT INTO contributions_declarationline (declaration_id, person_id, declared_base, base, clamp)
            SELECT d.id, e.person_id, b.base, b.base, ''
            FROM registry_enrollment e
            JOIN contributions_declaration d ON d.employer_id = e.employer_id AND d.period = %s
            CROSS JOIN LATERAL (SELECT round((4000 + (e.person_id * 7919 %% 26000))::numeric, 2) AS base) b
            WHERE e.insurance_type = 'emp_pension' AND e.employer_id IS NOT NULL
            """,
            [PERIOD],
        )
        cur.execute("ANALYZE")
        declared = time.perf_counter() - start
        cur.execute("SELECT count(*) FROM contributions_declarationline")
        lines_declared = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM registry_enrollment WHERE employer_id IS NOT NULL")
        enrollments = cur.fetchone()[0]
    print(f"declared {lines_declared} bases in {declared:.1f} s; {enrollments} employee enrollments")

    city = Office.objects.get(level=1)
    run = BillRun.objects.create(period=PERIOD, scope=BillRunScope.CITY, office=city)
    start = time.perf_counter()
    run = bill_run_execute(bill_run_id=run.pk)
    bill_run_seconds = time.perf_counter() - start
    assert run.status == "done", run.error
    print(f"bill run: {run.bills_created} bills, {run.lines_created} lines in {bill_run_seconds:.1f} s")

    # Baseline: the same line rows by one hand-written INSERT … SELECT into a copy of the line table
    # (same columns and indexes), bills already there. Rates inlined for 331002/3/4 from the run's values.
    from contributions.services.bill_run import _rates_cte, _rates_for_run

    rates, _rounding = _rates_for_run(PERIOD)
    cte, params = _rates_cte(rates)
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE bench_billline (LIKE contributions_billline INCLUDING ALL)")
        start = time.perf_counter()
        cur.execute(
            f"""
            INSERT INTO bench_billline (bill_id, person_id, insurance_type, period, base, base_source,
                employer_rate, individual_rate, employer_amount, individual_amount)
            WITH {cte}
            SELECT b.id, e.person_id, e.insurance_type, b.period, dl.base, 'declared',
                   r.employer_ppm / 1000000.0, r.individual_ppm / 1000000.0,
                   round(dl.base * r.employer_ppm / 1000000.0, 2), round(dl.base * r.individual_ppm / 1000000.0, 2)
            FROM contributions_bill b
            JOIN registry_employer emp ON emp.id = b.employer_id
            JOIN registry_office o ON o.id = emp.office_id
            JOIN registry_enrollment e ON e.employer_id = b.employer_id AND e.end_date IS NULL
            JOIN contributions_declaration d ON d.employer_id = b.employer_id AND d.period = b.period
            JOIN contributions_declarationline dl ON dl.declaration_id = d.id AND dl.person_id = e.person_id
            JOIN rates r ON r.district = substr(o.path, 9, 6) AND r.insurance = e.insurance_type
                 AND r.risk_class = CASE WHEN e.insurance_type = 'work_injury' THEN emp.risk_class ELSE 0 END
            WHERE b.period = %s AND b.kind = 'regular'
            """,
            [*params, PERIOD],
        )
        baseline_rows = cur.rowcount
        baseline_seconds = time.perf_counter() - start
        cur.execute("DROP TABLE bench_billline")
    print(f"baseline single INSERT … SELECT: {baseline_rows} rows in {baseline_seconds:.1f} s")
    ratio = bill_run_seconds / baseline_seconds
    bills = Bill.objects.filter(period=PERIOD).count()

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]
    section = f"""## Contributions: the monthly bill run (核定)

Command: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/tzsi_bench_billrun .venv/bin/python bench/bench_bill_run.py`
(part of `make bench`). Machine: {os.cpu_count()} cores, {platform.machine()}, PostgreSQL {pg_version},
measured {time.strftime("%Y-%m-%d")}.

Data: {PERSONS:,} persons, all employees of {EMPLOYERS:,} employers, each with the five employee insurances
({enrollments:,} enrollments), every base declared for {PERIOD} ({lines_declared:,} declaration lines).

| what | rows | seconds |
|---|---:|---:|
| bill run (`bill_run_execute`: bills, lines, per-insurance totals, issue, declaration lock; chunks of 2,500 employers, one transaction each) | {run.lines_created:,} lines, {bills:,} bills | {bill_run_seconds:.1f} |
| baseline: one hand-written `INSERT … SELECT` of the same lines into a copy of the line table | {baseline_rows:,} | {baseline_seconds:.1f} |
| **ratio bill run ÷ baseline** | | **{ratio:.2f}×** |

Goal: under 60 s and within 2× of the baseline.
"""
    write_section(section, "## Contributions: the monthly bill run")
    print(section)


def write_section(section: str, heading: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\nRun all with `make bench`.\n"
    if heading in text:
        before, _sep, after = text.partition(heading)
        rest = after.split("\n## ", 1)
        text = before + section + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
