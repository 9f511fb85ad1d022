"""The office metrics job: every office's figures of one month, set-based in PostgreSQL (docs/evaluation.md).

One statement set per month, inside one transaction holding the month's ``EvaluationMonth`` row lock:

1. ``eval_wd`` — a working-day index (the n-th working day since the start of the range) built from the statutory
   calendar of policies (``CalendarDay``: holidays and make-up working days, weekends otherwise), so the working
   days between two dates are a difference of two indexes (the same count as ``WorkCalendar.working_days_between``).
2. ``eval_target`` — which metric rows a case of an office feeds: its own (``rollup`` false) and the rows of the
   office and every office above it (``rollup`` true), from the materialized office path.
3. One pass over the month's cases, ratings, escalations and bills into ``INSERT … ON CONFLICT DO UPDATE … WHERE
   IS DISTINCT FROM``: running it again writes nothing when nothing changed (idempotent per office and month).

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


def _prepare_sql() -> list[str]:
    t = _TABLES
    return [
        "DROP TABLE IF EXISTS eval_wd, eval_target",
        f"""CREATE TEMP TABLE eval_wd ON COMMIT DROP AS
        SELECT d::date AS day, (sum(CASE WHEN w THEN 1 ELSE 0 END) OVER (ORDER BY d))::int AS idx
        FROM (SELECT g.d, CASE WHEN cd.kind = 'workday' THEN true WHEN cd.kind IS NOT NULL THEN false
                               ELSE extract(isodow FROM g.d) < 6 END AS w
              FROM generate_series(%(lo)s::date, %(hi)s::date, interval '1 day') AS g(d)
              LEFT JOIN {t["calday"]} cd ON cd.date = g.d::date) s""",
        "ALTER TABLE eval_wd ADD PRIMARY KEY (day)",
        f"""CREATE TEMP TABLE eval_target ON COMMIT DROP AS
        SELECT o.id AS office_id, o.id AS target_id, false AS rollup FROM {t["office"]} o
        UNION ALL
        SELECT o.id, a.id, true FROM {t["office"]} o JOIN {t["office"]} a ON o.path LIKE a.path || '%%'""",
        "ANALYZE eval_wd",
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
       THEN greatest(wc.idx - wr.idx - c.paused_working_days, 0) END AS handling_days,
  CASE WHEN c.state IN ('completed', 'rejected') AND c.completed_at >= %(start)s AND c.completed_at < %(end)s
       THEN EXISTS (SELECT 1 FROM {event} e WHERE e.case_id = c.id AND e.action = 'correct') END AS was_corrected
FROM {case} c
LEFT JOIN eval_wd wr ON wr.day = (timezone(%(tz)s, c.received_at))::date
LEFT JOIN eval_wd wc ON wc.day = (timezone(%(tz)s, c.completed_at))::date
WHERE c.received_at < %(end)s AND (c.completed_at IS NULL OR c.completed_at >= %(start)s)
"""


def _fact_sql() -> list[str]:
    body = _CASE_FACTS.format(case=_TABLES["case"], event=_TABLES["event"])
    return [
        "DROP TABLE IF EXISTS eval_fact",
        f"CREATE TEMP TABLE eval_fact ON COMMIT DROP AS {body}",
    ]


_AGG = """
WITH agg AS (
  SELECT t.target_id, t.rollup,
    count(*) FILTER (WHERE f.taken_in) AS taken_in,
    count(*) FILTER (WHERE f.completed) AS completed,
    count(*) FILTER (WHERE f.rejected) AS rejected,
    count(*) FILTER (WHERE f.withdrawn) AS withdrawn,
    count(*) FILTER (WHERE f.completed AND f.in_time) AS on_time,
    avg(f.handling_days) AS hd_avg,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY f.handling_days) AS hd_p90,
    count(*) FILTER (WHERE f.open_at_end) AS open_at_end,
    count(*) FILTER (WHERE f.overdue_at_end) AS overdue_at_end,
    count(*) FILTER (WHERE (f.completed OR f.rejected) AND f.was_corrected) AS corrected
  FROM eval_fact f JOIN eval_target t ON t.office_id = f.office_id
  GROUP BY t.target_id, t.rollup
), esc AS (
  SELECT t.target_id, t.rollup, count(*) AS n
  FROM {escalation} x JOIN {case} c ON c.id = x.case_id JOIN eval_target t ON t.office_id = c.intake_office_id
  WHERE x.escalated_at >= %(start)s AND x.escalated_at < %(end)s
  GROUP BY t.target_id, t.rollup
), rat AS (
  SELECT t.target_id, t.rollup, count(*) AS n, sum(r.score) AS total, count(*) FILTER (WHERE r.score <= 2) AS poor
  FROM {rating} r JOIN eval_target t ON t.office_id = r.office_id
  WHERE r.rated_at >= %(start)s AND r.rated_at < %(end)s
  GROUP BY t.target_id, t.rollup
), bills AS (
  SELECT b.id, b.office_id, b.total FROM {bill} b WHERE b.period = %(period)s AND b.issued_at IS NOT NULL
    AND b.kind <> 'late_fee'  -- the collection rate is of contributions; a late fee is not part of what was due
), paid AS (
  SELECT a.bill_id, sum(a.amount) AS amount FROM {alloc} a
  WHERE a.bill_id IN (SELECT id FROM bills) AND a.created_at < %(collect_end)s GROUP BY a.bill_id
), col AS (
  SELECT t.target_id, sum(b.total) AS billed, coalesce(sum(p.amount), 0) AS collected
  FROM bills b JOIN eval_target t ON t.office_id = b.office_id AND t.rollup
  JOIN {office} d ON d.id = t.target_id AND d.level = 2
  LEFT JOIN paid p ON p.bill_id = b.id
  GROUP BY t.target_id
), figures AS (
  SELECT k.target_id AS office_id, k.rollup,
    coalesce(a.taken_in, 0) AS taken_in, coalesce(a.completed, 0) AS completed,
    coalesce(a.rejected, 0) AS rejected, coalesce(a.withdrawn, 0) AS withdrawn, coalesce(a.on_time, 0) AS on_time,
    round(a.on_time::numeric / nullif(a.completed, 0), 4) AS on_time_rate,
    round(a.hd_avg::numeric, 2) AS handling_days_avg, round(a.hd_p90::numeric, 2) AS handling_days_p90,
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
        SELECT t.target_id AS office_id, t.rollup, f.item_id,
          count(*) FILTER (WHERE f.taken_in) AS taken_in, count(*) FILTER (WHERE f.completed) AS completed
        FROM eval_fact f JOIN eval_target t ON t.office_id = f.office_id
        WHERE f.taken_in OR f.completed GROUP BY t.target_id, t.rollup, f.item_id""",
        f"""INSERT INTO {t} (office_id, month, rollup, item_id, taken_in, completed)
        SELECT office_id, %(month)s, rollup, item_id, taken_in, completed FROM eval_items
        ON CONFLICT (office_id, month, rollup, item_id) DO UPDATE
          SET taken_in = EXCLUDED.taken_in, completed = EXCLUDED.completed
        WHERE ({t}.taken_in, {t}.completed) IS DISTINCT FROM (EXCLUDED.taken_in, EXCLUDED.completed)""",
        f"""DELETE FROM {t} m WHERE m.month = %(month)s AND NOT EXISTS (
          SELECT 1 FROM eval_items i WHERE i.office_id = m.office_id AND i.rollup = m.rollup AND i.item_id = m.item_id)""",
    ]


# The working-day index spans every date a case of this system can carry (it started long after 1990); ~15,000 rows.
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
        "hi": datetime.date(b.next.year + 10, 1, 1),
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
        # JIT compilation cost more than the whole query here (the hashed 补正 sub-plan inflates the estimate).
        cursor.execute("SET LOCAL jit = off")
        # The 90th percentiles sort each office's handling times: in memory, not in temporary files.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        for sql in _prepare_sql() + _fact_sql():
            cursor.execute(sql, params)
        cursor.execute(_agg_sql(), params)
        changed = cursor.rowcount
        item_changed = 0
        for sql in _item_sql():
            cursor.execute(sql, params)
            item_changed += max(cursor.rowcount, 0) if sql.lstrip().startswith(("INSERT", "DELETE")) else 0
        cursor.execute("DROP TABLE IF EXISTS eval_wd, eval_target, eval_fact, eval_items")
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
