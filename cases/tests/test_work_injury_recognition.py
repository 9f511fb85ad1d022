"""工伤认定申请 time limits (工伤保险条例第十七条), by hand: the employer 30 days, the worker one year."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from cases.models import Effect, ServiceItem
from cases.services.effects import handler_for
from cases.services.work_injury_recognition import work_injury_application_check

pytestmark = pytest.mark.django_db
D = datetime.date


ACCIDENT = D(2025, 3, 1)


def check(applicant, received):
    return work_injury_application_check(accident_date=ACCIDENT, applicant=applicant, received_on=received, office=None)


def test_employer_within_30_days_is_not_flagged():
    result = check("employer", D(2025, 3, 31))  # 1 March + 30 days = 31 March, the last day
    assert result.employer_limit == D(2025, 3, 31) and not result.late_employer and result.note == ""


def test_a_late_employer_is_flagged_and_bears_the_costs_in_between():
    result = check("employer", D(2025, 4, 10))
    assert result.late_employer
    assert "2025-04-01 至 2025-04-10" in result.note and "第十七条第四款" in result.note


def test_worker_within_one_year_then_refused():
    assert check("worker", D(2026, 3, 1)).worker_limit == D(2026, 3, 1)
    assert not check("worker", D(2026, 3, 1)).late_employer  # the worker's own application is never "late employer"
    with pytest.raises(ValidationError) as caught:
        check("worker", D(2026, 3, 2))
    assert "第十七条第二款" in caught.value.message_dict["accident_date"][0]


def test_accident_after_the_application_is_refused():
    with pytest.raises(ValidationError) as caught:
        check("employer", D(2025, 2, 28))
    assert "accident_date" in caught.value.message_dict


def test_the_catalogue_item_asks_for_the_accident_date():
    item = ServiceItem.objects.get(code="GS-001")
    assert item.effect == Effect.WORK_INJURY_RECOGNITION
    assert [f.name for f in handler_for(item).fields(item)] == ["accident_date", "applicant"]
