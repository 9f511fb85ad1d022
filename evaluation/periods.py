"""Months as the evaluation counts them: local (Asia/Shanghai) calendar months."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def add_months(month: datetime.date, n: int) -> datetime.date:
    index = month.year * 12 + month.month - 1 + n
    return datetime.date(index // 12, index % 12 + 1, 1)


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


@dataclass(frozen=True)
class MonthBounds:
    month: datetime.date  # first day
    next: datetime.date  # first day of the next month
    start: datetime.datetime  # local midnight of the first day
    end: datetime.datetime  # local midnight of the next month's first day
    collect_end: datetime.datetime  # local midnight two months on: payments counted until then

    @property
    def last_day(self) -> datetime.date:
        return self.next - datetime.timedelta(days=1)

    @property
    def period(self) -> int:
        return self.month.year * 100 + self.month.month


def month_bounds(month: datetime.date) -> MonthBounds:
    first = month_start(month)
    nxt = add_months(first, 1)
    return MonthBounds(first, nxt, _local_midnight(first), _local_midnight(nxt), _local_midnight(add_months(first, 2)))


def month_parse(text: str) -> datetime.date | None:
    """'2026-03' → 2026-03-01; None when it is not a month."""
    try:
        return datetime.datetime.strptime((text or "").strip(), "%Y-%m").date()
    except ValueError:
        return None
