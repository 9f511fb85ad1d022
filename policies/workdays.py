"""Working days on the Chinese statutory calendar.

A day is a working day when it is a make-up working day (调休上班), or a Monday–Friday that is not a
public holiday. The holidays and make-up days of a year come from ``CalendarYear`` / ``CalendarDay``
(2016–2026 frozen in migration 0006, later years entered by administrators — admin or the
``load_calendar_year`` command — when the State Council announces them). A year without a ``CalendarYear``
row counts weekends only, and the calendar says so (``missing_years``) so that a page can warn; nothing fails.

Used by cases (statutory time limits) and open to contributions (due dates) — hence it lives in policies.

Time limits count from the day after receipt (期间开始之日不计入): ``add_working_days(received_on, n)`` is
the n-th working day after ``received_on``; 0 working days (即办) is the day itself.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from .models import CalendarDay, CalendarYear, DayKind

ONE_DAY = datetime.timedelta(days=1)
# A time limit is at most a few hundred working days; this bounds every loop.
_MAX_SPAN_DAYS = 366 * 5


class WorkCalendar:
    """Reads the calendar tables lazily, one query per year, and answers working-day questions."""

    def __init__(self, years: dict[int, tuple[set[datetime.date], set[datetime.date]] | None] | None = None):
        # year -> (holidays, make-up workdays), or None when the year has no data.
        self._years: dict[int, tuple[set[datetime.date], set[datetime.date]] | None] = dict(years or {})
        self.used_missing_years: set[int] = set()

    # -- loading --------------------------------------------------------------------------------

    def _load(self, year: int) -> tuple[set[datetime.date], set[datetime.date]] | None:
        if year not in self._years:
            if CalendarYear.objects.filter(year=year).exists():
                holidays: set[datetime.date] = set()
                workdays: set[datetime.date] = set()
                for day, kind in CalendarDay.objects.filter(calendar__year=year).values_list("date", "kind"):
                    (workdays if kind == DayKind.WORKDAY else holidays).add(day)
                self._years[year] = (holidays, workdays)
            else:
                self._years[year] = None
        return self._years[year]

    def preload(self, years: Iterable[int]) -> WorkCalendar:
        wanted = [y for y in set(years) if y not in self._years]
        if not wanted:
            return self
        known = set(CalendarYear.objects.filter(year__in=wanted).values_list("year", flat=True))
        data: dict[int, tuple[set, set]] = {y: (set(), set()) for y in known}
        for day, kind, year in CalendarDay.objects.filter(calendar__year__in=known).values_list(
            "date", "kind", "calendar__year"
        ):
            data[year][1 if kind == DayKind.WORKDAY else 0].add(day)
        for year in wanted:
            self._years[year] = data.get(year)
        return self

    def has_year(self, year: int) -> bool:
        return self._load(year) is not None

    # -- questions ------------------------------------------------------------------------------

    def is_working_day(self, day: datetime.date) -> bool:
        data = self._load(day.year)
        if data is None:
            self.used_missing_years.add(day.year)
            return day.weekday() < 5
        holidays, workdays = data
        if day in workdays:
            return True
        if day in holidays:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: datetime.date, days: int) -> datetime.date:
        """The ``days``-th working day after ``start`` (``start`` itself for 0)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current, counted, steps = start, 0, 0
        while counted < days:
            current += ONE_DAY
            steps += 1
            if steps > _MAX_SPAN_DAYS:
                raise ValueError("time limit too long")
            if self.is_working_day(current):
                counted += 1
        return current

    def working_days_between(self, start: datetime.date, end: datetime.date) -> int:
        """Working days d with start < d <= end (0 when end is not after start)."""
        if end <= start:
            return 0
        count, current = 0, start
        while current < end:
            current += ONE_DAY
            if self.is_working_day(current):
                count += 1
        return count

    def missing_years(self, start: datetime.date, end: datetime.date) -> list[int]:
        first, last = min(start, end).year, max(start, end).year
        return [year for year in range(first, last + 1) if not self.has_year(year)]
