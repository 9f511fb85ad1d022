"""Case time limits on the statutory calendar (policies.workdays): due dates across 国庆 and 春节 with their
make-up working days (调休), a pause for missing materials, and a case received in a year without calendar data."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from cases import services
from cases.models import CaseState
from cases.tests.factories import clerk, enrollment_case, reviewer
from registry.tests.factories import township_of

D = datetime.date
pytestmark = pytest.mark.django_db


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))


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
    assert case.due_date == D(2026, 2, 28)  # see policies/tests/test_calendar.py (spring festival 2026)
    with _today(D(2026, 2, 12)):
        case = services.case_request_correction(
            case=case, acting_user=reviewer(township.parent), missing=["contract"], note="请提交劳动合同"
        )
    with _today(D(2026, 2, 25)):
        case = services.case_resume(case=case, acting_user=clerk(township), materials_received=["contract"])
    # Paused working days after 12 Feb up to 25 Feb: 13, 14 (Sat, worked), 24, 25 → 4.
    assert case.paused_working_days == 4
    assert case.due_date == D(2026, 3, 5)  # 28 Feb + 4 working days: 2, 3, 4, 5 March


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
