"""The office metrics job: every office's figures of one month, set-based in PostgreSQL (docs/evaluation.md).

One statement set per month, inside one transaction holding the month's ``EvaluationMonth`` row lock:

1. A working-day index (the n-th working day since 1990, one array passed to the case pass) built from the statutory
   calendar of policies (``CalendarDay``: holidays and make-up working days, weekends otherwise), so the working
   days between two dates are a difference of two indexes (the same count as ``WorkCalendar.working_days_between``).
2. ``eval_target`` — which metric rows a case of an office feeds: its own (``rollup`` false) and the rows of the
   office and every office above it (``rollup`` true), from the materialized office path.
3. ``eval_own`` — one pass over the month's cases (parallel, like a plain aggregate), grouped per office, item and
   handling days: about 10,000 rows. The office figures, the per-item rows and the histogram of handling days are
   sums of these; the rolled-up rows sum them over ``eval_target`` (never the cases again), and a rolled-up 90th
   percentile is read from the summed histograms with ``percentile_cont``'s own arithmetic (the same figure).
4. Ratings, escalations and bills, likewise summed per office first, then everything into ``INSERT … ON CONFLICT DO
   UPDATE … WHERE IS DISTINCT FROM``: running it again writes nothing when nothing changed (idempotent per office
   and month).

A month whose evaluation is published is frozen: the job refuses it (``ConflictError``) and the nightly task skips it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, CaseEscalation, CaseEvent, CaseRating
from contributions.models import Bill, PaymentAllocation
from policies.models import CalendarDay
from registry.exceptions import ApplicationError, ConflictError
from registry.models import Office

from ..models import EvaluationMonth, OfficeMonthItemMetric, OfficeMonthMetric
from ..periods import add_months, month_bounds, month_start

FIGURES = [
    "taken_in",
    "completed",
    "rejected",
    "withdrawn",
    "on_time",
    "on_time_rate",
    "handling_days_avg",
    "handling_days_p90",
    "open_at_end",
    "overdue_at_end",
    "corrected",
    "correction_rate",
    "rejection_rate",
    "escalations",
    "rating_count",
    "rating_sum",
    "rating_avg",
    "poor_count",
    "poor_share",
    "billed",
    "collected",
    "collection_rate",
]

_TABLES = {
    "case": Case._meta.db_table,
    "event": CaseEvent._meta.db_table,
    "escalation": CaseEscalation._meta.db_table,
    "rating": CaseRating._meta.db_table,
    "bill": Bill._meta.db_table,
    "alloc": PaymentAllocation._meta.db_table,
    "office": Office._meta.db_table,
    "calday": CalendarDay._meta.db_table,
    "metric": OfficeMonthMetric._meta.db_table,
    "item_metric": OfficeMonthItemMetric._meta.db_table,
}


@dataclass(frozen=True)
class MetricsResult:
    month: datetime.date
    rows_changed: int
    item_rows_changed: int


# The working-day index as one array (element k + 1 is the index of day ``lo`` + k): a parameter of the case pass
# instead of a temporary table, which parallel workers could not read (the pass scans every case of the city).
_WORKDAY_INDEX = """
SELECT '{{' || string_agg(idx::text, ',' ORDER BY d) || '}}'
FROM (SELECT d, sum(CASE WHEN w THEN 1 ELSE 0 END) OVER (ORDER BY d) AS idx
      FROM (SELECT g.d, CASE WHEN cd.kind = 'workday' THEN true WHEN cd.kind IS NOT NULL THEN false
                             ELSE extract(isodow FROM g.d) < 6 END AS w
            FROM generate_series(%(lo)s::date, %(hi)s::date, interval '1 day') AS g(d)
            LEFT JOIN {calday} cd ON cd.date = g.d::date) s) s
"""


def _prepare_sql() -> list[str]:
    t = _TABLES
    return [
        "DROP TABLE IF EXISTS eval_target",
        f"""CREATE TEMP TABLE eval_target ON COMMIT DROP AS
        SELECT o.id AS office_id, o.id AS target_id, false AS rollup FROM {t["office"]} o
        UNION ALL
        SELECT o.id, a.id, true FROM {t["office"]} o JOIN {t["office"]} a ON o.path LIKE a.path || '%%'""",
        "ANALYZE eval_target",
    ]


# Per case of the month: what it counts for (all flags and the handling time), attributed to its intake office.
_CASE_FACTS = """
SELECT c.intake_office_id AS office_id, c.item_id,
  (c.received_at >= %(start)s AND c.received_at < %(end)s) AS taken_in,
  (c.state = 'completed' AND c.completed_at >= %(start)s AND c.completed_at < %(end)s) AS completed,
  (c.state = 'rejected' AND c.completed_at >= %(start)s AND c.completed_at < %(end)s) AS rejected,
  (c.state = 'withdrawn' AND c.completed_at >= %(start)s AND c.completed_at < %(end)s) AS withdrawn,
  (c.received_at < %(end)s AND (c.completed_at IS NULL OR c.completed_at >= %(end)s)) AS open_at_end,
  (c.received_at < %(end)s AND (c.completed_at IS NULL OR c.completed_at >= %(end)s) AND c.due_date < %(next)s
     AND NOT (c.state = 'suspended' AND c.paused_on < %(next)s)) AS overdue_at_end,
  (timezone(%(tz)s, c.completed_at))::date <= c.due_date AS in_time,
  CASE WHEN c.state = 'completed' AND c.completed_at >= %(start)s AND c.completed_at < %(end)s
       THEN greatest((%(wd)s::int[])[(timezone(%(tz)s, c.completed_at))::date - %(lo)s::date + 1]
                     - (%(wd)s::int[])[(timezone(%(tz)s, c.received_at))::date - %(lo)s::date + 1]
                     - c.paused_working_days, 0) END AS handling_days,
  CASE WHEN c.state IN ('completed', 'rejected') AND c.completed_at >= %(start)s AND c.completed_at < %(end)s
       THEN corr.case_id IS NOT NULL END AS was_corrected
FROM {case} c
-- A join rather than an EXISTS per case: the workers of a parallel scan aggregate their share themselves.
LEFT JOIN (SELECT DISTINCT e.case_id FROM {event} e WHERE e.action = 'correct') corr ON corr.case_id = c.id
WHERE c.received_at < %(end)s AND (c.completed_at IS NULL OR c.completed_at >= %(start)s)
"""


# One pass over the month's cases, grouped per office, item and handling days (about 10,000 rows for a city, in
# parallel like a plain aggregate): the per-office figures, the per-item rows and the histogram of handling days the
# 90th percentiles are read from are all sums of these rows; so are the rolled-up rows (never the cases again).
_OWN = """
CREATE TEMP TABLE eval_own ON COMMIT DROP AS
SELECT f.office_id, f.item_id, f.handling_days AS days,
  count(*) FILTER (WHERE f.taken_in) AS taken_in,
  count(*) FILTER (WHERE f.completed) AS completed,
  count(*) FILTER (WHERE f.rejected) AS rejected,
  count(*) FILTER (WHERE f.withdrawn) AS withdrawn,
  count(*) FILTER (WHERE f.completed AND f.in_time) AS on_time,
  sum(f.handling_days) AS hd_sum, count(f.handling_days) AS hd_n,
  count(*) FILTER (WHERE f.open_at_end) AS open_at_end,
  count(*) FILTER (WHERE f.overdue_at_end) AS overdue_at_end,
  count(*) FILTER (WHERE (f.completed OR f.rejected) AND f.was_corrected) AS corrected
FROM ({facts}) f
GROUP BY f.office_id, f.item_id, f.handling_days
"""


def _fact_sql() -> list[str]:
    body = _CASE_FACTS.format(case=_TABLES["case"], event=_TABLES["event"])
    return ["DROP TABLE IF EXISTS eval_own", _OWN.format(facts=body), "ANALYZE eval_own"]


# The 90th percentile of a rolled-up office is percentile_cont(0.9) over its subtree's handling times, read from the
# summed histograms with the same float arithmetic as percentile_cont: the values at ranks floor and ceil of
# 0.9 × (n − 1) (0-based; the value at rank k is the smallest day count whose running total exceeds k), interpolated.
_AGG = """
WITH agg AS (
  SELECT t.target_id, t.rollup, sum(o.taken_in) AS taken_in, sum(o.completed) AS completed,
    sum(o.rejected) AS rejected, sum(o.withdrawn) AS withdrawn, sum(o.on_time) AS on_time,
    sum(o.hd_sum)::numeric / nullif(sum(o.hd_n), 0) AS hd_avg, sum(o.open_at_end) AS open_at_end,
    sum(o.overdue_at_end) AS overdue_at_end, sum(o.corrected) AS corrected
  FROM eval_own o JOIN eval_target t ON t.office_id = o.office_id
  GROUP BY t.target_id, t.rollup
), hist AS (
  SELECT t.target_id, t.rollup, o.days, sum(o.hd_n)::bigint AS n
  FROM eval_own o JOIN eval_target t ON t.office_id = o.office_id
  WHERE o.days IS NOT NULL
  GROUP BY t.target_id, t.rollup, o.days
), cum AS (
  SELECT target_id, rollup, days,
    sum(n) OVER (PARTITION BY target_id, rollup ORDER BY days) AS upto,
    0.9::float8 * (sum(n) OVER (PARTITION BY target_id, rollup) - 1)::float8 AS pos
  FROM hist
), p90 AS (
  SELECT target_id, rollup, min(days) FILTER (WHERE upto > floor(pos)) AS lo,
    min(days) FILTER (WHERE upto > ceil(pos)) AS hi, max(pos) - floor(max(pos)) AS frac
  FROM cum GROUP BY target_id, rollup
), esc AS (
  SELECT t.target_id, t.rollup, sum(x.n) AS n
  FROM (SELECT c.intake_office_id AS office_id, count(*) AS n
        FROM {escalation} x JOIN {case} c ON c.id = x.case_id
        WHERE x.escalated_at >= %(start)s AND x.escalated_at < %(end)s GROUP BY c.intake_office_id) x
  JOIN eval_target t ON t.office_id = x.office_id
  GROUP BY t.target_id, t.rollup
), rat AS (
  SELECT t.target_id, t.rollup, sum(r.n) AS n, sum(r.total) AS total, sum(r.poor) AS poor
  FROM (SELECT office_id, count(*) AS n, sum(score) AS total, count(*) FILTER (WHERE score <= 2) AS poor
        FROM {rating} WHERE rated_at >= %(start)s AND rated_at < %(end)s GROUP BY office_id) r
  JOIN eval_target t ON t.office_id = r.office_id
  GROUP BY t.target_id, t.rollup
), billed AS (
  SELECT b.office_id, sum(b.total) AS billed FROM {bill} b
  WHERE b.period = %(period)s AND b.issued_at IS NOT NULL
    AND b.kind <> 'late_fee'  -- the collection rate is of contributions; a late fee is not part of what was due
  GROUP BY b.office_id
), paid AS (
  SELECT b.office_id, sum(a.amount) AS collected FROM {alloc} a JOIN {bill} b ON b.id = a.bill_id
  WHERE b.period = %(period)s AND b.issued_at IS NOT NULL AND b.kind <> 'late_fee'
    AND a.created_at < %(collect_end)s GROUP BY b.office_id
), bill_own AS (
  SELECT b.office_id, b.billed, p.collected FROM billed b LEFT JOIN paid p ON p.office_id = b.office_id
), col AS (
  SELECT t.target_id, sum(b.billed) AS billed, coalesce(sum(b.collected), 0) AS collected
  FROM bill_own b JOIN eval_target t ON t.office_id = b.office_id AND t.rollup
  JOIN {office} d ON d.id = t.target_id AND d.level = 2
  GROUP BY t.target_id
), figures AS (
  SELECT k.target_id AS office_id, k.rollup,
    coalesce(a.taken_in, 0) AS taken_in, coalesce(a.completed, 0) AS completed,
    coalesce(a.rejected, 0) AS rejected, coalesce(a.withdrawn, 0) AS withdrawn, coalesce(a.on_time, 0) AS on_time,
    round(a.on_time::numeric / nullif(a.completed, 0), 4) AS on_time_rate,
    round(a.hd_avg, 2) AS handling_days_avg,
    round((q.lo::float8 + (q.hi - q.lo)::float8 * q.frac)::numeric, 2) AS handling_days_p90,
    coalesce(a.open_at_end, 0) AS open_at_end, coalesce(a.overdue_at_end, 0) AS overdue_at_end,
    coalesce(a.corrected, 0) AS corrected,
    round(a.corrected::numeric / nullif(a.completed + a.rejected, 0), 4) AS correction_rate,
    round(a.rejected::numeric / nullif(a.completed + a.rejected, 0), 4) AS rejection_rate,
    coalesce(e.n, 0) AS escalations,
    coalesce(r.n, 0) AS rating_count, coalesce(r.total, 0) AS rating_sum,
    round(r.total::numeric / nullif(r.n, 0), 2) AS rating_avg, coalesce(r.poor, 0) AS poor_count,
    round(r.poor::numeric / nullif(r.n, 0), 4) AS poor_share,
    CASE WHEN o.level = 2 THEN coalesce(cl.billed, 0) END AS billed,
    CASE WHEN o.level = 2 THEN coalesce(cl.collected, 0) END AS collected,
    round(cl.collected / nullif(cl.billed, 0), 4) AS collection_rate
  FROM (SELECT DISTINCT target_id, rollup FROM eval_target) k
  JOIN {office} o ON o.id = k.target_id
  LEFT JOIN agg a ON a.target_id = k.target_id AND a.rollup = k.rollup
  LEFT JOIN p90 q ON q.target_id = k.target_id AND q.rollup = k.rollup
  LEFT JOIN esc e ON e.target_id = k.target_id AND e.rollup = k.rollup
  LEFT JOIN rat r ON r.target_id = k.target_id AND r.rollup = k.rollup
  LEFT JOIN col cl ON cl.target_id = k.target_id
)
INSERT INTO {metric} (office_id, month, rollup, {cols}, computed_at)
SELECT office_id, %(month)s, rollup, {cols}, %(now)s FROM figures
ON CONFLICT (office_id, month, rollup) DO UPDATE SET {updates}, computed_at = EXCLUDED.computed_at
WHERE ({old}) IS DISTINCT FROM ({new})
"""


def _agg_sql() -> str:
    m = _TABLES["metric"]
    return _AGG.format(
        **_TABLES,
        cols=", ".join(FIGURES),
        updates=", ".join(f"{c} = EXCLUDED.{c}" for c in FIGURES),
        old=", ".join(f"{m}.{c}" for c in FIGURES),
        new=", ".join(f"EXCLUDED.{c}" for c in FIGURES),
    )


def _item_sql() -> list[str]:
    t = _TABLES["item_metric"]
    return [
        """CREATE TEMP TABLE eval_items ON COMMIT DROP AS
        SELECT t.target_id AS office_id, t.rollup, o.item_id, sum(o.taken_in) AS taken_in, sum(o.completed) AS completed
        FROM eval_own o JOIN eval_target t ON t.office_id = o.office_id
        GROUP BY t.target_id, t.rollup, o.item_id HAVING sum(o.taken_in) > 0 OR sum(o.completed) > 0""",
        f"""INSERT INTO {t} (office_id, month, rollup, item_id, taken_in, completed)
        SELECT office_id, %(month)s, rollup, item_id, taken_in, completed FROM eval_items
        ON CONFLICT (office_id, month, rollup, item_id) DO UPDATE
          SET taken_in = EXCLUDED.taken_in, completed = EXCLUDED.completed
        WHERE ({t}.taken_in, {t}.completed) IS DISTINCT FROM (EXCLUDED.taken_in, EXCLUDED.completed)""",
        f"""DELETE FROM {t} m WHERE m.month = %(month)s AND NOT EXISTS (
          SELECT 1 FROM eval_items i WHERE i.office_id = m.office_id AND i.rollup = m.rollup AND i.item_id = m.item_id)""",
    ]


# The working-day index starts before any case of this system was received (it started long after 1990).
WD_FIRST = datetime.date(1990, 1, 1)


def _params(month: datetime.date) -> dict:
    b = month_bounds(month)
    return {
        "month": b.month,
        "start": b.start,
        "end": b.end,
        "next": b.next,
        "collect_end": b.collect_end,
        "period": b.period,
        "tz": settings.TIME_ZONE,
        "lo": WD_FIRST,
        "hi": b.next,  # the case pass looks up receipt and completion dates up to the month's end
        "now": timezone.now(),
    }


def _check_month(month: datetime.date) -> None:
    if connection.vendor != "postgresql":
        raise ApplicationError(_("机构月度指标须在 PostgreSQL 上计算。"))
    if month > month_start(timezone.localdate()):
        raise ApplicationError(
            _("%(month)s 尚未到来，不能计算。") % {"month": f"{month:%Y-%m}"}, {"month": [_("月份不能晚于本月。")]}
        )


@transaction.atomic
def office_metrics_compute(*, month: datetime.date, allow_published: bool = False) -> MetricsResult:
    """Compute every office's figures of ``month`` (own and rolled up the office tree) into the metrics table.

    Idempotent: a second run writes nothing unless a figure changed. Refused for a published (frozen) month unless
    a correction asks for it (``allow_published``, used by ``evaluation_correct``) and for a month to come.
    """
    month = month_start(month)
    _check_month(month)
    EvaluationMonth.objects.get_or_create(month=month)
    row = EvaluationMonth.objects.select_for_update().get(month=month)
    if row.is_published and not allow_published:
        raise ConflictError(
            _("%(month)s 的考核已发布，指标已冻结；如需修改请发布更正版本。") % {"month": f"{month:%Y-%m}"},
            code="month_published",
        )
    params = _params(month)
    with connection.cursor() as cursor:
        # JIT compilation cost more than the whole query here (the case pass's group estimate is far too high).
        cursor.execute("SET LOCAL jit = off")
        # The case pass hashes its groups in memory, not in temporary files.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(_WORKDAY_INDEX.format(calday=_TABLES["calday"]), params)
        params["wd"] = cursor.fetchone()[0]
        for sql in _prepare_sql() + _fact_sql():
            cursor.execute(sql, params)
        cursor.execute(_agg_sql(), params)
        changed = cursor.rowcount
        item_changed = 0
        for sql in _item_sql():
            cursor.execute(sql, params)
            item_changed += max(cursor.rowcount, 0) if sql.lstrip().startswith(("INSERT", "DELETE")) else 0
        cursor.execute("DROP TABLE IF EXISTS eval_target, eval_own, eval_items")
    if changed or item_changed or row.computed_at is None:
        row.computed_at = params["now"]
        row.save(update_fields=["computed_at"])
    return MetricsResult(month, changed, item_changed)


def office_metrics_refresh(*, on: datetime.date) -> list[MetricsResult]:
    """Nightly: recompute this month and the last one unless published (frozen months are skipped)."""
    current = month_start(on)
    results = []
    for month in (add_months(current, -1), current):
        if EvaluationMonth.objects.filter(month=month, published_at__isnull=False).exists():
            continue
        results.append(office_metrics_compute(month=month))
    return results
