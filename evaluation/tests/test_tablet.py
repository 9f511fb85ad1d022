"""The counter tablet rating page: the applicant rates his closed case once; the clerk on duty is recorded; a case of
another district or not yet closed is refused with a message; nothing written on bad input."""

import pytest
from django.urls import reverse

from cases.models import CaseRating, CaseState
from cases.tests.factories import clerk
from evaluation.tests.factories import case_row, local
from registry.models import Office
from registry.tests.factories import township_of

pytestmark = pytest.mark.django_db
URL = reverse("evaluation:tablet")


@pytest.fixture
def town():
    return township_of("331003")


def test_a_closed_case_is_rated_once_from_the_tablet(client, town):
    case = case_row(town, received=local(2026, 11, 2, 9), state=CaseState.COMPLETED, closed=local(2026, 11, 3, 9))
    on_duty = clerk(town)
    client.force_login(on_duty)
    assert client.get(URL).status_code == 200
    response = client.post(URL, {"number": case.number.lower(), "score": "4", "comment": "很快"})
    assert response.status_code == 302
    rating = CaseRating.objects.get(case=case)
    assert (rating.score, rating.channel, rating.recorded_by, rating.office) == (4, "tablet", on_duty, town)
    again = client.post(URL, {"number": case.number, "score": "1"})
    assert "只能评价一次" in again.content.decode() and CaseRating.objects.count() == 1


@pytest.mark.parametrize("data", [{"number": "", "score": "5"}, {"number": "X", "score": "9"}, {"number": "X"}])
def test_bad_input_is_a_message(client, town, data):
    client.force_login(clerk(town))
    page = client.post(URL, data)
    assert page.status_code == 200 and 'class="error"' in page.content.decode()
    assert not CaseRating.objects.exists()


def test_open_cases_and_other_districts_are_refused(client, town):
    open_case = case_row(town, received=local(2026, 11, 2, 9))
    lq_case = case_row(
        township_of("331004"), received=local(2026, 11, 2, 9), state=CaseState.COMPLETED, closed=local(2026, 11, 3, 9)
    )
    client.force_login(clerk(Office.objects.get(code="331003")))
    assert "办结后才能评价" in client.post(URL, {"number": open_case.number, "score": "5"}).content.decode()
    assert "未找到该办件" in client.post(URL, {"number": lq_case.number, "score": "5"}).content.decode()
    assert not CaseRating.objects.exists()
