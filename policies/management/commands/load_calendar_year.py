"""Load a year of the statutory working-day calendar when the State Council announces it (around November).

    manage.py load_calendar_year 2027 --file notice-2027.csv --document "国办发明电〔2026〕X号"
    manage.py load_calendar_year 2027            # from the installed holidays package, once it knows the year

The file: UTF-8 CSV, one line per day, ``date,kind,name`` — kind ``holiday`` (放假) or ``workday`` (调休上班,
a weekend day worked); a header line is allowed. Administrators may enter the same in admin (节假日安排).
"""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management import BaseCommand, CommandError

from policies.models import CalendarSource, CalendarYear, DayKind
from policies.services import calendar_year_enter, calendar_year_load

_KINDS = {"holiday": DayKind.HOLIDAY, "放假": DayKind.HOLIDAY, "workday": DayKind.WORKDAY, "调休上班": DayKind.WORKDAY}


def _read(path: Path) -> list[tuple[datetime.date, str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _rows(handle)
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: {exc}") from None


def _rows(handle) -> list[tuple[datetime.date, str, str]]:
    days = []
    for number, row in enumerate(csv.reader(handle), start=1):
        if not row or not "".join(row).strip() or (number == 1 and row[0].strip().lower() == "date"):
            continue
        try:
            day = datetime.date.fromisoformat(row[0].strip())
        except ValueError:
            raise CommandError(f"line {number}: “{row[0]}” is not a date (YYYY-MM-DD)") from None
        kind = row[1].strip() if len(row) > 1 else ""
        if kind not in _KINDS:
            raise CommandError(f"line {number}: kind “{kind}” is not holiday/放假 or workday/调休上班")
        days.append((day, _KINDS[kind], row[2].strip() if len(row) > 2 else ""))
    return days


class Command(BaseCommand):
    help = "Load one year's holidays and make-up working days (调休) of the statutory calendar."

    def add_arguments(self, parser):
        parser.add_argument("year", type=int)
        parser.add_argument("--file", type=Path, help="CSV of the State Council notice: date,kind,name")
        parser.add_argument("--document", default="", help="the notice's number, e.g. 国办发明电〔2026〕X号")
        parser.add_argument("--replace", action="store_true", help="replace a year that is already there")

    def handle(self, *args, year: int, file: Path | None, document: str, replace: bool, **options):
        if CalendarYear.objects.filter(year=year).exists() and not replace:
            raise CommandError(f"{year} is already there; --replace to overwrite it")
        try:
            if file is None:
                calendar = calendar_year_load(year=year, acting_user=None, replace=replace)
            else:
                calendar = calendar_year_enter(
                    year=year,
                    days=_read(file),
                    acting_user=None,
                    source=CalendarSource.NOTICE,
                    document=document,
                )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        counts = {kind: calendar.days.filter(kind=kind).count() for kind in DayKind.values}
        self.stdout.write(
            self.style.SUCCESS(
                f"{year}: {counts[DayKind.HOLIDAY]} holidays, {counts[DayKind.WORKDAY]} make-up working days loaded"
            )
        )
