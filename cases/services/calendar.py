"""The working-day calendar: load a year's holidays and make-up working days from the ``holidays`` package.

Administrators enter a year the package does not know yet (the State Council announces the next year's
schedule around November) in admin: one ``CalendarYear`` with its ``CalendarDay`` rows.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from registry.audit import audited_save

from ..models import CalendarDay, CalendarSource, CalendarYear, DayKind


def package_schedule(year: int) -> tuple[dict, set] | None:
    """(holidays {date: name}, make-up working days) of ``year`` from the holidays package, or None when the
    package has no State Council schedule for it (its rules alone know no 调休)."""
    import holidays

    china = holidays.China(years=[year], language="zh_CN")
    workdays = {d for d in getattr(china, "weekend_workdays", set()) if d.year == year}
    days = {d: str(name) for d, name in china.items() if d.year == year}
    if not workdays:
        return None
    return days, workdays


@transaction.atomic
def calendar_year_load(*, year: int, acting_user: Any, replace: bool = False) -> CalendarYear:
    """Load ``year`` from the holidays package (refused when the package does not know the year's schedule,
    or when the year is already there and ``replace`` is not set)."""
    import holidays

    existing = CalendarYear.objects.filter(year=year).first()
    if existing is not None and not replace:
        raise ValidationError(
            {"year": [_("%(year)d 年的节假日安排已录入；如需用软件包数据覆盖，请选择覆盖。") % {"year": year}]}
        )
    schedule = package_schedule(year)
    if schedule is None:
        raise ValidationError(
            {
                "year": [
                    _(
                        "holidays 软件包（%(version)s）没有 %(year)d 年的国务院放假调休安排，请按国务院办公厅通知手工录入。"
                    )
                    % {"version": holidays.__version__, "year": year}
                ]
            }
        )
    days, workdays = schedule
    if existing is not None:
        existing.days.all().delete()
        calendar = existing
        calendar.source = CalendarSource.PACKAGE
    else:
        calendar = CalendarYear(year=year, source=CalendarSource.PACKAGE)
    calendar.note = _("由 holidays %(version)s 载入") % {"version": holidays.__version__}
    audited_save(calendar, acting_user=acting_user)
    rows = [
        CalendarDay(calendar=calendar, date=d, kind=DayKind.HOLIDAY, name=name[:60]) for d, name in sorted(days.items())
    ]
    rows += [CalendarDay(calendar=calendar, date=d, kind=DayKind.WORKDAY, name=_("调休上班")) for d in sorted(workdays)]
    CalendarDay.objects.bulk_create(rows)
    return calendar
