"""Evaluation benchmark: the nightly office metrics job and the statistics pages on a city-sized database.

    .venv/bin/python bench/bench_evaluation.py     # DATABASE_URL defaults to …/tzsi_bench_evaluation

Sizes (environment, defaults the issue's): BENCH_PERSONS 1,000,000, BENCH_ENROLLMENTS_PER_PERSON 5 (5,000,000),
BENCH_EMPLOYERS 50,000 (12 months of bills with 5 insurance totals each: 600,000 bills, 3,000,000 totals, an
allocation per total for 9 bills in 10), BENCH_CASES 2,000,000 over the 12 months of 2026 (with 补正 events, ratings
and escalations). Everything is generated set-based with ``generate_series`` in one transaction as the owner
(``session_replication_role = replica``; the ALWAYS immutability triggers of bills are paused for the load; the plain
indexes of the loaded tables are dropped first and built once at the end, in the same transaction), then ``VACUUM
ANALYZE``. BENCH_KEEP=1 keeps the database afterwards; by default it is dropped at the end. BENCH_ONLY=generate stops
after the load (with BENCH_KEEP=1: load once, measure in later runs, BENCH_LOAD_SECONDS reporting that load's time).

Timed in the same run, after ANALYZE (the baseline's plan is printed): the nightly metrics job
(``office_metrics_refresh``: June and July 2026, own and rolled-up rows of every office) against the plain aggregate
queries over the same rows (cases, ratings, bills and allocations of those months, grouped by office), median of 3;
the statistics snapshots of 12 months; every statistics page (Django test client, median of 5). Writes the section
"## Evaluation: office metrics and statistics" of docs/benchmarks.md.
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
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tzsi_bench_evaluation")
if os.environ.get("DATABASE_OWNER_URL"):
    os.environ["DATABASE_URL"] = os.environ["DATABASE_OWNER_URL"]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")
if not os.environ["DATABASE_URL"].startswith("postgres"):
    sys.exit("bench_evaluation needs PostgreSQL: set DATABASE_URL=postgres://…")

PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
PER_PERSON = int(os.environ.get("BENCH_ENROLLMENTS_PER_PERSON", "5"))
EMPLOYERS = int(os.environ.get("BENCH_EMPLOYERS", "50000"))
CASES = int(os.environ.get("BENCH_CASES", "2000000"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
NIGHT = datetime.date(2026, 7, 15)  # the nightly job then computes June and July 2026
HEADING = "## Evaluation: office metrics and statistics"
INSURANCES = ["emp_pension", "emp_medical", "unemployment", "work_injury", "maternity"]


def _ids(cur, sql: str) -> list[int]:
    cur.execute(sql)
    return cur.fetchone()[0]


def generate_registry(cur, towns: list[int]) -> None:
    p = {"n": PERSONS, "m": EMPLOYERS, "towns": towns, "k": PER_PERSON, "ins": INSURANCES}
    cur.execute(
        """INSERT INTO registry_person (id, uid, id_number, name, name_pinyin, name_initials, sex, birth_date,
             household_type, phone, address, card_status, created_at, updated_at, residence_office_id)
        SELECT i, gen_random_uuid(), '33' || lpad(i::text, 16, '0'), '张三', 'zhangsan', 'zs',
               CASE WHEN i %% 2 = 0 THEN 'F' ELSE 'M' END, date '1950-01-01' + (i * 7919 %% 22000)::int, 'urban',
               '', '', 'none', now(), now(), (%(towns)s::bigint[])[1 + i %% cardinality(%(towns)s::bigint[])]
        FROM generate_series(1::bigint, %(n)s::bigint) AS i""",
        p,
    )
    cur.execute(
        """INSERT INTO registry_employer (id, uid, credit_code, name, name_pinyin, employer_type, industry, risk_class,
             status, created_at, updated_at, office_id)
        SELECT e, gen_random_uuid(), '91' || lpad(e::text, 16, '0'), '单位' || e, 'danwei', (ARRAY['enterprise', 'public',
               'individual', 'other'])[1 + e %% 4], '制造业', 1 + e %% 8, 'active', '2015-01-01', now(),
               (%(towns)s::bigint[])[1 + e %% cardinality(%(towns)s::bigint[])]
        FROM generate_series(1, %(m)s) AS e""",
        p,
    )
    # Person i works for employer 1 + i % m (so the office is the employer's); one enrollment per insurance.
    cur.execute(
        """INSERT INTO registry_enrollment (id, uid, insurance_type, is_flexible, start_date, end_date, created_at,
             updated_at, employer_id, office_id, person_id)
        SELECT (i - 1) * %(k)s + k, gen_random_uuid(), (%(ins)s::text[])[k], false, s.start,
               CASE WHEN i %% 10 = 0 THEN s.start + (i %% 4000)::int END, now(), now(), 1 + i %% %(m)s,
               (%(towns)s::bigint[])[1 + (1 + i %% %(m)s) %% cardinality(%(towns)s::bigint[])], i
        FROM generate_series(1::bigint, %(n)s::bigint) AS i CROSS JOIN generate_series(1, %(k)s) AS k
        CROSS JOIN LATERAL (SELECT date '2015-01-01' + (i * 31 %% 4200)::int AS start) s""",
        p,
    )


def generate_bills(cur, towns: list[int]) -> None:
    p = {"m": EMPLOYERS, "towns": towns, "ins": INSURANCES}
    cur.execute("ALTER TABLE contributions_billtotal DISABLE TRIGGER bill_total_insert_immutable")
    cur.execute(
        """INSERT INTO contributions_bill (id, uid, kind, period, reason, total_employer, total_individual, total,
             subsidy_city, subsidy_district, subsidy_other, details, due_date, issued_at, employer_id, office_id)
        SELECT (mo - 1) * %(m)s + e, gen_random_uuid(), 'regular', 202600 + mo, '', 800 + e %% 4000,
               200 + e %% 1000, 1000 + e %% 4000 + e %% 1000, 0, 0, 0, '{}',
               (date '2026-01-15' + make_interval(months => mo))::date,
               timestamptz '2026-01-01 02:00+08' + make_interval(months => mo), e,
               (%(towns)s::bigint[])[1 + e %% cardinality(%(towns)s::bigint[])]
        FROM generate_series(1, 12) AS mo CROSS JOIN generate_series(1, %(m)s) AS e""",
        p,
    )
    cur.execute(
        """INSERT INTO contributions_billtotal (insurance_type, employer_amount, individual_amount, amount, bill_id)
        SELECT (%(ins)s::text[])[k], round(b.total_employer / 5, 2), round(b.total_individual / 5, 2),
               round(b.total_employer / 5, 2) + round(b.total_individual / 5, 2), b.id
        FROM contributions_bill b CROSS JOIN generate_series(1, 5) AS k""",
        p,
    )
    cur.execute("ALTER TABLE contributions_billtotal ENABLE ALWAYS TRIGGER bill_total_insert_immutable")
    cur.execute(
        """INSERT INTO contributions_payment (id, uid, agency_reference, payer_type, amount, paid_on, channel,
             recorded_at, employer_id, office_id)
        SELECT b.id, gen_random_uuid(), 'B' || b.id, 'employer', b.total, b.due_date - 5, 'api',
               b.issued_at + interval '10 days', b.employer_id, b.office_id
        FROM contributions_bill b WHERE b.id %% 10 <> 0""",
        {},
    )
    cur.execute(
        """INSERT INTO contributions_paymentallocation (insurance_type, amount, note, created_at, bill_id, payment_id)
        SELECT t.insurance_type, t.amount, '', p.recorded_at, t.bill_id, p.id
        FROM contributions_billtotal t JOIN contributions_payment p ON p.id = t.bill_id"""
    )


def generate_cases(cur, offices: list[int], items: list[int]) -> None:
    p = {"n": CASES, "persons": PERSONS, "offices": offices, "items": items}
    # Case i: received in month 1 + i % 12 of 2026; 3 in 100 still open, 2 rejected, 1 withdrawn, 1 paused, the rest
    # completed 1–15 days after receipt; due 7–11 days after receipt; every 10th had a 补正 pause of 2 working days.
    cur.execute(
        """INSERT INTO cases_case (id, uid, number, channel, state, suspended_state, form_data, applicant_note,
             submitted_at, received_at, time_limit_days, time_limit_basis, due_date, calendar_warning, paused_on,
             paused_working_days, completed_at, closing_reason, result_summary, updated_at, current_office_id,
             intake_office_id, person_id, item_id)
        SELECT i, gen_random_uuid(), 'B' || lpad(i::text, 12, '0'), 'counter', st.state,
               CASE WHEN st.state = 'suspended' THEN 'review' ELSE '' END, '{}', '', r.at, r.at, 5, '{}',
               (r.at + make_interval(days => (7 + i %% 5)::int))::date, false,
               CASE WHEN st.state = 'suspended' THEN (r.at + interval '3 days')::date END,
               CASE WHEN i %% 10 = 7 THEN 2 ELSE 0 END,
               CASE WHEN st.state IN ('completed', 'rejected', 'withdrawn')
                    THEN r.at + make_interval(days => (1 + i %% 15)::int, hours => (i %% 7)::int) END,
               '', '', now(), o.id, o.id, 1 + i %% %(persons)s,
               (%(items)s::bigint[])[1 + i %% cardinality(%(items)s::bigint[])]
        FROM generate_series(1::bigint, %(n)s::bigint) AS i
        CROSS JOIN LATERAL (SELECT timestamptz '2026-01-01 09:00+08' + make_interval(months => (i %% 12)::int,
               secs => ((i * 7919) %% (27 * 86400))::double precision) AS at) r
        CROSS JOIN LATERAL (SELECT CASE WHEN i %% 100 < 3 THEN 'review' WHEN i %% 100 < 5 THEN 'rejected'
               WHEN i %% 100 < 6 THEN 'withdrawn' WHEN i %% 100 < 7 THEN 'suspended' ELSE 'completed' END AS state) st
        CROSS JOIN LATERAL (SELECT (%(offices)s::bigint[])[1 + i %% cardinality(%(offices)s::bigint[])] AS id) o""",
        p,
    )
    cur.execute(
        """INSERT INTO cases_caseevent (at, action, step_kind, from_state, to_state, note, data, case_id)
        SELECT received_at + interval '1 day', 'correct', 'review', 'review', 'suspended', '', '{}', id
        FROM cases_case WHERE id %% 10 = 7""",
        {},
    )
    cur.execute(
        """INSERT INTO cases_caserating (score, comment, channel, rated_at, case_id, office_id)
        SELECT 1 + id %% 5, '', 'tablet', completed_at + interval '1 hour', id, current_office_id
        FROM cases_case WHERE id %% 3 = 0 AND state IN ('completed', 'rejected')""",
        {},
    )
    cur.execute(
        """INSERT INTO cases_caseescalation (note, due_date, escalated_at, case_id, from_office_id, to_office_id)
        SELECT '超期督办', c.due_date, c.due_date + interval '1 day 10 hours', c.id, c.current_office_id, o.parent_id
        FROM cases_case c JOIN registry_office o ON o.id = c.current_office_id
        WHERE c.state = 'review' AND o.parent_id IS NOT NULL AND c.id %% 2 = 0""",
        {},
    )


LOADED = ("registry_person", "registry_employer", "registry_enrollment", "contributions_bill",
          "contributions_billtotal", "contributions_payment", "contributions_paymentallocation", "cases_case",
          "cases_caseevent", "cases_caserating", "cases_caseescalation")  # fmt: skip


def indexes_drop(cur) -> list[str]:
    """Drop the plain indexes of the loaded tables (not those behind a primary key or unique constraint, which
    foreign keys may need) and return their definitions: building an index once after the load is several times
    cheaper than maintaining it row by row during it."""
    cur.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        [list(LOADED)],
    )
    rows = cur.fetchall()
    for name, _definition in rows:
        cur.execute(f"DROP INDEX {name}")
    return [definition for _name, definition in rows]


def generate(cur) -> float:
    start = time.perf_counter()
    towns = _ids(cur, "SELECT array_agg(id ORDER BY code) FROM registry_office WHERE level >= 3")
    offices = _ids(cur, "SELECT array_agg(id ORDER BY code) FROM registry_office WHERE level >= 2")
    items = _ids(cur, "SELECT array_agg(id ORDER BY code) FROM cases_serviceitem")
    cur.execute("BEGIN")
    cur.execute("SET LOCAL session_replication_role = replica")
    cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
    definitions = indexes_drop(cur)
    generate_registry(cur, towns)
    print(f"registry {time.perf_counter() - start:.0f} s", flush=True)
    generate_bills(cur, towns)
    print(f"bills {time.perf_counter() - start:.0f} s", flush=True)
    generate_cases(cur, offices, items)
    print(f"cases {time.perf_counter() - start:.0f} s", flush=True)
    for table in LOADED:
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    for definition in definitions:
        cur.execute(definition)
    print(f"{len(definitions)} indexes {time.perf_counter() - start:.0f} s", flush=True)
    cur.execute("COMMIT")
    for table in LOADED:
        cur.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - start


BASELINE = """
SELECT c.intake_office_id,
  count(*) FILTER (WHERE c.received_at >= %(start)s AND c.received_at < %(end)s),
  count(*) FILTER (WHERE c.state = 'completed' AND c.completed_at >= %(start)s AND c.completed_at < %(end)s),
  count(*) FILTER (WHERE c.state = 'rejected' AND c.completed_at >= %(start)s AND c.completed_at < %(end)s),
  count(*) FILTER (WHERE c.state = 'withdrawn' AND c.completed_at >= %(start)s AND c.completed_at < %(end)s),
  count(*) FILTER (WHERE c.state = 'completed' AND c.completed_at < %(end)s AND c.completed_at::date <= c.due_date),
  avg(c.completed_at - c.received_at) FILTER (WHERE c.state = 'completed' AND c.completed_at >= %(start)s),
  count(*) FILTER (WHERE c.completed_at IS NULL OR c.completed_at >= %(end)s),
  count(*) FILTER (WHERE (c.completed_at IS NULL OR c.completed_at >= %(end)s) AND c.due_date < %(next)s)
FROM cases_case c
WHERE c.received_at < %(end)s AND (c.completed_at IS NULL OR c.completed_at >= %(start)s)
GROUP BY c.intake_office_id;
SELECT office_id, count(*), sum(score), count(*) FILTER (WHERE score <= 2) FROM cases_caserating
WHERE rated_at >= %(start)s AND rated_at < %(end)s GROUP BY office_id;
SELECT b.office_id, sum(b.total), sum(a.amount) FROM contributions_bill b
LEFT JOIN contributions_paymentallocation a ON a.bill_id = b.id AND a.created_at < %(collect_end)s
WHERE b.period = %(period)s GROUP BY b.office_id
"""


def baseline_params(month: datetime.date) -> dict:
    from evaluation.periods import month_bounds

    b = month_bounds(month)
    return {"start": b.start, "end": b.end, "next": b.next, "collect_end": b.collect_end, "period": b.period}


def run_baseline(months: list[datetime.date]) -> float:
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cur:
        for month in months:
            for sql in BASELINE.split(";"):
                cur.execute(sql, baseline_params(month))
                cur.fetchall()
    return time.perf_counter() - start


def baseline_plan(month: datetime.date) -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + BASELINE.split(";")[0], baseline_params(month))
        return "\n".join(row[0] for row in cur.fetchall())


def time_metrics() -> dict:
    from django.db import connection

    from evaluation.models import EvaluationMonth, OfficeMonthMetric
    from evaluation.services import office_metrics_refresh

    months = [datetime.date(2026, 6, 1), datetime.date(2026, 7, 1)]
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    plan = baseline_plan(months[0])
    run_baseline(months)  # warm the cache, as on a server that ran all day
    job, plain = [], []
    for _attempt in range(3):
        OfficeMonthMetric.objects.filter(month__in=months).delete()  # each timed run is a first run of the night
        EvaluationMonth.objects.filter(month__in=months).delete()
        start = time.perf_counter()
        office_metrics_refresh(on=NIGHT)
        job.append(time.perf_counter() - start)
        plain.append(run_baseline(months))
    start = time.perf_counter()
    rerun = office_metrics_refresh(on=NIGHT)
    rerun_seconds = time.perf_counter() - start
    assert sum(r.rows_changed for r in rerun) == 0
    return {"job": job, "plain": plain, "rerun": rerun_seconds, "plan": plan, "load": os.getloadavg()}


SNAPSHOT_MONTHS = int(os.environ.get("BENCH_SNAPSHOT_MONTHS", "3"))


def time_statistics() -> dict:
    """The nightly snapshots of BENCH_SNAPSHOT_MONTHS months, timed; the other months of 2026 get copies of the last
    one's rows (the pages' cost depends on the number of rows per month, not on the figures) — saves ~1 min a month
    on the loaded machine. The flows of 12 months are computed in full."""
    from django.db import connection

    from evaluation.services import statistics_flows_compute, statistics_month_compute

    snapshots = []
    for m in range(1, SNAPSHOT_MONTHS + 1):
        start = time.perf_counter()
        statistics_month_compute(month=datetime.date(2026, m, 1))
        snapshots.append(time.perf_counter() - start)
    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO evaluation_statcell (topic, month, office_id, insurance_type, dim_a, dim_b, m1, m2, m3)
            SELECT c.topic, make_date(2026, g, 1), c.office_id, c.insurance_type, c.dim_a, c.dim_b, c.m1, c.m2, c.m3
            FROM evaluation_statcell c CROSS JOIN generate_series(%s, 12) AS g
            WHERE c.topic IN ('insured', 'employers') AND c.month = %s""",
            [SNAPSHOT_MONTHS + 1, datetime.date(2026, SNAPSHOT_MONTHS, 1)],
        )
        cur.execute("ANALYZE evaluation_statcell")
    start = time.perf_counter()
    statistics_flows_compute(first=datetime.date(2025, 8, 1), last=datetime.date(2026, 7, 1))
    flows = time.perf_counter() - start
    return {"snapshots": snapshots, "flows": flows}


PAGES = [
    ("insured", {"start": "2026-01", "end": "2026-12", "group": "insurance"}),
    ("insured", {"start": "2026-01", "end": "2026-12", "group": "township"}),
    ("insured", {"start": "2026-01", "end": "2026-12", "group": "age_band", "district": "331003"}),
    ("employers", {"start": "2026-01", "end": "2026-12", "group": "size_band"}),
    ("contributions", {"start": "2025-08", "end": "2026-07", "group": "district"}),
    ("benefits", {"start": "2025-08", "end": "2026-07", "group": "insurance"}),
    ("funds", {"start": "2025-08", "end": "2026-07", "group": "district"}),
]


def time_pages() -> list[tuple[str, dict, float, int]]:
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.urls import reverse

    from registry import roles
    from registry.models import Office, User
    from registry.security.twofactor import SESSION_DEVICE

    user, _created = User.objects.get_or_create(username="bench_city_admin", office=Office.objects.get(level=1))
    user.groups.add(*Group.objects.filter(name=roles.CITY_ADMIN))
    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_DEVICE] = "bench"
    session.save()
    out = []
    for topic, query in PAGES:
        url = reverse("evaluation:statistics", args=[topic])
        client.get(url, query)  # warm
        times = []
        for _i in range(5):
            start = time.perf_counter()
            response = client.get(url, query)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, (topic, response.status_code)
        out.append((topic, query, statistics.median(times), len(response.content)))
    return out


def counts() -> dict:
    from django.db import connection

    out = {}
    with connection.cursor() as cur:
        for table in ("registry_person", "registry_enrollment", "registry_employer", "contributions_bill",
                      "contributions_billtotal", "contributions_paymentallocation", "cases_case", "cases_caseevent",
                      "cases_caserating", "cases_caseescalation", "evaluation_statcell"):  # fmt: skip
            cur.execute(f"SELECT count(*) FROM {table}")
            out[table] = cur.fetchone()[0]
        cur.execute("SHOW server_version")
        out["pg"] = cur.fetchone()[0]
        cur.execute("SHOW shared_buffers")
        out["shared_buffers"] = cur.fetchone()[0]
    return out


def section(load: float | None, metrics: dict, stats: dict, pages: list, n: dict) -> str:
    from benchdb import database_name

    job, plain = statistics.median(metrics["job"]), statistics.median(metrics["plain"])
    page_rows = "\n".join(
        f"| `{topic}` {' '.join(f'{k}={v}' for k, v in q.items())} | **{s * 1000:.0f}** | {size // 1024} KB |"
        for topic, q, s, size in pages
    )
    full = n["registry_person"] >= 1_000_000 and n["cases_case"] >= 2_000_000
    size_note = (
        "the issue's full size" if full else "a reduced size (the full size did not fit the time on the loaded machine)"
    )
    return f"""{HEADING}

Command: `.venv/bin/python bench/bench_evaluation.py` (database `{database_name(os.environ["DATABASE_URL"])}`,
created, migrated, filled and dropped again; part of `make bench`; sizes by BENCH_PERSONS, BENCH_ENROLLMENTS_PER_PERSON,
BENCH_EMPLOYERS, BENCH_CASES). Machine: {os.cpu_count()} cores, {platform.machine()}, PostgreSQL {n["pg"]}
(shared_buffers {n["shared_buffers"]}), measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC with other engineers' test suites
running (load average {" / ".join(f"{x:.1f}" for x in metrics["load"])} over 1 / 5 / 15 min right after the metrics
timing) — {size_note}.

Data, generated set-based with `generate_series` in one transaction (plain indexes dropped before and built after
the load){f" in {load:.0f} s" if load else ""}: **{n["registry_person"]:,}
persons, {n["registry_enrollment"]:,} enrollments**, {n["registry_employer"]:,} employers, 12 months of bills
({n["contributions_bill"]:,} bills, {n["contributions_billtotal"]:,} bill totals, {n["contributions_paymentallocation"]:,}
allocations), **{n["cases_case"]:,} cases** over 2026 with {n["cases_caseevent"]:,} 补正 events,
{n["cases_caserating"]:,} ratings and {n["cases_caseescalation"]:,} escalations; {n["evaluation_statcell"]:,}
statistics rows after the run.

| what | seconds (median of 3) | runs |
|---|---:|---|
| nightly metrics job `office_metrics_refresh` (June and July 2026: working-day index, one parallel pass over the cases grouped by office, item and handling days, own + rolled-up rows of every office summed from it, 90th percentiles from the summed histograms, per-item rows, upsert) | **{job:.2f}** | {", ".join(f"{s:.2f}" for s in metrics["job"])} |
| plain aggregate queries over the same rows (cases by intake office, ratings by office, bills and allocations by office; both months) | {plain:.2f} | {", ".join(f"{s:.2f}" for s in metrics["plain"])} |
| ratio job ÷ plain | **{job / plain:.2f}×** | goal ≤ 3× |
| re-run of the same night (nothing changes, nothing written) | {metrics["rerun"]:.2f} | 1 |
| statistics snapshots (insured, employers) of one month (the nightly job does two) | {statistics.median(stats["snapshots"]):.2f} | {", ".join(f"{s:.1f}" for s in stats["snapshots"])} (months 1–{len(stats["snapshots"])} of 2026; the later months' rows copied for the pages) |
| statistics flows (contributions, benefits, funds), 12 months | {stats["flows"]:.2f} | 1 |

Statistics pages (city administrator, whole city, Django test client in process: query, render, chart data;
median of 5 after one warm-up):

| page | ms | size |
|---|---:|---:|
{page_rows}

Goal: the job within 3× of the plain aggregate and under 60 s; every page under 500 ms (they read the pre-aggregated
`StatCell` rows, a few tens of thousands at most). Plan of the plain case aggregate (after ANALYZE):

```
{metrics["plan"]}
```
"""


def write_section(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if HEADING in doc:
        before, _sep, after = doc.partition(HEADING)
        rest = after.split("\n## ", 1)
        doc = before + text.rstrip("\n") + "\n" + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    from benchdb import database_ensure

    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.db import connection

    try:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM cases_case")
            load = generate(cur) if cur.fetchone()[0] < CASES else None
        if load is None and os.environ.get("BENCH_LOAD_SECONDS"):  # the load of an earlier BENCH_KEEP=1 run
            load = float(os.environ["BENCH_LOAD_SECONDS"])
        print(f"loaded in {load or 0:.0f} s", flush=True)
        if os.environ.get("BENCH_ONLY") == "generate":  # load once (BENCH_KEEP=1), time in later runs
            return
        metrics = time_metrics()
        print(f"job {metrics['job']} plain {metrics['plain']} rerun {metrics['rerun']:.2f}", flush=True)
        stats = time_statistics()
        print(f"statistics {stats}", flush=True)
        pages = time_pages()
        print(pages, flush=True)
        text = section(load, metrics, stats, pages, counts())
        write_section(text)
        print(text)
    finally:
        connection.close()
        if not KEEP:
            from benchdb import database_name, server_connection
            from psycopg2 import sql

            conn = server_connection(os.environ["DATABASE_URL"])
            name = sql.Identifier(database_name(os.environ["DATABASE_URL"]))
            with conn.cursor() as cur:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.close()


if __name__ == "__main__":
    main()
