"""核定: the monthly bill run for the five employee insurances, in set-based SQL.

Rule for enrollments that start or end mid-month (documented in docs/architecture.md): a month is
billed, in full, to the enrollment that is active on the **last day** of the month. A new hire on
the 15th pays that month; someone who leaves on the 14th does not (his new employer, if any, does),
so a person changing employers is never billed twice for one month and never skipped.

A person with no declared base for the month is billed at the floor and the line says so
(``base_source = floor``); the run counts those lines so the clerk can chase the declaration.

Money: bases are clamped to [floor, ceiling] of the period; each line amount is
base × rate (× work-injury float ratio), rounded per line by ``money.rounding`` using exact
integer arithmetic in fen and parts-per-million (see contributions/rates.py).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.models import (
    Bill,
    BillKind,
    BillLine,
    BillRun,
    BillRunScope,
    BillRunStatus,
    BillTotal,
    Declaration,
    DeclarationLine,
    DeclarationStatus,
    FlexibleBaseChoice,
    WorkInjuryFloat,
)
from contributions.periods import period_first_day, period_last_day, period_parse
from contributions.rates import DistrictRates, Rounding, district_rates, run_rounding
from policies import codes
from policies.selectors import parameter_value
from policies.workdays import WorkCalendar
from registry.bulk import row_triggers, row_triggers_off_allowed
from registry.db_functions import office_district_code_sql
from registry.exceptions import ConflictError
from registry.feed.changes import change_events_record
from registry.jurisdiction import office_in_jurisdiction
from registry.locks import AdvisoryLock, advisory_lock_held, advisory_try_lock, advisory_unlock
from registry.models import EMPLOYEE_INSURANCES, Employer, Enrollment, Office, OfficeLevel, Person
from registry.task_queue import task_enqueue_on_commit

# Table names for the raw SQL below, from the models (never written by hand).
_BILL = Bill._meta.db_table
_BILL_LINE = BillLine._meta.db_table
_BILL_TOTAL = BillTotal._meta.db_table
_DECLARATION = Declaration._meta.db_table
_DECLARATION_LINE = DeclarationLine._meta.db_table
_EMPLOYER = Employer._meta.db_table
_FLEX_BASE = FlexibleBaseChoice._meta.db_table
_ENROLLMENT = Enrollment._meta.db_table
_OFFICE = Office._meta.db_table
_PERSON = Person._meta.db_table
_WORK_INJURY_FLOAT = WorkInjuryFloat._meta.db_table

CHUNK_EMPLOYERS = settings.BILL_RUN_CHUNK_EMPLOYERS  # employers per committed chunk (a crash loses one chunk's work)
_CHUNK_BILLS = "bill_run_chunk_bills"  # temporary table (PostgreSQL): the bills of the chunk being written
_EMPLOYEE_TYPES = tuple(t.value for t in EMPLOYEE_INSURANCES)
# An employee enrollment active on the last day of the period (parameters: False, last day, last day).
_ACTIVE = "e.is_flexible = %s AND e.start_date <= %s AND (e.end_date IS NULL OR e.end_date >= %s)"
_LINE_COLUMNS = (
    "bill_id, person_id, insurance_type, period, base, base_source, employer_rate, individual_rate, "
    "employer_amount, individual_amount"
)


def bill_due_date_nominal(*, period: int, office: Office | None = None) -> datetime.date:
    """Day N of the month after the period (``collection.due_day``), before any move for a holiday."""
    day = parameter_value(codes.COLLECTION_DUE_DAY, on=period_first_day(period), office=office).value
    nxt = period_last_day(period) + datetime.timedelta(days=1)
    last = period_last_day(nxt.year * 100 + nxt.month)
    return nxt.replace(day=min(int(day), last.day))


def bill_due_date(*, period: int, office: Office | None = None, calendar: WorkCalendar | None = None) -> datetime.date:
    """Bills fall due on day N of the month after the period (``collection.due_day``); a day N that is a weekend
    or a statutory holiday moves to the next working day (民法典第二百零三条: a period whose last day is a holiday
    ends on the day after the holiday), and the late fee starts after that day."""
    nominal = bill_due_date_nominal(period=period, office=office)
    calendar = calendar or WorkCalendar()
    if calendar.is_working_day(nominal):
        return nominal
    return calendar.add_working_days(nominal, 1)


def due_date_note(bill: Bill) -> str:
    """Why a bill's due date is not day N (moved past a weekend or holiday), or "" (shown on the bill)."""
    if bill.kind in (BillKind.REFUND, BillKind.LATE_FEE):
        return ""
    nominal = bill_due_date_nominal(period=bill.period, office=bill.office)
    if nominal == bill.due_date or bill_due_date(period=bill.period, office=bill.office) != bill.due_date:
        return ""
    return _("缴费截止日 %(nominal)s 为休息日或法定节假日，依民法典第二百零三条顺延至 %(due)s。") % {
        "nominal": nominal,
        "due": bill.due_date,
    }


@transaction.atomic
def bill_run_start(
    *,
    period: Any,
    acting_user: Any,
    scope: str = BillRunScope.CITY,
    office: Office | None = None,
    employer: Employer | None = None,
) -> BillRun:
    """Queue a bill run; it executes in a Celery task after commit. Refused while another run of the period is active."""
    period = period_parse(period)
    if scope == BillRunScope.EMPLOYER:
        if employer is None:
            raise ValidationError({"employer": _("按单位核定时必须选择参保单位。")})
        office = employer.office
    elif scope == BillRunScope.DISTRICT:
        if office is None or office.level != OfficeLevel.DISTRICT:
            raise ValidationError({"office": _("按区核定时必须选择一个区。")})
    elif scope == BillRunScope.CITY:
        office = Office.objects.get(level=OfficeLevel.CITY)
    else:
        raise ValidationError({"scope": _("未知的核定范围“%(scope)s”。") % {"scope": scope}})
    if not office_in_jurisdiction(acting_user, office):
        raise ValidationError({"office": _("核定范围不在您的辖区内。")})
    # Resolve now so a missing parameter is reported to the clerk, not found later in a worker.
    _rates_for_run(period)
    run = BillRun(period=period, scope=scope, office=office, employer=employer, started_by=acting_user)
    run.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:
        active = BillRun.objects.filter(period=period, status__in=[BillRunStatus.QUEUED, BillRunStatus.RUNNING]).first()
        raise ValidationError(
            {
                "period": _("所属期 %(period)s 已有核定批次正在进行（%(run)s），请等待其完成后再试。")
                % {"period": period, "run": active or "—"}
            }
        ) from None
    task_enqueue_on_commit("contributions.bill_run_execute", run.pk)
    return run


def _rates_for_run(period: int) -> tuple[dict[str, DistrictRates], Rounding]:
    on = period_first_day(period)
    districts = [""] + list(Office.objects.filter(level=OfficeLevel.DISTRICT).values_list("code", flat=True))
    rates = {code: district_rates(on=on, district_code=code or None) for code in districts}
    return rates, run_rounding(on=on)


def _sql_dialect() -> dict[str, str]:
    if connection.vendor == "postgresql":
        return {"uuid": "gen_random_uuid()", "greatest": "GREATEST", "least": "LEAST", "json": "'{}'::jsonb"}
    return {"uuid": "lower(hex(randomblob(16)))", "greatest": "MAX", "least": "MIN", "json": "'{}'"}


def _rates_cte(rates: dict[str, DistrictRates]) -> tuple[str, list[Any]]:
    rows: list[tuple[Any, ...]] = []
    for district, r in rates.items():
        for insurance, employer_ppm in r.employer_ppm.items():
            rows.append((district, insurance, 0, employer_ppm, r.individual_ppm[insurance], r.floor_fen, r.ceiling_fen))
        for risk_class, injury_ppm in r.injury_ppm_by_class.items():
            rows.append((district, "work_injury", risk_class, injury_ppm, 0, r.floor_fen, r.ceiling_fen))
    # Integers typed BIGINT so fen × ppm × ratio never overflows 32 bits. Each row also carries its key as one text
    # (``_RATE_KEY_SQL``): joined on three columns of a VALUES list, the planner guesses a handful of rows for a
    # million and nests loops over them (17 s instead of 7.5 s for 200,000 employees); on one key it hashes.
    b = "CAST(%s AS BIGINT)"
    placeholders = ", ".join([f"(%s, %s, %s, {b}, {b}, {b}, {b}, {b})"] * len(rows))
    cte = (
        "rates(k, district, insurance, risk_class, employer_ppm, individual_ppm, floor_fen, ceiling_fen) "
        f"AS (VALUES {placeholders})"
    )
    return cte, [v for row in rows for v in (f"{row[0]}/{row[1]}/{row[2]}", *row)]


def _rate_key_sql(path: str, insurance: str, risk_class: str) -> str:
    """The rates row's key for an office path, an insurance type and the employer's risk class, in SQL."""
    risk = f"CASE WHEN {insurance} = 'work_injury' THEN {risk_class} ELSE 0 END"
    return f"{office_district_code_sql(path)} || '/' || {insurance} || '/' || {risk}"


def _amount_sql(ppm_expr: str, rounding: Rounding, ratio_expr: str = "x.ratio_centi") -> str:
    """Exact integer arithmetic: fen × ppm × ratio in hundredths, rounded to the money unit (see rates.line_amount)."""
    divisor = 1_000_000 * 100 * rounding.unit_fen
    half = divisor // 2 if rounding.mode == "half_up" else 0
    return f"((x.base_fen * {ppm_expr} * {ratio_expr} + {half}) / {divisor}) * {rounding.unit_fen} / 100.0"


def _scope_sql(run: BillRun, alias: str) -> tuple[str, list[Any]]:
    if run.scope == BillRunScope.EMPLOYER:
        return f"{alias}.id = %s", [run.employer_id]
    return f"{alias}.office_id IN (SELECT id FROM {_OFFICE} WHERE path LIKE %s)", [run.office.path + "%"]


# Chunks of at least this many bills are written with hash joins only (``_chunk_lines_write``).
_HASH_JOIN_BILLS = 500


def _bill_employer_chunk(
    run: BillRun, lo: int, hi: int, rates_cte: str, rates_params: list[Any], rounding: Rounding, due: datetime.date
) -> tuple[int, int, int]:
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        if pg:
            # For this chunk's transaction: the per-insurance totals of a million lines are hashed in memory instead
            # of sorted on disk, and no JIT compilation (seconds per statement; the work is writing, not computing).
            cur.execute("SET LOCAL work_mem = '64MB'")
            cur.execute("SET LOCAL jit = off")
        bills = _chunk_bills_insert(cur, run, lo, hi, due)
        if not bills:
            return 0, 0, 0
        line_select, line_params = _chunk_line_select(run, lo, hi, rounding)
        if not pg:
            cur.execute(
                f"INSERT INTO {_BILL_LINE} ({_LINE_COLUMNS}) WITH {rates_cte} {line_select}",
                [*rates_params, *line_params],
            )
            return bills, cur.rowcount, _finish_bills(cur, run, lo, hi, "employer_id")
        lines, floor_lines = _chunk_lines_write(
            cur, line_select, [*rates_params, *line_params], rates_cte, hash_joins=bills >= _HASH_JOIN_BILLS
        )
        return bills, lines, _finish_bills(cur, run, lo, hi, "employer_id", floor_lines=floor_lines)


def _chunk_bills_insert(cur: Any, run: BillRun, lo: int, hi: int, due: datetime.date) -> int:
    """The chunk's bills (not yet issued): one per employer in ``lo``–``hi`` with an active employee enrollment and
    no regular bill of the period yet. On PostgreSQL they are also kept in a temporary table with fresh statistics:
    the bill table's own statistics predate them, and a planner that expects a handful of bills nests loops over a
    million lines. (The application role may ANALYZE its temporary tables, not the owner's.)"""
    d = _sql_dialect()
    last = period_last_day(run.period)
    types = ", ".join(["%s"] * len(_EMPLOYEE_TYPES))
    scope_sql, scope_params = _scope_sql(run, "emp")
    pg = connection.vendor == "postgresql"
    if pg:
        cur.execute(f"DROP TABLE IF EXISTS pg_temp.{_CHUNK_BILLS}")
        cur.execute(
            f"CREATE TEMP TABLE {_CHUNK_BILLS} (id bigint PRIMARY KEY, employer_id bigint NOT NULL, "
            "period integer NOT NULL) ON COMMIT DROP"
        )
    bill_insert = f"""
        INSERT INTO {_BILL} (uid, kind, period, employer_id, person_id, office_id, bill_run_id,
            corrects_id, reason, total_employer, total_individual, total, subsidy_city, subsidy_district,
            subsidy_other, details, due_date, issued_at, issued_by_id)
        SELECT {d["uuid"]}, %s, %s, emp.id, NULL, emp.office_id, %s, NULL, '', 0, 0, 0, 0, 0, 0, {d["json"]},
            %s, NULL, %s
        FROM {_EMPLOYER} emp
        WHERE emp.id BETWEEN %s AND %s AND emp.status <> 'closed' AND {scope_sql}
          AND EXISTS (SELECT 1 FROM {_ENROLLMENT} e WHERE e.employer_id = emp.id
                      AND e.insurance_type IN ({types}) AND {_ACTIVE})
          AND NOT EXISTS (SELECT 1 FROM {_BILL} b WHERE b.employer_id = emp.id
                          AND b.period = %s AND b.kind = %s)
        """
    if pg:
        bill_insert = (
            f"WITH written AS ({bill_insert} RETURNING id, employer_id, period) "
            f"INSERT INTO {_CHUNK_BILLS} SELECT id, employer_id, period FROM written"
        )
    cur.execute(
        bill_insert,
        [
            *(BillKind.REGULAR, run.period, run.pk, due, run.started_by_id, lo, hi, *scope_params),
            *(*_EMPLOYEE_TYPES, False, last, last, run.period, BillKind.REGULAR),
        ],
    )
    bills = cur.rowcount
    if pg and bills:
        cur.execute(f"ANALYZE {_CHUNK_BILLS}")
    return bills


def _chunk_line_select(run: BillRun, lo: int, hi: int, rounding: Rounding) -> tuple[str, list[Any]]:
    """The SELECT of the chunk's lines (after ``WITH rates``) and its parameters. The enrollments' own employer range
    lets each chunk read its slice of the enrollment index, not the table; the declared bases are those of the
    chunk's declarations only, so they can be hashed once instead of looked up a million times."""
    d = _sql_dialect()
    last = period_last_day(run.period)
    types = ", ".join(["%s"] * len(_EMPLOYEE_TYPES))
    pg = connection.vendor == "postgresql"
    # The chunk's bills: on PostgreSQL the temporary table of _chunk_bills_insert, elsewhere the bill table itself.
    bills_sql = (
        f"{_CHUNK_BILLS} b"
        if pg
        else f"(SELECT * FROM {_BILL} WHERE bill_run_id = %s AND issued_at IS NULL AND employer_id BETWEEN %s AND %s) b"
    )
    greatest, least = d["greatest"], d["least"]
    sql = f"""
        SELECT x.bill_id, x.person_id, x.insurance_type, %s, x.base_fen / 100.0, x.base_source,
            x.employer_ppm * x.ratio_centi / 100 / 1000000.0, x.individual_ppm / 1000000.0,
            {_amount_sql("x.employer_ppm", rounding)}, {_amount_sql("x.individual_ppm", rounding, "100")}
        FROM (
            SELECT b.id AS bill_id, e.person_id, e.insurance_type, r.employer_ppm, r.individual_ppm,
                CASE WHEN dl.base IS NULL THEN 'floor' ELSE 'declared' END AS base_source,
                {least}({greatest}(COALESCE(CAST(ROUND(dl.base * 100) AS BIGINT), r.floor_fen), r.floor_fen),
                        r.ceiling_fen) AS base_fen,
                CASE WHEN e.insurance_type = 'work_injury'
                     THEN COALESCE(CAST(ROUND(f.ratio * 100) AS BIGINT), 100) ELSE 100 END AS ratio_centi
            FROM {bills_sql}
            JOIN {_EMPLOYER} emp ON emp.id = b.employer_id
            JOIN {_OFFICE} o ON o.id = emp.office_id
            JOIN {_ENROLLMENT} e ON e.employer_id = b.employer_id AND e.employer_id BETWEEN %s AND %s
                 AND e.insurance_type IN ({types}) AND {_ACTIVE}
            JOIN rates r ON r.k = {_rate_key_sql("o.path", "e.insurance_type", "emp.risk_class")}
            LEFT JOIN (SELECT dd.employer_id, dl.person_id, dl.base FROM {_DECLARATION} dd
                       JOIN {_DECLARATION_LINE} dl ON dl.declaration_id = dd.id
                       WHERE dd.period = %s AND dd.employer_id BETWEEN %s AND %s) dl
                 ON dl.employer_id = b.employer_id AND dl.person_id = e.person_id
            LEFT JOIN {_WORK_INJURY_FLOAT} f ON f.employer_id = emp.id
                 AND f.valid_from <= %s AND (f.valid_to IS NULL OR f.valid_to > %s)
        ) x
        """
    params = [
        *(run.period, *([] if pg else [run.pk, lo, hi]), lo, hi, *_EMPLOYEE_TYPES, False, last, last),
        *(run.period, lo, hi, last, last),
    ]
    return sql, params


def _chunk_lines_write(
    cur: Any, line_select: str, params: list[Any], rates_cte: str, *, hash_joins: bool
) -> tuple[int, int]:
    """PostgreSQL: the chunk's lines and their per-insurance totals in one statement — the totals are summed from
    the rows the INSERT returns instead of being read back from the line table and its index. Returns (lines, floor
    lines).

    Without the per-row foreign-key triggers when the role may (registry.bulk): the lines' bills were written in
    this transaction, and their persons are locked FOR KEY SHARE in the same statement, set-based, from the lines it
    wrote — what each row's (deferred) trigger would do, in one statement instead of two million trigger calls at
    COMMIT, and without reading the chunk's enrollments a second and third time. A person gone meanwhile is not
    locked, and the count tells.

    ``hash_joins``: for a chunk of thousands of employers the planner undercounts the lines about fivefold (the
    enrollment filters and the rates key) and would nest loops over a million of them; it hashes instead
    (measured, docs/benchmarks.md). A run for one employer keeps its index lookups."""
    triggers_off = row_triggers_off_allowed((_BILL_LINE, _BILL_TOTAL))
    if triggers_off:
        row_triggers(on=False)
    if hash_joins:
        cur.execute("SET LOCAL enable_nestloop = off")
    locked = (
        f""",
        locked AS (SELECT id FROM {_PERSON} WHERE id IN (SELECT person_id FROM written) ORDER BY id FOR KEY SHARE)"""
        if triggers_off
        else ""
    )
    counts = (
        "(SELECT COUNT(*) FROM locked), (SELECT COUNT(DISTINCT person_id) FROM written)" if triggers_off else "0, 0"
    )
    cur.execute(
        f"""
        WITH {rates_cte},
        written AS (
            INSERT INTO {_BILL_LINE} ({_LINE_COLUMNS}) {line_select}
            RETURNING bill_id, person_id, insurance_type, employer_amount, individual_amount, base_source
        ),
        totals AS (
            INSERT INTO {_BILL_TOTAL} (bill_id, insurance_type, employer_amount, individual_amount, amount)
            SELECT bill_id, insurance_type, SUM(employer_amount), SUM(individual_amount),
                   SUM(employer_amount) + SUM(individual_amount)
            FROM written GROUP BY bill_id, insurance_type
            RETURNING 1
        ){locked}
        SELECT (SELECT COUNT(*) FROM written), (SELECT COUNT(*) FROM written WHERE base_source = 'floor'),
               (SELECT COUNT(*) FROM totals), {counts}
        """,
        params,
    )
    lines, floor_lines, _totals, persons_locked, persons = cur.fetchone()
    if persons_locked != persons:
        raise DatabaseError(f"{persons - persons_locked} persons of the bill lines no longer exist")
    if hash_joins:
        cur.execute("SET LOCAL enable_nestloop = on")
    if triggers_off:
        row_triggers(on=True)
    return lines, floor_lines


def _finish_bills(cur: Any, run: BillRun, lo: int, hi: int, payer_col: str, floor_lines: int | None = None) -> int:
    """Totals per insurance and per bill, then issue: after this the bills are immutable. With ``floor_lines`` given,
    the per-insurance totals were written with the lines (and the floor lines counted) already."""
    # One change-feed event per bill of this chunk, in the chunk's transaction (raw inserts send no signals).
    change_events_record(
        change_type="bill",
        queryset=Bill.objects.filter(
            bill_run_id=run.pk, issued_at__isnull=True, **{f"{payer_col}__gte": lo, f"{payer_col}__lte": hi}
        ),
    )
    if floor_lines is None:
        cur.execute(
            f"""
            INSERT INTO {_BILL_TOTAL} (bill_id, insurance_type, employer_amount, individual_amount, amount)
            SELECT l.bill_id, l.insurance_type, SUM(l.employer_amount), SUM(l.individual_amount),
                   SUM(l.employer_amount) + SUM(l.individual_amount)
            FROM {_BILL_LINE} l JOIN {_BILL} b ON b.id = l.bill_id
            WHERE b.bill_run_id = %s AND b.issued_at IS NULL AND b.{payer_col} BETWEEN %s AND %s
            GROUP BY l.bill_id, l.insurance_type
            """,
            [run.pk, lo, hi],
        )
    cur.execute(
        f"""
        UPDATE {_BILL} SET total_employer = s.te, total_individual = s.ti, total = s.te + s.ti,
               issued_at = %s
        FROM (SELECT t.bill_id, SUM(t.employer_amount) AS te, SUM(t.individual_amount) AS ti
              FROM {_BILL_TOTAL} t JOIN {_BILL} b ON b.id = t.bill_id
              WHERE b.bill_run_id = %s AND b.issued_at IS NULL AND b.{payer_col} BETWEEN %s AND %s
              GROUP BY t.bill_id) s
        WHERE {_BILL}.id = s.bill_id
        """,
        [timezone.now(), run.pk, lo, hi],
    )
    if floor_lines is None:
        cur.execute(
            f"""
            SELECT COUNT(*) FROM {_BILL_LINE} l JOIN {_BILL} b ON b.id = l.bill_id
            WHERE b.bill_run_id = %s AND b.{payer_col} BETWEEN %s AND %s AND l.base_source = 'floor'
            """,
            [run.pk, lo, hi],
        )
        floor_lines = cur.fetchone()[0]
    if payer_col == "employer_id":
        cur.execute(
            f"""
            UPDATE {_DECLARATION} SET status = %s
            WHERE period = %s AND employer_id BETWEEN %s AND %s AND status = %s
              AND employer_id IN (SELECT employer_id FROM {_BILL} WHERE bill_run_id = %s)
            """,
            [DeclarationStatus.LOCKED, run.period, lo, hi, DeclarationStatus.OPEN, run.pk],
        )
    return floor_lines


_FLEX_ACTIVE = "e.is_flexible = %s AND e.start_date <= %s AND (e.end_date IS NULL OR e.end_date >= %s)"


def _bill_flexible(
    run: BillRun, rates: dict[str, DistrictRates], rounding: Rounding, due: datetime.date
) -> tuple[int, int, int]:
    """灵活就业: the person pays both shares at the flexible rates, on the base he chose (``FlexibleBaseChoice``: a
    percentage of the average wage, kept between the floor and the ceiling), else on the floor (the default grade).
    The chosen base is whole fen, rounded down."""
    if run.scope == BillRunScope.EMPLOYER:
        return 0, 0, 0
    d = _sql_dialect()
    last = period_last_day(run.period)
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {_BILL} (uid, kind, period, employer_id, person_id, office_id, bill_run_id,
                corrects_id, reason, total_employer, total_individual, total, subsidy_city, subsidy_district,
                subsidy_other, details, due_date, issued_at, issued_by_id)
            SELECT {d["uuid"]}, %s, %s, NULL, p.id, p.residence_office_id, %s, NULL, '', 0, 0, 0, 0, 0, 0, {d["json"]},
                %s, NULL, %s
            FROM {_PERSON} p
            WHERE p.residence_office_id IN (SELECT id FROM {_OFFICE} WHERE path LIKE %s)
              AND EXISTS (SELECT 1 FROM {_ENROLLMENT} e WHERE e.person_id = p.id AND {_FLEX_ACTIVE})
              AND NOT EXISTS (SELECT 1 FROM {_BILL} b WHERE b.person_id = p.id AND b.period = %s
                              AND b.kind = %s)
            """,
            [
                *(BillKind.FLEXIBLE, run.period, run.pk, due, run.started_by_id, run.office.path + "%"),
                *(True, last, last, run.period, BillKind.FLEXIBLE),
            ],
        )
        bills = cur.rowcount
        if not bills:
            return 0, 0, 0
        lines = _flexible_lines(cur, run, rates, rounding)
        cur.execute(
            f"SELECT MIN(person_id), MAX(person_id) FROM {_BILL} WHERE bill_run_id = %s AND kind = %s",
            [run.pk, BillKind.FLEXIBLE],
        )
        lo, hi = cur.fetchone()
        _finish_bills(cur, run, lo, hi, "person_id")
        return bills, lines, 0


def _flexible_lines(cur: Any, run: BillRun, rates: dict[str, DistrictRates], rounding: Rounding) -> int:
    """The lines of the run's flexible bills: the chosen percentage of the average wage (clamped to the floor and
    the ceiling; the latest choice from a month up to the period) or the floor."""
    d = _sql_dialect()
    last = period_last_day(run.period)
    rows = [
        (dist, ins, ppm_, r.floor_fen, r.ceiling_fen, r.average_fen)
        for dist, r in rates.items()
        for ins, ppm_ in r.flex_ppm.items()
    ]
    row_sql = "(%s, %s, CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT), CAST(%s AS BIGINT))"
    cte = (
        "flex(district, insurance, ppm, floor_fen, ceiling_fen, avg_fen) AS (VALUES "
        + ", ".join([row_sql] * len(rows))
        + ")"
    )
    chosen = (
        f"(SELECT fb.percent FROM {_FLEX_BASE} fb WHERE fb.person_id = b.person_id AND fb.valid_from <= %s"
        " ORDER BY fb.valid_from DESC LIMIT 1)"
    )
    greatest, least = d["greatest"], d["least"]
    cur.execute(
        f"""
        INSERT INTO {_BILL_LINE} (bill_id, person_id, insurance_type, period, base, base_source,
            employer_rate, individual_rate, employer_amount, individual_amount)
        WITH {cte}
        SELECT x.bill_id, x.person_id, x.insurance_type, %s, x.base_fen / 100.0,
            CASE WHEN x.pct IS NULL THEN 'floor' ELSE 'chosen' END, 0, x.ppm / 1000000.0,
            0, {_amount_sql("x.ppm", rounding)}
        FROM (
            SELECT y.*, CASE WHEN y.pct IS NULL THEN y.floor_fen
                ELSE {least}({greatest}(y.avg_fen * y.pct / 100, y.floor_fen), y.ceiling_fen) END AS base_fen
            FROM (
                SELECT b.id AS bill_id, b.person_id, e.insurance_type, f.ppm, f.floor_fen, f.ceiling_fen, f.avg_fen,
                    {chosen} AS pct, 100 AS ratio_centi
                FROM {_BILL} b
                JOIN {_OFFICE} o ON o.id = b.office_id
                JOIN {_ENROLLMENT} e ON e.person_id = b.person_id AND {_FLEX_ACTIVE}
                JOIN flex f ON f.district = {office_district_code_sql("o.path")} AND f.insurance = e.insurance_type
                WHERE b.bill_run_id = %s AND b.kind = %s AND b.issued_at IS NULL
            ) y
        ) x
        """,
        [*[v for row in rows for v in row], run.period, run.period, True, last, last, run.pk, BillKind.FLEXIBLE],
    )
    return cur.rowcount


def _employer_chunks(run: BillRun) -> tuple[int, list[tuple[int, int, int]]]:
    """The employers in scope (their number: the run's total) and the (lo, hi, done_after) employer-id ranges of
    those not yet billed for the period. ``done_after`` counts every employer in scope up to ``hi`` — billed now,
    before, or with nothing to bill — so a resumed run reports the same total and ends at total/total (an
    employer with no active enrollment is never billed and was counted again on every resume)."""
    scope_sql, scope_params = _scope_sql(run, "emp")
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT emp.id, EXISTS (SELECT 1 FROM {_BILL} b WHERE b.employer_id = emp.id AND b.period = %s
                                   AND b.kind = %s)
            FROM {_EMPLOYER} emp
            WHERE emp.status <> 'closed' AND {scope_sql}
            ORDER BY emp.id
            """,
            [run.period, BillKind.REGULAR, *scope_params],
        )
        rows = cur.fetchall()
    pending = [(position, emp_id) for position, (emp_id, billed) in enumerate(rows, start=1) if not billed]
    chunks = []
    for i in range(0, len(pending), CHUNK_EMPLOYERS):
        part = pending[i : i + CHUNK_EMPLOYERS]
        chunks.append((part[0][1], part[-1][1], part[-1][0]))
    return len(rows), chunks


def bill_run_execute(*, bill_run_id: int) -> BillRun:
    """Run (or resume) a queued bill run. Each chunk of employers is one transaction, so a crash loses
    nothing and a re-delivered task continues where it stopped; issued bills are never touched again."""
    run = BillRun.objects.select_related("office", "employer").get(pk=bill_run_id)
    if run.status in (BillRunStatus.DONE, BillRunStatus.FAILED):
        return run
    with connection.cursor() as cur:  # on SQLite the lock helpers succeed at once (registry.locks)
        if not advisory_try_lock(cur, AdvisoryLock.BILL_RUN, run.period):
            return run  # another worker is executing this period right now
    try:
        rates, rounding = _rates_for_run(run.period)
        due = bill_due_date(period=run.period)
        rates_cte, rates_params = _rates_cte(rates)
        total, chunks = _employer_chunks(run)
        BillRun.objects.filter(pk=run.pk).update(
            status=BillRunStatus.RUNNING,
            started_at=run.started_at or timezone.now(),
            total=total,
            parameters={
                "rounding": {"places": rounding.places, "mode": rounding.mode, "value_id": rounding.value_id},
                "districts": {
                    k or "city": {"value_ids": r.value_ids, "floor_fen": r.floor_fen, "ceiling_fen": r.ceiling_fen}
                    for k, r in rates.items()
                },
            },
        )
        for lo, hi, done_after in chunks:
            with transaction.atomic():
                bills, lines, floor_lines = _bill_employer_chunk(run, lo, hi, rates_cte, rates_params, rounding, due)
                _progress(run, done=done_after, bills=bills, lines=lines, floor_lines=floor_lines)
        with transaction.atomic():
            bills, lines, floor_lines = _bill_flexible(run, rates, rounding, due)
            _progress(run, done=total, bills=bills, lines=lines, floor_lines=floor_lines)
            BillRun.objects.filter(pk=run.pk).update(status=BillRunStatus.DONE, finished_at=timezone.now())
    except ValidationError as exc:
        BillRun.objects.filter(pk=run.pk).update(
            status=BillRunStatus.FAILED, error="; ".join(exc.messages), finished_at=timezone.now()
        )
    finally:
        with connection.cursor() as cur:
            advisory_unlock(cur, AdvisoryLock.BILL_RUN, run.period)
    run.refresh_from_db()
    return run


def _progress(run: BillRun, *, done: int, bills: int, lines: int, floor_lines: int) -> None:
    """``done`` is absolute (employers in scope up to the chunk); the counts of what was created are added: a
    chunk's bills are created once (a chunk that crashed rolled back, and a resumed run skips billed employers)."""
    BillRun.objects.filter(pk=run.pk).update(
        done=done,
        bills_created=F("bills_created") + bills,
        lines_created=F("lines_created") + lines,
        floor_lines=F("floor_lines") + floor_lines,
    )


@transaction.atomic
def bill_run_fail(*, bill_run: BillRun, acting_user: Any, reason: str) -> BillRun:
    """Mark a run that died (worker lost) as failed so the period can be run again; its issued bills stay."""
    if not reason.strip():
        raise ValidationError({"reason": _("请填写原因。")})
    if bill_run.status not in (BillRunStatus.QUEUED, BillRunStatus.RUNNING):
        raise ValidationError({"status": _("只有排队中或核定中的批次可以标记为失败。")})
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            executing = advisory_lock_held(cur, AdvisoryLock.BILL_RUN, bill_run.period)
        if executing:
            # A worker is executing the period: failing the run would let a second run start beside it.
            raise ConflictError(
                _("所属期 %(period)s 的核定仍在执行中（有工作进程持有其锁），不能标记为失败；请等待其完成。")
                % {"period": bill_run.period}
            )
    BillRun.objects.filter(pk=bill_run.pk).update(
        status=BillRunStatus.FAILED,
        error=_("由 %(user)s 标记失败：%(reason)s") % {"user": acting_user, "reason": reason},
        finished_at=timezone.now(),
    )
    bill_run.refresh_from_db()
    return bill_run
