"""Working days on the statutory calendar: 国庆 and 春节 with make-up working days (调休), a pause for missing
materials, a year without calendar data (weekends only, with a warning), and an administrator entering a year."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cases import services
from cases.models import CalendarDay, CalendarSource, CalendarYear, CaseState, DayKind
from cases.tests.factories import clerk, enrollment_case, reviewer
from cases.workdays import WorkCalendar
from registry.tests.factories import township_of

D = datetime.date
pytestmark = pytest.mark.django_db


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))


def test_the_migration_loaded_the_state_council_schedules_2016_to_2026():
    years = set(CalendarYear.objects.values_list("year", flat=True))
    assert set(range(2016, 2027)) <= years
    assert CalendarDay.objects.filter(date=D(2025, 9, 28), kind=DayKind.WORKDAY).exists()  # Sunday, worked
    assert CalendarDay.objects.get(date=D(2025, 10, 1)).kind == DayKind.HOLIDAY


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


def test_spring_festival_2026_with_a_make_up_saturday():
    calendar = WorkCalendar()
    # 15–23 February 2026 off; Saturday 14 February and Saturday 28 February worked.
    assert calendar.add_working_days(D(2026, 2, 12), 1) == D(2026, 2, 13)
    assert calendar.add_working_days(D(2026, 2, 12), 2) == D(2026, 2, 14)
    assert calendar.add_working_days(D(2026, 2, 12), 3) == D(2026, 2, 24)
    assert calendar.add_working_days(D(2026, 2, 12), 5) == D(2026, 2, 26)
    assert calendar.add_working_days(D(2026, 2, 25), 3) == D(2026, 2, 28)  # the Saturday counts
    assert calendar.working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 2  # 14 Feb and 24 Feb


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


def test_a_case_received_in_a_year_without_data_is_flagged_and_its_page_warns(client):
    township = township_of("331003")
    user = clerk(township)
    with _today(D(2031, 3, 7)):
        case = enrollment_case(township=township, user=user)
    assert case.due_date == D(2031, 3, 21)  # 10 working days, weekends only
    assert case.calendar_warning is True
    client.force_login(user)
    page = client.get(f"/cases/{case.uid}/").content.decode()
    assert "尚未录入节假日安排" in page


def test_due_date_of_a_registration_across_national_day_uses_the_parameter():
    with _today(D(2025, 9, 26)):
        case = enrollment_case()
    assert case.time_limit_days == 10
    assert case.time_limit_basis["source"] == "parameter"
    assert case.time_limit_basis["code"] == "case.time_limit_days.registration"
    assert case.due_date == D(2025, 10, 16)
    assert case.calendar_warning is False


def test_missing_materials_pause_the_clock_and_resubmission_moves_the_due_date():
    township = township_of("331003")
    desk = clerk(township)
    # Received on Friday 26 September 2025 without the registration form: told at once, paused.
    with _today(D(2025, 9, 26)):
        case = enrollment_case(township=township, user=desk, materials=())
    assert case.state == CaseState.SUSPENDED
    assert case.due_date == D(2025, 10, 16)
    assert case.paused_on == D(2025, 9, 26)
    # The applicant brings it on Thursday 9 October: 28, 29, 30 September and 9 October were paused (4 working days).
    with _today(D(2025, 10, 9)):
        case = services.case_resume(case=case, acting_user=clerk(township), materials_received=["form"])
    assert case.state == CaseState.APPROVAL
    assert case.paused_working_days == 4
    assert case.due_date == D(2025, 10, 22)  # 16 Oct + 4 working days (17, 20, 21, 22)
    assert case.paused_on is None


def test_a_pause_requested_by_the_reviewer_also_moves_the_due_date():
    township = township_of("331003")
    with _today(D(2026, 2, 9)):
        case = enrollment_case(township=township)
    assert case.due_date == D(2026, 2, 28)  # see test_the_feb_2026_due_date_counts_the_make_up_saturday
    with _today(D(2026, 2, 12)):
        case = services.case_request_correction(
            case=case, acting_user=reviewer(township.parent), missing=["contract"], note="请提交劳动合同"
        )
    with _today(D(2026, 2, 25)):
        case = services.case_resume(case=case, acting_user=clerk(township), materials_received=["contract"])
    # Paused working days after 12 Feb up to 25 Feb: 13, 14 (Sat, worked), 24, 25 → 4.
    assert case.paused_working_days == 4
    assert case.due_date == D(2026, 3, 5)  # 28 Feb + 4 working days: 2, 3, 4, 5 March


def test_the_feb_2026_due_date_counts_the_make_up_saturday():
    # From Monday 9 February: 10, 11, 12, 13, 14 (Sat, worked), [15–23 off], 24, 25, 26, 27, 28 (Sat, worked).
    assert WorkCalendar().add_working_days(D(2026, 2, 9), 10) == D(2026, 2, 28)


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
    with pytest.raises(ValidationError) as exc:
        services.calendar_year_load(year=2025, acting_user=city_admin)
    assert "已录入" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        services.calendar_year_load(year=2035, acting_user=city_admin)
    assert "手工录入" in str(exc.value)
    assert not CalendarYear.objects.filter(year=2035).exists()


class _today:
    """Freeze ``timezone.now`` (and so ``localdate``) on a given day for the services under test."""

    def __init__(self, day: datetime.date):
        self.moment = at(day)

    def __enter__(self):
        from unittest import mock

        self.patch = mock.patch("django.utils.timezone.now", return_value=self.moment)
        self.patch.start()
        return self

    def __exit__(self, *exc):
        self.patch.stop()
