"""The statutory working-day calendar: the frozen 2016–2026 schedules with their make-up working days (调休),
a year without data (weekends only, flagged), and the ways a new year comes in (admin, command, package)."""

from __future__ import annotations

import datetime
import importlib
import inspect

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from policies import services
from policies.models import CalendarDay, CalendarSource, CalendarYear, DayKind
from policies.workdays import WorkCalendar

D = datetime.date
pytestmark = pytest.mark.django_db
FROZEN = importlib.import_module("policies.migrations.0006_load_statutory_calendar_2016_2026")


def test_the_migration_holds_2016_to_2026_as_literal_data_and_loaded_it():
    assert "import holidays" not in inspect.getsource(FROZEN)
    assert sorted(FROZEN.DAYS) == list(range(2016, 2027))
    stored = {
        year: tuple(
            (d.isoformat(), kind, name)
            for d, kind, name in CalendarDay.objects.filter(calendar__year=year).values_list("date", "kind", "name")
        )
        for year in FROZEN.DAYS
    }
    assert stored == FROZEN.DAYS
    assert CalendarDay.objects.filter(date=D(2025, 9, 28), kind=DayKind.WORKDAY).exists()  # Sunday, worked
    assert CalendarDay.objects.get(date=D(2025, 10, 1)).kind == DayKind.HOLIDAY


def test_spring_festival_2026_holidays_are_off_and_the_make_up_saturdays_are_worked():
    calendar = WorkCalendar()
    # 国办发明电: 15–23 February 2026 off (Sunday to Monday), Saturdays 14 and 28 February worked.
    off = [D(2026, 2, 15) + datetime.timedelta(days=n) for n in range(9)]
    assert [calendar.is_working_day(day) for day in off] == [False] * 9
    assert [d for d in off if d.weekday() < 5]  # weekdays among them: off by the notice, not the weekend rule
    assert calendar.is_working_day(D(2026, 2, 14)) and D(2026, 2, 14).weekday() == 5
    assert calendar.is_working_day(D(2026, 2, 28)) and D(2026, 2, 28).weekday() == 5
    assert calendar.is_working_day(D(2026, 2, 24))
    assert calendar.missing_years(D(2026, 2, 1), D(2026, 3, 1)) == [] and calendar.used_missing_years == set()


def test_national_day_2025_with_make_up_sundays_and_saturdays():
    calendar = WorkCalendar()
    # Friday 26 September; Sunday 28 September and Saturday 11 October are make-up working days,
    # 1–8 October are off.
    assert calendar.is_working_day(D(2025, 9, 28))
    assert not calendar.is_working_day(D(2025, 10, 8))
    assert calendar.is_working_day(D(2025, 10, 11))
    assert calendar.add_working_days(D(2025, 9, 26), 1) == D(2025, 9, 28)
    assert calendar.add_working_days(D(2025, 9, 26), 3) == D(2025, 9, 30)
    assert calendar.add_working_days(D(2025, 9, 26), 4) == D(2025, 10, 9)
    assert calendar.add_working_days(D(2025, 9, 26), 10) == D(2025, 10, 16)
    assert calendar.missing_years(D(2025, 9, 26), D(2025, 10, 16)) == []


def test_spring_festival_2026_counting():
    calendar = WorkCalendar()
    assert calendar.add_working_days(D(2026, 2, 12), 1) == D(2026, 2, 13)
    assert calendar.add_working_days(D(2026, 2, 12), 2) == D(2026, 2, 14)
    assert calendar.add_working_days(D(2026, 2, 12), 3) == D(2026, 2, 24)
    assert calendar.add_working_days(D(2026, 2, 12), 5) == D(2026, 2, 26)
    assert calendar.add_working_days(D(2026, 2, 25), 3) == D(2026, 2, 28)  # the Saturday counts
    assert calendar.working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 2  # 14 Feb and 24 Feb
    # From Monday 9 February: 10, 11, 12, 13, 14 (Sat, worked), [15–23 off], 24, 25, 26, 27, 28 (Sat, worked).
    assert calendar.add_working_days(D(2026, 2, 9), 10) == D(2026, 2, 28)


def test_zero_working_days_is_the_same_day():
    assert WorkCalendar().add_working_days(D(2025, 10, 3), 0) == D(2025, 10, 3)


def test_a_year_without_data_counts_weekends_only_and_says_so():
    calendar = WorkCalendar()
    assert not CalendarYear.objects.filter(year=2031).exists()
    # 2031-01-01 is a Wednesday (New Year's Day in reality, but no schedule is known): counted as working.
    assert calendar.add_working_days(D(2030, 12, 31), 1) == D(2031, 1, 1)
    assert calendar.add_working_days(D(2031, 1, 3), 1) == D(2031, 1, 6)  # Friday → Monday
    assert calendar.missing_years(D(2030, 12, 31), D(2031, 1, 6)) == [2030, 2031]
    assert calendar.used_missing_years == {2031}


def test_an_administrator_enters_a_new_year_and_due_dates_follow_it():
    calendar_year = CalendarYear.objects.create(
        year=2032, source=CalendarSource.NOTICE, document="国办发明电〔2031〕9号"
    )
    CalendarDay.objects.create(calendar=calendar_year, date=D(2032, 1, 1), kind=DayKind.HOLIDAY, name="元旦")
    CalendarDay.objects.create(calendar=calendar_year, date=D(2032, 1, 2), kind=DayKind.HOLIDAY, name="元旦")
    CalendarDay.objects.create(calendar=calendar_year, date=D(2032, 1, 4), kind=DayKind.WORKDAY, name="调休上班")
    calendar = WorkCalendar()
    # 31 Dec 2031 is a Wednesday; 1–2 Jan 2032 off; Sunday 4 January worked.
    assert calendar.add_working_days(D(2031, 12, 31), 1) == D(2032, 1, 4)
    assert calendar.missing_years(D(2032, 1, 1), D(2032, 1, 5)) == []


def test_loading_a_year_the_package_knows_and_refusing_one_it_does_not(city_admin):
    CalendarYear.objects.filter(year=2025).delete()
    loaded = services.calendar_year_load(year=2025, acting_user=city_admin)
    assert loaded.days.filter(kind=DayKind.WORKDAY).count() == 5
    assert loaded.history.first().history_user == city_admin
    with pytest.raises(ValidationError) as exc:
        services.calendar_year_load(year=2025, acting_user=city_admin)
    assert "已录入" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        services.calendar_year_load(year=2035, acting_user=city_admin)
    assert "手工录入" in str(exc.value)
    assert not CalendarYear.objects.filter(year=2035).exists()


def test_entering_a_year_refuses_bad_days_as_a_whole(city_admin):
    with pytest.raises(ValidationError) as exc:
        services.calendar_year_enter(
            year=2033,
            days=[(D(2033, 1, 1), "holiday", "元旦"), (D(2034, 1, 1), "holiday", ""), (D(2033, 1, 1), "workday", "")],
            acting_user=city_admin,
        )
    assert len(exc.value.message_dict["days"]) == 2
    assert not CalendarYear.objects.filter(year=2033).exists()


def test_the_command_loads_a_notice_from_a_file(tmp_path, capsys):
    notice = tmp_path / "2033.csv"
    notice.write_text(
        "date,kind,name\n2033-01-31,holiday,春节\n2033-02-01,放假,春节\n2033-02-05,workday,\n", encoding="utf-8"
    )
    call_command("load_calendar_year", "2033", "--file", str(notice), "--document", "国办发明电〔2032〕1号")
    assert "2 holidays, 1 make-up working days" in capsys.readouterr().out
    year = CalendarYear.objects.get(year=2033)
    assert (year.source, year.document) == (CalendarSource.NOTICE, "国办发明电〔2032〕1号")
    assert WorkCalendar().is_working_day(D(2033, 2, 5))  # a Saturday, worked
    assert not WorkCalendar().is_working_day(D(2033, 2, 1))  # a Tuesday, off
    with pytest.raises(CommandError, match="already there"):
        call_command("load_calendar_year", "2033", "--file", str(notice))
    notice.write_text("2033-02-31,holiday,\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 1"):
        call_command("load_calendar_year", "2033", "--file", str(notice), "--replace")
    with pytest.raises(CommandError):
        call_command("load_calendar_year", "2034", "--file", str(tmp_path / "missing.csv"))
    assert CalendarYear.objects.get(year=2033).days.count() == 3


def test_the_command_loads_from_the_package_or_says_it_cannot():
    CalendarYear.objects.filter(year=2024).delete()
    call_command("load_calendar_year", "2024")
    assert CalendarYear.objects.get(year=2024).source == CalendarSource.PACKAGE
    with pytest.raises(CommandError, match="手工录入"):
        call_command("load_calendar_year", "2035")


def test_the_calendar_admin_reloads_a_year_from_the_package(admin_client):
    calendar = CalendarYear.objects.get(year=2024)
    calendar.days.all().delete()
    response = admin_client.post(
        "/admin/policies/calendaryear/",
        {"action": "reload_from_package", "_selected_action": [calendar.pk]},
        follow=True,
    )
    assert "已重新载入" in response.content.decode()
    assert CalendarYear.objects.get(year=2024).days.count() > 20
