"""Benefit payroll benchmark: the monthly payroll of 400,000 running benefits on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tzsi_bench_payroll .venv/bin/python bench/bench_payroll.py
    # a smaller size (docs/benchmarks.md is left alone unless BENCH_WRITE_DOCS=1):
    BENCH_AWARDS=20000 DATABASE_URL=… .venv/bin/python bench/bench_payroll.py

Seeds, in SQL (not timed), one person, one completed case and one running award per benefit (80 % employee
pension, 15 % resident pension, 5 % land-farmer allowance, amounts varied, all started the month before), a payee
account for 98 % of them at six banks, and the previous month already paid (a payroll run of that month, timed and
reported too). Then, honestly (docs/benchmarks.md, "honest baselines"): ANALYZE; the baseline — ONE hand-written
INSERT … SELECT of the same lines (each running award's amount for the month, its account and bank file, held
without an account) into the real line table with its indexes, its plan printed, rolled back and vacuumed away;
then the real run (``payroll_run_execute``: certification sweep, bank files, chunks with the window of months owed,
suspensions, adjustments and arrears, totals). The ratio run ÷ baseline is reported (goal ≤ 2×, and under 60 s) and
the benchmark fails when the baseline is slower than the code. The database is dropped afterwards unless BENCH_KEEP=1.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tzsi_bench_payroll")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")
if not os.environ["DATABASE_URL"].startswith("postgres"):
    sys.exit("bench_payroll needs PostgreSQL: set DATABASE_URL=postgres://…")
if "bench" not in os.environ["DATABASE_URL"].rsplit("/", 1)[-1]:
    sys.exit("bench_payroll empties the award and payroll tables: its database's name must contain 'bench'")

AWARDS = int(os.environ.get("BENCH_AWARDS", "400000"))
PERIOD = int(os.environ.get("BENCH_PERIOD", "202611"))
PREVIOUS = PERIOD - 1 if PERIOD % 100 != 1 else PERIOD - 89
KEEP = os.environ.get("BENCH_KEEP") == "1"
WRITE_DOCS = os.environ.get("BENCH_WRITE_DOCS") == "1" or AWARDS == 400_000
HEADING = "## Benefit payroll: the monthly run"


def seed(cur) -> float:
    """Persons, completed cases, awards and payee accounts in SQL (a clean slate first)."""
    start = time.perf_counter()
    cur.execute(
        "TRUNCATE payroll_payrollposting, payroll_payrollarrears, payroll_payrollline, payroll_bankfile, "
        "payroll_payrollrun, payroll_payeeaccount, payroll_suspension, payroll_certification, "
        "payroll_certificationreminder, cases_benefitpayment, cases_benefitaward CASCADE"
    )
    cur.execute("SELECT id, path FROM registry_office WHERE level = 3 ORDER BY code")
    townships = cur.fetchall()
    cur.execute("SELECT id FROM cases_serviceitem ORDER BY id LIMIT 1")
    item = cur.fetchone()[0]
    last = "B" + str(AWARDS).rjust(17, "0")  # persons B…1 to B…AWARDS (kept from an earlier, smaller run)
    cur.execute("SELECT count(*) FROM registry_person WHERE id_number LIKE 'B%%' AND id_number <= %s", [last])
    if cur.fetchone()[0] < AWARDS:
        cur.execute(
            """
            INSERT INTO registry_person (uid, id_number, name, name_pinyin, name_initials, sex, birth_date,
                household_type, phone, address, card_status, created_at, updated_at, residence_office_id)
            SELECT gen_random_uuid(), 'B' || lpad(i::text, 17, '0'), '退休' || i, 'tuixiu', 'tx', 'M',
                   date '1955-01-01' + (i %% 3000), 'urban', '', '', 'none', now(), now(),
                   (%s::bigint[])[1 + i %% %s]
            FROM generate_series(1, %s) i
            ON CONFLICT (id_number) DO NOTHING
            """,
            [[t[0] for t in townships], len(townships), AWARDS],
        )
    cur.execute(
        """
        INSERT INTO cases_case (uid, number, channel, state, suspended_state, form_data, applicant_note, submitted_at,
            time_limit_basis, calendar_warning, paused_working_days, closing_reason, result_summary, updated_at,
            current_office_id, intake_office_id, person_id, item_id, subject_key)
        SELECT gen_random_uuid(), 'BENCH' || p.id, 'counter', 'completed', '', '{}', '', now(), '{}', false, 0, '',
               '', now(), p.residence_office_id, p.residence_office_id, p.id, %s, ''
        FROM registry_person p WHERE p.id_number LIKE 'B%%' AND p.id_number <= %s
          AND NOT EXISTS (SELECT 1 FROM cases_case c WHERE c.number = 'BENCH' || p.id)
        """,
        [item, last],
    )
    month = f"{PREVIOUS // 100}-{PREVIOUS % 100:02d}-01"
    cur.execute(
        f"""
        INSERT INTO cases_benefitaward (uid, case_id, person_id, insurance_type, effect, monthly_amount, start_month,
            months, basis, office_id, created_at)
        SELECT gen_random_uuid(), c.id, c.person_id, k.ins, k.eff, k.amount, date '{month}', NULL, '{{}}',
               d.id, now()
        FROM cases_case c
        JOIN registry_office o ON o.id = c.intake_office_id
        JOIN registry_office d ON d.level = 2 AND o.path LIKE d.path || '%%'
        CROSS JOIN LATERAL (SELECT CASE WHEN c.person_id %% 20 < 16 THEN 'emp_pension'
                                        WHEN c.person_id %% 20 < 19 THEN 'res_pension' ELSE 'land_farmer' END AS ins,
                                   CASE WHEN c.person_id %% 20 < 16 THEN 'benefit_emp_pension'
                                        WHEN c.person_id %% 20 < 19 THEN 'benefit_res_pension'
                                        ELSE 'benefit_land_farmer' END AS eff,
                                   round((CASE WHEN c.person_id %% 20 < 16 THEN 2500 ELSE 200 END
                                          + (c.person_id * 7919 %% 150000) / 100.0)::numeric, 2) AS amount) k
        JOIN registry_person bp ON bp.id = c.person_id AND bp.id_number <= %s
        WHERE c.number LIKE 'BENCH%%'
        """,
        [last],
    )
    cur.execute(
        """
        INSERT INTO payroll_payeeaccount (person_id, bank, account_number, updated_at)
        SELECT p.id, (ARRAY['102','103','104','105','313','402'])[1 + p.id %% 6], '6222' || lpad(p.id::text, 15, '0'),
               now()
        FROM registry_person p WHERE p.id_number LIKE 'B%%' AND p.id_number <= %s AND p.id %% 50 <> 0
        """,
        [last],
    )
    return time.perf_counter() - start


BASELINE = """
    INSERT INTO payroll_payrollline (run_id, award_id, person_id, office_id, insurance_type, period, kind,
        regular_amount, arrears_amount, amount, status, bank, account_number, bank_file_id, reissue_of_id,
        failure_reason, paid_on)
    SELECT %(run)s, a.id, a.person_id, a.office_id, a.insurance_type, %(period)s, 'regular', a.monthly_amount, 0,
           a.monthly_amount, CASE WHEN pa.id IS NULL THEN 'held' ELSE 'issued' END, COALESCE(pa.bank, ''),
           COALESCE(pa.account_number, ''), bf.id, NULL, '', NULL
    FROM cases_benefitaward a
    LEFT JOIN payroll_payeeaccount pa ON pa.person_id = a.person_id
    LEFT JOIN payroll_bankfile bf ON bf.run_id = %(run)s AND bf.bank = pa.bank AND bf.sequence = 1
    WHERE a.start_month <= %(month)s
      AND NOT EXISTS (SELECT 1 FROM payroll_suspension s WHERE s.award_id = a.id AND s.resumed_month IS NULL)
"""


def baseline(cur, run_id: int) -> tuple[float, int]:
    from benchdb import explain

    from contributions.periods import period_first_day

    params = {"run": run_id, "period": PERIOD, "month": period_first_day(PERIOD)}
    explain(cur, BASELINE, params)
    cur.execute("BEGIN")
    try:
        cur.execute(
            "INSERT INTO payroll_bankfile (run_id, bank, sequence, number, count, total, status, paid_count, "
            "paid_amount, failed_count, failed_amount, return_sha256, created_at) SELECT %s, b, 1, 'BASE' || b, 0, 0, "
            "'issued', 0, 0, 0, 0, '', now() FROM unnest(ARRAY['102','103','104','105','313','402']) b",
            [run_id],
        )
        cur.execute("SET LOCAL jit = off")
        start = time.perf_counter()
        cur.execute(BASELINE, params)
        rows = cur.rowcount
        seconds = time.perf_counter() - start
    finally:
        cur.execute("ROLLBACK")
    return seconds, rows


def main() -> None:
    from benchdb import Verdicts, analyze, database_drop, database_ensure, load_average, section_write

    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.db import connection

    from payroll.models import PayrollRun
    from payroll.services.run import payroll_run_execute
    from registry.models import Office

    verdicts = Verdicts()
    connection.ensure_connection()
    connection.connection.autocommit = True
    with connection.cursor() as cur:
        seed_seconds = seed(cur)
        analyze(cur)
    print(f"seeded {AWARDS:,} awards in {seed_seconds:.1f} s", flush=True)
    city = Office.objects.get(level=1)

    def run_of(period: int) -> tuple[float, PayrollRun]:
        run = PayrollRun.objects.create(
            period=period, pay_date=f"{period // 100}-{period % 100:02d}-15", office=city, status="queued"
        )
        start = time.perf_counter()
        run = payroll_run_execute(run_id=run.pk)
        return time.perf_counter() - start, run

    first_seconds, first = run_of(PREVIOUS)
    assert first.status == "done", first.error
    print(f"previous month: {first.lines:,} lines in {first_seconds:.1f} s", flush=True)
    with connection.cursor() as cur:
        analyze(cur)
    load_before = load_average()
    placeholder = PayrollRun.objects.create(period=190001, pay_date="1900-01-15", office=city, status="failed")
    with connection.cursor() as cur:
        baseline_seconds, baseline_rows = baseline(cur, placeholder.pk)
        cur.execute("VACUUM ANALYZE payroll_payrollline")
    print(f"baseline single INSERT … SELECT: {baseline_rows:,} rows in {baseline_seconds:.1f} s", flush=True)
    run_seconds, run = run_of(PERIOD)
    assert run.status == "done", run.error
    load_after = load_average()
    print(f"payroll run: {run.lines:,} lines, {run.amount} yuan in {run_seconds:.1f} s", flush=True)
    assert run.lines == baseline_rows, (run.lines, baseline_rows)
    ratio = verdicts.ratio("payroll run ÷ one INSERT … SELECT", run_seconds, baseline_seconds, goal=2.0)
    print(f"under 60 s: {'met' if run_seconds < 60 else 'MISSED'}", flush=True)
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]
    section = f"""{HEADING}

Command: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/tzsi_bench_payroll .venv/bin/python bench/bench_payroll.py`
(`BENCH_AWARDS`, default 400,000). Machine: {platform.machine()}, {os.cpu_count()} cores, PostgreSQL {pg_version};
load average (1/5/15 min) {load_before} before the run, {load_after} after (other engineers' work shares the 2 cores).

Data: {AWARDS:,} running benefits (80 % employee pension, 15 % resident pension, 5 % land-farmer allowance), one person,
completed case and award each, 98 % with a payee account at six banks (the rest held), the previous month paid by
a payroll run. The run pays month {PERIOD}: certification sweep, six bank files, chunks of
{os.environ.get("PAYROLL_CHUNK_AWARDS", "100,000")} awards, each month owed from the window (after the last paid month or
back to an adjustment not yet applied), suspensions, adjustments, arrears, then the files' and the run's totals.

| step | rows | seconds |
|---|---|---|
| previous month's run (same work) | {first.lines:,} lines | {first_seconds:.1f} |
| baseline: ONE hand-written `INSERT … SELECT` of the same lines (ANALYZE first, plan printed, rolled back) | {baseline_rows:,} | {baseline_seconds:.1f} |
| **payroll run** (`payroll_run_execute`) | {run.lines:,} lines | **{run_seconds:.1f}** |
| **ratio run ÷ baseline** (goal ≤ 2×) | | **{ratio:.2f}×** |

Goal: under 60 s — {"met" if run_seconds < 60 else "MISSED"}. The baseline knows that nothing is owed but the month (no
window, no suspension or adjustment lookup, no arrears): the run's extra time is what finding that out costs per award.
The baseline's plan (printed by the script): a sequential scan of the awards, hash joins of the payee accounts and
the bank files, an anti-join of the suspensions — no nested loop. It is rolled back, so its deferred foreign-key checks
never run; the run, as the bill run, writes with the per-row foreign-key triggers off when the role may, after locking
what the lines refer to (the awards FOR KEY SHARE in the statement that reads them, the run and its files), so both
are measured without them.
"""
    if WRITE_DOCS:
        section_write(HEADING, section)
    else:
        print(section)
    if not KEEP:
        connection.close()
        database_drop(os.environ["DATABASE_URL"])
    verdicts.finish()


if __name__ == "__main__":
    main()
