"""The monthly payroll run: every running benefit of the city paid for one month, in set-based SQL.

``payroll_run_start`` records the run and queues the Celery task after commit; ``payroll_run_execute`` (the task)
does, each step committed on its own so a killed worker loses at most one chunk and a re-delivered task resumes:

1. the yearly certification: those reminded and still not certified after the grace period are suspended from
   this month, those due are reminded (payroll.services.certification);
2. one bank file per bank (sequence 1), empty for now;
3. per chunk of awards (by id), one ``INSERT … SELECT``: for each award the months from its *window start* to the
   run's month — what was due each month (the award's amount plus the adjustments in force, 0 in a suspended
   month or after the award's term) minus what was paid for it (earlier payroll lines and their arrears, and the
   by-hand ``cases.BenefitPayment``) — summed into one line (the month's amount + arrears), the arrears months
   written beside it. The window starts after the award's last paid month (so months missed while suspended for
   missing certification are paid once resumed), and earlier when an adjustment not applied by the previous run
   reaches back (its month);
4. the bank files' counts and totals (the header of each file), and the run's.

A month is never paid twice: the partial unique index ``payroll_line_regular_once`` (award, month) and the
chunk's ``NOT EXISTS``. PostgreSQL only (``generate_series``, advisory locks).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Min, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import BenefitAward, BenefitPayment
from contributions.periods import period_first_day, period_parse
from registry.bulk import row_triggers, row_triggers_off_allowed, rows_lock_key_share
from registry.exceptions import PermissionDeniedError
from registry.jurisdiction import user_office, user_sees_everything
from registry.locks import AdvisoryLock, advisory_try_lock, advisory_unlock
from registry.models import Office, OfficeLevel
from registry.task_queue import task_enqueue_on_commit

from ..models import (
    Bank,
    BankFile,
    PayeeAccount,
    PayrollArrears,
    PayrollLine,
    PayrollRun,
    RunStatus,
    Suspension,
    SuspensionReason,
)
from .amounts import Adjustment, adjustments_cte, adjustments_up_to
from .certification import certification_sweep

_AWARD = BenefitAward._meta.db_table
_PAYMENT = BenefitPayment._meta.db_table
_LINE = PayrollLine._meta.db_table
_ARREARS = PayrollArrears._meta.db_table
_PAYEE = PayeeAccount._meta.db_table
_SUSPENSION = Suspension._meta.db_table
_RUN = PayrollRun._meta.db_table
_BANK_FILE = BankFile._meta.db_table

CHUNK_AWARDS = settings.PAYROLL_CHUNK_AWARDS


def bank_file_number(run: PayrollRun, bank: str, sequence: int) -> str:
    return f"DF{run.period}-{bank}-{sequence}"


def _check_city_staff(acting_user: Any) -> None:
    """A run pays the whole city (市区统筹): only city-level staff start one."""
    office = user_office(acting_user)
    if not (user_sees_everything(acting_user) or (office is not None and office.level == OfficeLevel.CITY)):
        raise PermissionDeniedError(_("待遇发放按市区统一发放，只有市级经办人员可以发起。"))


@transaction.atomic
def payroll_run_start(*, period: Any, pay_date: datetime.date, acting_user: Any) -> PayrollRun:
    """Queue the payroll of ``period``; it executes in a Celery task after commit. One run per month (a failed
    one may be followed by another)."""
    _check_city_staff(acting_user)
    if connection.vendor != "postgresql":  # the run is set-based PostgreSQL SQL (make_interval, data-modifying CTEs)
        raise ValidationError(
            {
                "period": [
                    _("待遇发放需要 PostgreSQL 数据库（设置 DATABASE_URL=postgres://…）；SQLite 演示环境不能执行发放。")
                ]
            }
        )
    period = period_parse(period, allow_future=True)
    if not isinstance(pay_date, datetime.date) or pay_date < period_first_day(period):
        raise ValidationError({"pay_date": [_("发放日期不能早于发放月份的第一天。")]})
    run = PayrollRun(
        period=period,
        pay_date=pay_date,
        office=Office.objects.get(level=OfficeLevel.CITY),
        started_by=acting_user if getattr(acting_user, "pk", None) else None,
    )
    run.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:
        raise ValidationError(
            {"period": [_("%(period)s 已有待遇发放批次（失败的批次除外），不能重复发放。") % {"period": period}]}
        ) from None
    task_enqueue_on_commit("payroll.run_execute", run.pk)
    return run


def _new_adjustments_from(run: PayrollRun, adjustments: list[Adjustment]) -> datetime.date:
    """The earliest month of an adjustment the previous finished run did not apply (else the run's month): how far
    back this run recomputes what was due. The first run ever takes the adjustments as already paid."""
    month = period_first_day(run.period)
    previous = PayrollRun.objects.filter(status=RunStatus.DONE, period__lt=run.period).order_by("-period").first()
    if previous is None:
        return month
    applied = {row[4] for row in previous.parameters.get("adjustments", [])}
    new = [a.from_month for a in adjustments if a.value_id not in applied]
    return min([month, *new])


def _due_sql(month: str, period: str) -> str:
    """What award ``w`` was due for ``month`` (SQL date) before what was paid for it: 0 when stopped (after its
    term, or suspended — a suspension for missing certification that was lifted stops nothing), else its amount
    plus the adjustments in force then that came after its start; minus what was paid for that month (payroll lines
    and their arrears of an earlier month, the by-hand payments). ``period`` is the month as YYYYMM."""
    return f"""GREATEST(
        CASE WHEN (w.months IS NOT NULL AND {month} >= w.start_month + make_interval(months => w.months))
               OR EXISTS (SELECT 1 FROM {_SUSPENSION} s WHERE s.award_id = w.id AND s.from_month <= {month}
                          AND (s.resumed_month IS NULL OR (s.resumed_month > {month} AND s.reason <> 'certification')))
             THEN 0
             ELSE w.monthly_amount + COALESCE((SELECT SUM(j.amount) FROM adj j
                  WHERE j.k = w.office_id::text || '/' || w.effect
                    AND j.from_month > w.start_month AND j.from_month <= {month}), 0)
        END
        - CASE WHEN {month} < %(month)s THEN
              COALESCE((SELECT SUM(l.regular_amount) FROM {_LINE} l
                        WHERE l.award_id = w.id AND l.period = {period} AND l.kind = 'regular'), 0)
            + COALESCE((SELECT SUM(r.amount) FROM {_ARREARS} r WHERE r.award_id = w.id AND r.period = {period}), 0)
          ELSE 0 END
        - COALESCE((SELECT SUM(p.amount) FROM {_PAYMENT} p WHERE p.award_id = w.id AND p.period = {period}), 0),
        0)"""


def _line_insert_sql(adj_cte: str, bank_file_case: str, lock: str = "") -> str:
    """The chunk's statement (see the module's docstring, step 3). Parameters: see ``_run_chunk``.

    Most awards owe only this month (window = the month): they take the short way, one row each; the others (a new
    award, a resumed suspension, an adjustment reaching back) expand their window month by month and are summed."""
    return f"""
        WITH {adj_cte},
        w AS MATERIALIZED (
            SELECT a.id, a.person_id, a.office_id, a.insurance_type, a.effect, a.monthly_amount, a.start_month, a.months,
                   GREATEST(a.start_month, LEAST(%(month)s, %(recompute_from)s,
                       COALESCE((make_date(lp.paid / 100, lp.paid %% 100, 1) + interval '1 month')::date,
                                a.start_month))) AS ws
            FROM {_AWARD} a
            -- one probe of the (award, month) index: the last month paid up to this one (this one: nothing to do)
            CROSS JOIN LATERAL (SELECT MAX(l.period) AS period FROM {_LINE} l WHERE l.award_id = a.id
                                AND l.kind = 'regular' AND l.period <= %(period)s) ll
            CROSS JOIN LATERAL (SELECT GREATEST(ll.period, (SELECT MAX(p.period) FROM {_PAYMENT} p
                                                            WHERE p.award_id = a.id)) AS paid) lp
            WHERE a.id BETWEEN %(lo)s AND %(hi)s AND a.start_month <= %(month)s
              AND ll.period IS DISTINCT FROM %(period)s
            {lock}
        ),
        earlier AS (
            SELECT w.id, (EXTRACT(YEAR FROM m)::int * 100 + EXTRACT(MONTH FROM m)::int) AS mp,
                   {_due_sql("m::date", "(EXTRACT(YEAR FROM m)::int * 100 + EXTRACT(MONTH FROM m)::int)")} AS amount
            FROM w CROSS JOIN LATERAL generate_series(w.ws, %(month)s::date - 1, interval '1 month') m
            WHERE w.ws < %(month)s
              -- an award ended or stopped (open suspension) from before its window owes nothing more
              AND (w.months IS NULL OR w.start_month + make_interval(months => w.months) > w.ws)
              AND NOT EXISTS (SELECT 1 FROM {_SUSPENSION} s WHERE s.award_id = w.id AND s.resumed_month IS NULL
                              AND s.from_month <= w.ws)
        ),
        owed AS (
            SELECT w.id, w.person_id, w.office_id, w.insurance_type, {_due_sql("%(month)s::date", "%(period)s")}
                   AS regular, COALESCE(e.arrears, 0) AS arrears
            FROM w LEFT JOIN (SELECT id, SUM(amount) AS arrears FROM earlier GROUP BY id) e ON e.id = w.id
        ),
        written AS (
            INSERT INTO {_LINE} (run_id, award_id, person_id, office_id, insurance_type, period, kind,
                regular_amount, arrears_amount, amount, status, bank, account_number, account_holder, bank_file_id,
                reissue_of_id, failure_reason, paid_on)
            SELECT %(run)s, o.id, o.person_id, o.office_id, o.insurance_type, %(period)s, 'regular', o.regular,
                   o.arrears, o.regular + o.arrears, CASE WHEN pa.id IS NULL THEN 'held' ELSE 'issued' END,
                   COALESCE(pa.bank, ''), COALESCE(pa.account_number, ''),
                   COALESCE(pa.holder_name, ''), {bank_file_case}, NULL, '', NULL
            FROM owed o
            LEFT JOIN {_PAYEE} pa ON pa.person_id = o.person_id
            WHERE o.regular + o.arrears > 0
            RETURNING id, award_id, bank_file_id, amount, arrears_amount, status
        ),
        arrears AS (
            INSERT INTO {_ARREARS} (line_id, award_id, period, amount)
            SELECT x.id, e.id, e.mp, e.amount FROM earlier e JOIN written x ON x.award_id = e.id
            WHERE e.amount > 0
            RETURNING 1
        )
        -- the chunk's figures per bank file (NULL: held for want of an account), added to the files and the run
        SELECT x.bank_file_id, COUNT(*), SUM(x.amount), SUM(x.arrears_amount), (SELECT COUNT(*) FROM arrears)
        FROM written x GROUP BY x.bank_file_id
    """


def _bank_file_case(run: PayrollRun) -> str:
    """The line's bank file from the payee's bank, as a CASE of literals (bank codes are our choices, ids integers):
    a join on a VALUES list is planned as a loop per line."""
    files = BankFile.objects.filter(run=run, sequence=1).values_list("bank", "id")
    whens = " ".join(f"WHEN '{bank}' THEN {int(pk)}" for bank, pk in files if bank in Bank.values)
    return f"CASE pa.bank {whens} END" if whens else "NULL::bigint"


def _run_chunk(run: PayrollRun, lo: int, hi: int, adj: tuple[str, list[object]], recompute_from: datetime.date) -> None:
    adj_cte, adj_params = adj
    triggers_off = row_triggers_off_allowed((_LINE, _ARREARS))
    # Without the per-row foreign-key triggers when the role may (registry.bulk, as the bill run): the awards that
    # get a line are locked FOR KEY SHARE by the statement that reads them (their persons and offices cannot go
    # while an award refers to them), the run and its files before — what each line's four trigger calls would
    # check at COMMIT.
    # The awards are locked FOR KEY SHARE by the statement that reads them in either case: with the triggers on,
    # the deferred foreign-key checks would lock them only at COMMIT, and a by-hand payment of the same month (whose
    # guard, payroll migration 0003, takes the award FOR UPDATE) must wait for the chunk and then see its lines.
    sql = _line_insert_sql(adj_cte, _bank_file_case(run), "FOR KEY SHARE OF a")
    # Named parameters cannot mix with the adjustments' positional ones: those are renamed.
    params: dict[str, Any] = {
        "lo": lo,
        "hi": hi,
        "month": period_first_day(run.period),
        "period": run.period,
        "run": run.pk,
        "recompute_from": recompute_from,
    }
    sql = _name_positional(sql, list(adj_params), params)
    if triggers_off:
        rows_lock_key_share(table=_RUN, ids_sql="SELECT %s::bigint", params=[run.pk])
        rows_lock_key_share(
            table=_BANK_FILE, ids_sql=f"SELECT id FROM {_BANK_FILE} WHERE run_id = %s AND sequence = 1", params=[run.pk]
        )
        row_triggers(on=False)
    with connection.cursor() as cur:
        cur.execute("SET LOCAL jit = off")  # seconds of compilation per statement for a statement that writes
        cur.execute("SET LOCAL work_mem = '64MB'")
        # The planner cannot know how many awards owe anything (a CASE of subqueries): it guesses a third and
        # probes the payee accounts once per line; hashed, they are read once (the correlated look-ups stay).
        cur.execute("SET LOCAL enable_nestloop = off")
        cur.execute(sql, params)
        figures = cur.fetchall()
    if triggers_off:
        row_triggers(on=True)
    _chunk_figures_add(run, figures)


def _chunk_figures_add(run: PayrollRun, figures: list[tuple[Any, ...]]) -> None:
    """Add the chunk's lines to its bank files' headers and to the run (in the chunk's transaction: a chunk that
    rolled back added nothing, a resumed run skips the awards already paid)."""
    lines = held = 0
    amount = arrears = Decimal(0)
    for bank_file_id, n, total, arrears_total, _arrears_rows in figures:
        lines += n
        amount += total
        arrears += arrears_total
        if bank_file_id is None:
            held += n
        else:
            BankFile.objects.filter(pk=bank_file_id).update(count=F("count") + n, total=F("total") + total)
    PayrollRun.objects.filter(pk=run.pk).update(
        lines=F("lines") + lines,
        amount=F("amount") + amount,
        arrears_amount=F("arrears_amount") + arrears,
        held_lines=F("held_lines") + held,
    )


def _name_positional(sql: str, values: list[object], params: dict[str, Any]) -> str:
    """Replace each positional ``%s`` (only the VALUES lists use them) by a named parameter ``%(vN)s``."""
    parts = sql.split("%s")
    out = [parts[0]]
    for i, part in enumerate(parts[1:]):
        params[f"v{i}"] = values[i]
        out.append(f"%(v{i})s{part}")
    return "".join(out)


def _chunks() -> list[tuple[int, int]]:
    bounds = BenefitAward.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return []
    return [
        (lo, min(lo + CHUNK_AWARDS - 1, bounds["hi"])) for lo in range(bounds["lo"], bounds["hi"] + 1, CHUNK_AWARDS)
    ]


def _bank_files_prepare(run: PayrollRun) -> None:
    for bank in Bank.values:
        BankFile.objects.get_or_create(
            run=run, bank=bank, sequence=1, defaults={"number": bank_file_number(run, bank, 1)}
        )


def bank_files_total(run: PayrollRun, sequence: int) -> None:
    """Counts and totals of the run's files of ``sequence`` from their lines (their header); empty ones go."""
    figures = {
        row["bank_file"]: row
        for row in PayrollLine.objects.filter(run=run, bank_file__sequence=sequence)
        .values("bank_file")
        .annotate(n=Count("id"), total=Sum("amount"))
    }
    for bank_file in BankFile.objects.filter(run=run, sequence=sequence):
        row = figures.get(bank_file.pk)
        if row is None:
            bank_file.delete()
            continue
        BankFile.objects.filter(pk=bank_file.pk).update(count=row["n"], total=row["total"])


def _run_steps(run: PayrollRun) -> None:
    month = period_first_day(run.period)
    adjustments = adjustments_up_to(month)
    recompute_from = _new_adjustments_from(run, adjustments)
    with transaction.atomic():
        if run.status == RunStatus.QUEUED:
            suspended, reminded = certification_sweep(on=run.pay_date, month=month, acting_user=run.started_by)
            PayrollRun.objects.filter(pk=run.pk).update(suspended=suspended, reminded=reminded)
        PayrollRun.objects.filter(pk=run.pk).update(
            status=RunStatus.RUNNING,
            started_at=run.started_at or timezone.now(),
            total=BenefitAward.objects.count(),
            parameters={
                "adjustments": [a.as_record() for a in adjustments],
                "recompute_from": recompute_from.isoformat(),
                "reason_codes": [r.value for r in SuspensionReason],
            },
        )
        _bank_files_prepare(run)
    adj = adjustments_cte(adjustments)
    chunks = _chunks()
    total = BenefitAward.objects.count()
    for i, (lo, hi) in enumerate(chunks, start=1):
        with transaction.atomic():
            _run_chunk(run, lo, hi, adj, recompute_from)
            PayrollRun.objects.filter(pk=run.pk).update(done=total * i // len(chunks))
    with transaction.atomic():
        BankFile.objects.filter(run=run, sequence=1, count=0).delete()
        PayrollRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE, done=total, finished_at=timezone.now())


def payroll_run_execute(*, run_id: int) -> PayrollRun:
    """Run (or resume) a queued payroll run; a second worker for the same month returns at once."""
    run = PayrollRun.objects.get(pk=run_id)
    if run.status in (RunStatus.DONE, RunStatus.FAILED):
        return run
    with connection.cursor() as cur:
        locked = advisory_try_lock(cur, AdvisoryLock.PAYROLL_RUN, run.period)
    if not locked:
        return run
    try:
        _run_steps(run)
    except ValidationError as exc:
        PayrollRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, error="; ".join(exc.messages), finished_at=timezone.now()
        )
    finally:
        with connection.cursor() as cur:
            advisory_unlock(cur, AdvisoryLock.PAYROLL_RUN, run.period)
    run.refresh_from_db()
    return run
