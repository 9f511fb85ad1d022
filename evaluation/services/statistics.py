"""The nightly statistics (统计分析): set-based ``INSERT … SELECT`` into ``StatCell`` per topic and month range, so
the statistics pages and the provincial API read a few thousand pre-aggregated rows instead of millions.

Each topic's rows of the months computed are deleted and written again in one transaction: running it twice leaves
the same figures. PostgreSQL only (``age()``, ``make_date``, ``FILTER``); on SQLite the pages stay empty.
"""

from __future__ import annotations

import datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import BenefitAward, BenefitPayment
from contributions.models import Bill, BillTotal, PaymentAllocation
from funds.models import EXPENDITURE_ACCOUNTS, INCOME_ACCOUNTS, Fund, LedgerEntry
from registry.exceptions import ApplicationError
from registry.models import Employer, Enrollment, Person

from ..models import StatCell, StatTopic
from ..periods import add_months, month_bounds, month_start

T = {
    "cell": StatCell._meta.db_table,
    "enrollment": Enrollment._meta.db_table,
    "person": Person._meta.db_table,
    "employer": Employer._meta.db_table,
    "bill": Bill._meta.db_table,
    "billtotal": BillTotal._meta.db_table,
    "alloc": PaymentAllocation._meta.db_table,
    "payment": BenefitPayment._meta.db_table,
    "award": BenefitAward._meta.db_table,
    "entry": LedgerEntry._meta.db_table,
    "fund": Fund._meta.db_table,
}
_INSERT = "INSERT INTO {cell} (topic, month, office_id, insurance_type, dim_a, dim_b, m1, m2, m3) "

AGE_BAND = """CASE WHEN x.age < 18 THEN '0-17' WHEN x.age < 30 THEN '18-29' WHEN x.age < 40 THEN '30-39'
  WHEN x.age < 50 THEN '40-49' WHEN x.age < 60 THEN '50-59' ELSE '60+' END"""
SIZE_BAND = """CASE WHEN coalesce(s.n, 0) = 0 THEN '0' WHEN s.n < 10 THEN '1-9' WHEN s.n < 50 THEN '10-49'
  WHEN s.n < 100 THEN '50-99' WHEN s.n < 500 THEN '100-499' ELSE '500+' END"""

INSURED = (
    _INSERT
    + """
SELECT 'insured', %(month)s, e.office_id, e.insurance_type, p.sex, {age_band},
  count(*) FILTER (WHERE e.start_date <= %(last)s AND (e.end_date IS NULL OR e.end_date >= %(last)s)),
  count(*) FILTER (WHERE e.start_date >= %(first)s),
  count(*) FILTER (WHERE e.end_date <= %(last)s)
FROM {enrollment} e JOIN {person} p ON p.id = e.person_id
CROSS JOIN LATERAL (SELECT extract(year FROM age(%(last)s::date, p.birth_date))::int AS age) x
WHERE e.start_date <= %(last)s AND (e.end_date IS NULL OR e.end_date >= %(first)s)
GROUP BY e.office_id, e.insurance_type, p.sex, {age_band}"""
)

EMPLOYERS = (
    _INSERT
    + """
SELECT 'employers', %(month)s, emp.office_id, '', emp.employer_type, {size_band}, count(*), coalesce(sum(s.n), 0), 0
FROM {employer} emp
LEFT JOIN (SELECT employer_id, count(*) AS n FROM {enrollment}
           WHERE insurance_type = 'emp_pension' AND employer_id IS NOT NULL
             AND start_date <= %(last)s AND (end_date IS NULL OR end_date >= %(last)s)
           GROUP BY employer_id) s ON s.employer_id = emp.id
WHERE emp.status <> 'closed' AND emp.created_at < %(end)s
GROUP BY emp.office_id, emp.employer_type, {size_band}"""
)

CONTRIBUTIONS = (
    _INSERT
    + """
SELECT 'contributions', make_date(b.period / 100, b.period %% 100, 1), b.office_id, bt.insurance_type, '', '',
  sum(bt.amount), sum(coalesce(pa.amount, 0)),
  sum(CASE WHEN b.due_date < %(today)s THEN greatest(bt.amount - coalesce(pa.amount, 0), 0) ELSE 0 END)
FROM {bill} b JOIN {billtotal} bt ON bt.bill_id = b.id
LEFT JOIN (SELECT a.bill_id, a.insurance_type, sum(a.amount) AS amount FROM {alloc} a
           JOIN {bill} b2 ON b2.id = a.bill_id AND b2.period BETWEEN %(p0)s AND %(p1)s
           GROUP BY a.bill_id, a.insurance_type) pa ON pa.bill_id = b.id AND pa.insurance_type = bt.insurance_type
WHERE b.period BETWEEN %(p0)s AND %(p1)s AND b.issued_at IS NOT NULL
GROUP BY b.period, b.office_id, bt.insurance_type"""
)

BENEFITS = (
    _INSERT
    + """
SELECT 'benefits', make_date(bp.period / 100, bp.period %% 100, 1), a.office_id, a.insurance_type, '', '',
  sum(bp.amount), count(*), 0
FROM {payment} bp JOIN {award} a ON a.id = bp.award_id
WHERE bp.period BETWEEN %(p0)s AND %(p1)s
GROUP BY bp.period, a.office_id, a.insurance_type"""
)

FUNDS = (
    _INSERT
    + """
SELECT 'funds', date_trunc('month', le.booked_on)::date, le.office_id, f.insurance_type, '', '',
  coalesce(-sum(le.amount) FILTER (WHERE le.account = ANY(%(income)s)), 0),
  coalesce(sum(le.amount) FILTER (WHERE le.account = ANY(%(expenditure)s)), 0), 0
FROM {entry} le JOIN {fund} f ON f.id = le.fund_id
WHERE le.booked_on >= %(first)s AND le.booked_on < %(next)s
GROUP BY date_trunc('month', le.booked_on), le.office_id, f.insurance_type"""
)


def _run(sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # compiling costs more than these grouped scans gain from it
        cursor.execute(sql.format(**T, age_band=AGE_BAND, size_band=SIZE_BAND), params)
        return cursor.rowcount


# Totals of each office and insurance over sex and age band ('*'): the pages that group by neither read these, twelve
# times fewer rows.
INSURED_TOTALS = (
    _INSERT
    + """
SELECT topic, month, office_id, insurance_type, '*', '*', sum(m1), sum(m2), sum(m3) FROM {cell}
WHERE topic = 'insured' AND month = %(month)s AND dim_a <> '*'
GROUP BY topic, month, office_id, insurance_type"""
)


def _clear(topic: str, first: datetime.date, last: datetime.date) -> None:
    StatCell.objects.filter(topic=topic, month__gte=first, month__lte=last).delete()


@transaction.atomic
def statistics_month_compute(*, month: datetime.date) -> int:
    """The month-end snapshots (insured persons, employers) of ``month``; returns the rows written."""
    if connection.vendor != "postgresql":
        raise ApplicationError(_("统计数据须在 PostgreSQL 上计算。"))
    b = month_bounds(month)
    params = {"month": b.month, "first": b.month, "last": b.last_day, "end": b.end}
    rows = 0
    for topic, sql in ((StatTopic.INSURED, INSURED), (StatTopic.EMPLOYERS, EMPLOYERS)):
        _clear(topic, b.month, b.month)
        rows += _run(sql, params)
    return rows + _run(INSURED_TOTALS, params)


@transaction.atomic
def statistics_flows_compute(*, first: datetime.date, last: datetime.date) -> int:
    """The monthly flows (contributions by bill period, benefits paid, fund income and expenditure) of the months
    ``first``..``last``; returns the rows written."""
    if connection.vendor != "postgresql":
        raise ApplicationError(_("统计数据须在 PostgreSQL 上计算。"))
    first, last = month_start(first), month_start(last)
    params = {
        "first": first,
        "next": add_months(last, 1),
        "p0": first.year * 100 + first.month,
        "p1": last.year * 100 + last.month,
        "today": timezone.localdate(),
        "income": list(INCOME_ACCOUNTS),
        "expenditure": list(EXPENDITURE_ACCOUNTS),
    }
    rows = 0
    for topic, sql in (
        (StatTopic.CONTRIBUTIONS, CONTRIBUTIONS),
        (StatTopic.BENEFITS, BENEFITS),
        (StatTopic.FUNDS, FUNDS),
    ):
        _clear(topic, first, last)
        rows += _run(sql, params)
    return rows


def statistics_refresh(*, on: datetime.date, months_back: int = 1) -> int:
    """Nightly: the snapshots of this month and ``months_back`` before it, the flows of the last 24 months (a bill
    is paid, a benefit paid or an entry booked for months back)."""
    current = month_start(on)
    rows = sum(statistics_month_compute(month=add_months(current, -i)) for i in range(months_back, -1, -1))
    return rows + statistics_flows_compute(first=add_months(current, -23), last=current)
