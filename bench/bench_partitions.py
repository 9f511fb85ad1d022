"""Partition benchmark: the same work with one month of bills and with 24 months (bill lines partitioned by period).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tzsi_bench_partitions .venv/bin/python bench/bench_partitions.py
    # smaller (docs/benchmarks.md is left alone unless BENCH_WRITE_DOCS=1):
    BENCH_PERSONS=20000 BENCH_EMPLOYERS=1000 DATABASE_URL=… .venv/bin/python bench/bench_partitions.py

Seeds employees with ``seed_demo --employee-share 1`` (every base at the floor: no declarations), makes the monthly
partitions of the 26 periods used, then:

- **one month**: the bill run of the first period (not timed) → one month of bills and lines, unpaid. Timed: the
  statement of one employer across all its months (``bill_list(employer=…)``, every row, for 20 employers), the
  arrears list (``arrears_list``: its count and first page of 50), the nightly fund warning (``fund_warning_run``),
  then the bill run of the second period (``bill_run_execute``, city-wide);
- **24 months**: 22 more months written in SQL as copies of the first (bills, totals, lines of their own period,
  each month in its own transaction), every month but the newest paid in full (one payment and its allocations per
  bill), so that the arrears are the newest month's as before. Timed again: the same statement, arrears list and
  fund warning, then the bill run of the 25th period.

Each ratio 24 months ÷ one month is reported against the goal ≤ 1.2× (issue 22). A ratio, not a baseline: this
benchmark does not fail on it. Sizes: BENCH_PERSONS (200,000), BENCH_EMPLOYERS (10,000). The database is dropped
afterwards unless BENCH_KEEP=1; BENCH_PROFILE=1 prints each timed bill run's ten slowest statements.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tzsi_bench_partitions")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")
if not os.environ["DATABASE_URL"].startswith("postgres"):
    sys.exit("bench_partitions needs PostgreSQL: set DATABASE_URL=postgres://…")

PERSONS = int(os.environ.get("BENCH_PERSONS", "200000"))
EMPLOYERS = int(os.environ.get("BENCH_EMPLOYERS", "10000"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
PROFILE = os.environ.get("BENCH_PROFILE") == "1"  # print the bill runs' slowest statements
WRITE_DOCS = os.environ.get("BENCH_WRITE_DOCS") == "1" or (PERSONS == 200_000 and EMPLOYERS == 10_000)
HEADING = "## Partitions: one month of bills and 24 months"
FIRST = 202401
GOAL = 1.2
STATEMENT_EMPLOYERS = 20


def periods(n: int) -> list[int]:
    out, year, month = [], FIRST // 100, FIRST % 100
    for _ in range(n):
        out.append(year * 100 + month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


PERIODS = periods(27)  # 24 months of data, then the 25th and 26th billed; one more partition for safety


def seed() -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "seed_demo",
            "--persons",
            str(PERSONS),
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
    return time.perf_counter() - start


def copy_month(cur, source: int, target: int) -> None:
    """Bills, totals and lines of ``source`` copied as ``target``'s (issued in this transaction, as the bill run does)."""
    cur.execute("BEGIN")
    cur.execute(
        """
        INSERT INTO contributions_bill (uid, kind, period, reason, total_employer, total_individual, total,
            subsidy_city, subsidy_district, subsidy_other, details, due_date, issued_at, corrects_id, employer_id,
            issued_by_id, office_id, person_id, bill_run_id)
        SELECT gen_random_uuid(), kind, %(target)s, reason, total_employer, total_individual, total, subsidy_city,
            subsidy_district, subsidy_other, details,
            (due_date + make_interval(months => (%(target)s / 100 - %(source)s / 100) * 12
                                                + %(target)s %% 100 - %(source)s %% 100))::date,
            now(), NULL, employer_id, issued_by_id, office_id, person_id, NULL
        FROM contributions_bill WHERE period = %(source)s
        """,
        {"source": source, "target": target},
    )
    mapping = """FROM contributions_bill ob JOIN contributions_bill nb ON nb.employer_id = ob.employer_id
        AND nb.kind = ob.kind AND nb.period = %(target)s WHERE ob.period = %(source)s"""
    cur.execute(
        f"""
        INSERT INTO contributions_billtotal (insurance_type, employer_amount, individual_amount, amount, bill_id)
        SELECT t.insurance_type, t.employer_amount, t.individual_amount, t.amount, nb.id
        {mapping.replace("WHERE", "JOIN contributions_billtotal t ON t.bill_id = ob.id WHERE")}
        """,
        {"source": source, "target": target},
    )
    cur.execute(
        f"""
        INSERT INTO contributions_billline (bill_id, person_id, insurance_type, period, base, base_source,
            employer_rate, individual_rate, employer_amount, individual_amount)
        SELECT nb.id, l.person_id, l.insurance_type, %(target)s, l.base, l.base_source, l.employer_rate,
            l.individual_rate, l.employer_amount, l.individual_amount
        {mapping.replace("WHERE", "JOIN contributions_billline l ON l.bill_id = ob.id AND l.period = ob.period WHERE")}
        """,
        {"source": source, "target": target},
    )
    cur.execute("COMMIT")


def pay_month(cur, period: int) -> None:
    """Every bill of ``period`` paid in full on its due date: one payment and an allocation per insurance."""
    cur.execute(
        """
        INSERT INTO contributions_payment (uid, agency_reference, payer_type, amount, paid_on, channel, recorded_at,
            employer_id, office_id, person_id)
        SELECT gen_random_uuid(), 'BENCH-' || b.id, 'employer', b.total, b.due_date, 'file', now(), b.employer_id,
            b.office_id, NULL
        FROM contributions_bill b WHERE b.period = %s
        """,
        [period],
    )
    cur.execute(
        """
        INSERT INTO contributions_paymentallocation (insurance_type, amount, note, created_at, bill_id, payment_id)
        SELECT t.insurance_type, t.amount, '', now(), b.id, p.id
        FROM contributions_bill b JOIN contributions_billtotal t ON t.bill_id = b.id
        JOIN contributions_payment p ON p.agency_reference = 'BENCH-' || b.id
        WHERE b.period = %s AND t.amount <> 0
        """,
        [period],
    )


def timed(fn: Callable[[], object], repeat: int = 7) -> float:
    """The fastest of ``repeat`` runs (after one warm-up run): on a shared machine the other work only ever adds
    time, so the minimum is the figure least moved by it (the median of 3 moved by half between two runs)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def reads(user, employers: list, persons: list, newest: int) -> tuple[str, dict[str, float]]:
    from benchdb import explain_requests

    from contributions.periods import period_last_day
    from contributions.selectors import arrears_list, bill_list, person_contribution_record
    from funds.services.warnings import fund_warning_run

    on = period_last_day(newest) + datetime.timedelta(days=45)  # past the newest month's due date

    def statement() -> None:
        for employer in employers:
            list(bill_list(user=user, employer=employer))

    def arrears() -> None:
        qs = arrears_list(user=user, on=on)
        qs.count()
        list(qs[:50])

    def records() -> None:
        for person in persons:
            person_contribution_record(user=user, person=person)

    def one_statement() -> None:
        list(bill_list(user=user, employer=employers[0]))

    # The plans the reads run with, after the caller's ANALYZE (issue 22: every benchmark prints its plans).
    plans = explain_requests(
        [
            ("statement of one employer", one_statement),
            ("personal record", lambda: person_contribution_record(user=user, person=persons[0])),
            ("arrears list", arrears),
        ]
    )
    return plans, {
        f"statement of one employer, all months (×{len(employers)} employers)": timed(statement),
        f"personal contribution record of one person, all months (×{len(persons)} persons)": timed(records),
        "arrears list (count and first page of 50)": timed(arrears),
        "nightly fund warning (`fund_warning_run`)": timed(lambda: fund_warning_run(on=on), repeat=3),
    }


def bill_run(period: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from contributions.models import BillRun, BillRunScope
    from contributions.services.bill_run import bill_run_execute
    from registry.models import Office

    run = BillRun.objects.create(period=period, scope=BillRunScope.CITY, office=Office.objects.get(level=1))
    with CaptureQueriesContext(connection) if PROFILE else contextlib.nullcontext() as captured:
        start = time.perf_counter()
        run = bill_run_execute(bill_run_id=run.pk)
        seconds = time.perf_counter() - start
    if PROFILE:  # where a bill run's time goes: its slowest statements
        slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:10]
        for query in slowest:
            print(f"  {float(query['time']):8.3f} s  {' '.join(query['sql'].split())[:300]}", flush=True)
    assert run.status == "done", run.error
    return seconds, run.lines_created


def plans_compared(one: str, many: str) -> str:
    """The 24-month plans for the docs: a sentence when they have the same shape as the one-month plans (nodes,
    indexes, conditions; costs, row estimates and quoted constants such as dates aside), else the plans themselves."""

    def shape(plan: str) -> str:
        return re.sub(r"'[^']*'", "'…'", re.sub(r"\(cost=[^)]*\)", "", plan))

    if shape(one) == shape(many):
        return "With 24 months the plans have the same shape (the same nodes, indexes and conditions; costs aside)."
    return f"With 24 months the plans differ:\n\n```\n{many}\n```"


BILL_RUN = "bill run of the next month, city-wide (`bill_run_execute`; the faster of two months)"


def checkpoint() -> None:
    """Write out what the writes before left dirty, so that a timed phase does not share the disk with the
    checkpoint of the 24 months just copied (the one-month phase has far less to write out)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("CHECKPOINT")


def bill_runs(first: int, second: int) -> tuple[float, int]:
    """Two single bill runs, of ``first`` and then ``second``: the faster one (a bill run cannot be repeated for the
    same month), and the lines the first wrote."""
    checkpoint()
    seconds, lines = bill_run(first)
    checkpoint()
    again, _lines = bill_run(second)
    return min(seconds, again), lines


def counts(cur) -> str:
    cur.execute("SELECT count(*), count(DISTINCT period) FROM contributions_billline")
    lines, months = cur.fetchone()
    cur.execute("SELECT count(*) FROM contributions_bill")
    return f"{lines:,} lines of {months} periods, {cur.fetchone()[0]:,} bills"


def main() -> None:
    from benchdb import analyze, database_create, database_drop, load_average, section_write

    database_create(os.environ["DATABASE_URL"], drop_first=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, check=True)
    seed_seconds = seed()
    import django

    django.setup()
    from django.db import connection

    from contributions.models import BillLine
    from registry.models import Employer, Person, User
    from registry.partitions import partition_create

    connection.ensure_connection()
    connection.connection.autocommit = True
    user = User.objects.create(username="bench_partitions", is_superuser=True, is_staff=True)
    with connection.cursor() as cur:
        for period in PERIODS:
            partition_create(cur, table="contributions_billline", month=datetime.date(period // 100, period % 100, 1))
    rng = random.Random(22)
    employers = rng.sample(list(Employer.objects.values_list("pk", flat=True)), STATEMENT_EMPLOYERS)
    employers = list(Employer.objects.filter(pk__in=employers))
    load_start = load_average()

    bill_run(PERIODS[0])
    billed = sorted(set(BillLine.objects.filter(period=PERIODS[0]).values_list("person_id", flat=True)[:5000]))
    persons = list(Person.objects.filter(pk__in=rng.sample(billed, STATEMENT_EMPLOYERS)))
    with connection.cursor() as cur:
        analyze(cur)
        one_size = counts(cur)
    checkpoint()
    one_plans, one = reads(user, employers, persons, PERIODS[0])
    one[BILL_RUN], lines = bill_runs(PERIODS[1], PERIODS[2])
    print(f"one month ({one_size}): {one}", flush=True)

    with connection.cursor() as cur:
        for period in PERIODS[3:24]:
            copy_month(cur, PERIODS[0], period)
        for period in PERIODS[:23]:
            pay_month(cur, period)
        cur.execute("VACUUM ANALYZE")
        many_size = counts(cur)
    checkpoint()
    many_plans, many = reads(user, employers, persons, PERIODS[23])
    many[BILL_RUN], lines_many = bill_runs(PERIODS[24], PERIODS[25])
    print(f"24 months ({many_size}): {many}", flush=True)
    load_end = load_average()

    rows = []
    for label, seconds in one.items():
        ratio = many[label] / seconds if seconds else float("inf")
        verdict = "met" if ratio <= GOAL else "**missed**"
        rows.append(f"| {label} | {seconds:.3f} | {many[label]:.3f} | {ratio:.2f}× ({verdict}) |")
        print(f"ratio {label}: {many[label]:.3f} s ÷ {seconds:.3f} s = {ratio:.2f}× (goal ≤ {GOAL}×)", flush=True)
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]
        cur.execute("SHOW shared_buffers")
        shared_buffers = cur.fetchone()[0]
    newline = "\n"
    section = f"""{HEADING}

Command: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/tzsi_bench_partitions .venv/bin/python
bench/bench_partitions.py` (BENCH_PERSONS={PERSONS}, BENCH_EMPLOYERS={EMPLOYERS}; part of `make bench`). Machine:
{os.cpu_count()} cores, {platform.machine()}, PostgreSQL {pg_version} (shared_buffers {shared_buffers}), measured
{time.strftime("%Y-%m-%d %H:%M")}; load average {load_start} at the start, {load_end} at the end (a shared 2-core
machine: seconds are upper bounds, the ratios are measured in the same run). Seed: {seed_seconds:.0f} s.

Data: {PERSONS:,} employees of {EMPLOYERS:,} employers, five insurances each, bill lines partitioned by period
(one partition a month). One month: {one_size} (unpaid). 24 months: {many_size} (every month but the newest paid:
one payment and its allocations per bill). Lines written by the timed bill runs: {lines:,} and {lines_many:,} (the
seed's enrollments start and end over the years). Reads: the fastest of 7 runs after a warm-up (the fund warning:
of 3); the bill run: the faster of the runs of the next two months (for "one month", the second of them finds two
months of bills).

| work | one month, s | 24 months, s | ratio (goal ≤ {GOAL}×) |
|---|---:|---:|---:|
{newline.join(rows)}

Plans of the reads with one month (the baseline; EXPLAIN after ANALYZE, every SELECT each read sends):

```
{one_plans}
```

{plans_compared(one_plans, many_plans)}
"""
    print(section)
    if WRITE_DOCS:
        section_write(HEADING, section)
    connection.close()
    if not KEEP:
        database_drop(os.environ["DATABASE_URL"])  # the disk is shared


if __name__ == "__main__":
    main()
