"""Ratings of closed cases (好差评): once per case, 1–5, only after the case is closed, kept with its office."""

import pytest
from django.db import IntegrityError, transaction

from cases import services
from cases.models import CaseRating, RatingChannel
from cases.tests.factories import clerk, enrollment_case, reviewer
from registry.exceptions import ApplicationError, ConflictError
from registry.models import Office
from registry.tests.factories import township_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def hy_town():
    return township_of("331003")


@pytest.fixture
def hy_district():
    return Office.objects.get(code="331003")


def test_a_closed_case_is_rated_once_with_its_office(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    with pytest.raises(ConflictError):  # still open
        services.case_rating_create(case=case, score=5, channel=RatingChannel.ONLINE)
    case = services.case_reject(case=case, acting_user=reviewer(hy_district), reason="不符合条件")
    rating = services.case_rating_create(case=case, score=2, comment=" 等太久 ", channel=RatingChannel.ONLINE)
    assert (rating.office, rating.score, rating.comment, rating.is_poor) == (case.current_office, 2, "等太久", True)
    with pytest.raises(ConflictError):
        services.case_rating_create(case=case, score=5, channel=RatingChannel.TABLET, acting_user=clerk(hy_town))
    assert CaseRating.objects.filter(case=case).count() == 1


@pytest.mark.parametrize("score", [0, 6, -1])
def test_a_score_outside_one_to_five_is_refused(hy_town, hy_district, score):
    case = services.case_reject(
        case=enrollment_case(township=hy_town), acting_user=reviewer(hy_district), reason="不符合条件"
    )
    with pytest.raises(ApplicationError) as exc:
        services.case_rating_create(case=case, score=score, channel=RatingChannel.TABLET)
    assert "1 至 5" in str(exc.value)
    assert not CaseRating.objects.exists()


def test_the_database_refuses_a_bad_score_and_a_second_rating(hy_town, hy_district):
    case = services.case_reject(
        case=enrollment_case(township=hy_town), acting_user=reviewer(hy_district), reason="不符合条件"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseRating.objects.create(case=case, office=case.current_office, score=9, channel="online")
    CaseRating.objects.create(case=case, office=case.current_office, score=4, channel="online")
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseRating.objects.create(case=case, office=case.current_office, score=4, channel="tablet")
