"""contributions.services.work_injury: float grades allowed per risk class, no overlap, the previous grade ends."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from contributions import services
from contributions.models import WorkInjuryFloat
from contributions.tests.factories import huangyan_employer, huangyan_parameters_2025
from registry import roles
from registry.tests.factories import UserFactory, office, township_of

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


@pytest.fixture
def clerk(db):
    huangyan_parameters_2025()
    return UserFactory(username="hy_float_clerk", office=office("331003"), roles=[roles.COUNTER_CLERK])


def test_a_grade_of_the_risk_class_is_set_and_the_previous_one_ends(clerk):
    employer = huangyan_employer()
    employer.risk_class = 3
    employer.save()
    first = services.work_injury_float_set(
        employer=employer, ratio=Y("0.80"), valid_from=D(2025, 1, 1), acting_user=clerk
    )
    second = services.work_injury_float_set(
        employer=employer, ratio=Y("1.20"), valid_from=D(2025, 7, 1), acting_user=clerk
    )
    first.refresh_from_db()
    assert first.valid_to == D(2025, 7, 1)
    assert second.valid_to is None
    assert first.history.first().history_user == clerk


def test_a_ratio_outside_the_grades_is_refused_naming_the_allowed_ones(clerk):
    employer = huangyan_employer()
    employer.risk_class = 1
    employer.save()
    with pytest.raises(ValidationError) as exc:
        services.work_injury_float_set(employer=employer, ratio=Y("0.50"), valid_from=D(2025, 1, 1), acting_user=clerk)
    assert "ratio" in exc.value.message_dict
    assert "1.00、1.20、1.50" in exc.value.message_dict["ratio"][0]
    assert not WorkInjuryFloat.objects.exists()


def test_a_grade_overlapping_a_later_one_is_refused(clerk):
    employer = huangyan_employer()
    services.work_injury_float_set(employer=employer, ratio=Y("1.20"), valid_from=D(2025, 7, 1), acting_user=clerk)
    # Starting earlier would overlap the grade from July, which has no end.
    grade = WorkInjuryFloat(employer=employer, ratio=Y("1.50"), valid_from=D(2025, 1, 1))
    with pytest.raises(ValidationError) as exc:
        services.work_injury_float_prepare(instance=grade)
    assert "valid_from" in exc.value.message_dict


def test_another_districts_employer_is_refused(clerk):
    employer = huangyan_employer(office=township_of("331004"))
    with pytest.raises(ValidationError) as exc:
        services.work_injury_float_set(employer=employer, ratio=Y("1.00"), valid_from=D(2025, 1, 1), acting_user=clerk)
    assert "employer" in exc.value.message_dict


@pytest.mark.postgres
def test_the_database_refuses_overlapping_grades_too(clerk):
    from django.db import IntegrityError, transaction

    employer = huangyan_employer()
    WorkInjuryFloat.objects.create(employer=employer, ratio=Y("1.00"), valid_from=D(2025, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkInjuryFloat.objects.create(employer=employer, ratio=Y("1.20"), valid_from=D(2025, 6, 1))
    # Back to back is not an overlap (valid_to is exclusive).
    WorkInjuryFloat.objects.filter(employer=employer).update(valid_to=D(2025, 6, 1))
    WorkInjuryFloat.objects.create(employer=employer, ratio=Y("1.20"), valid_from=D(2025, 6, 1))
