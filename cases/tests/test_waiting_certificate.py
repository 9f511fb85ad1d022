"""The enrollment certificate states the date from which resident medical benefits are due (国办发〔2024〕38号)."""

import datetime

import pytest

from cases.services.certificates import _waiting_notes
from registry.tests.factories import EnrollmentFactory, PersonFactory, township_of

pytestmark = pytest.mark.django_db
D = datetime.date


def test_certificate_note_states_the_waiting_period():
    person = PersonFactory(residence_office=township_of("331003"))
    late = EnrollmentFactory(person=person, insurance_type="res_medical", employer=None, start_date=D(2025, 3, 10))
    notes = _waiting_notes([late])
    assert len(notes) == 1 and "待遇等待期 3 个月" in notes[0] and "自 2025-06-10 起享受医保待遇" in notes[0]


def test_no_note_without_a_waiting_period():
    person = PersonFactory(residence_office=township_of("331003"))
    on_time = EnrollmentFactory(person=person, insurance_type="res_medical", employer=None, start_date=D(2025, 1, 1))
    assert _waiting_notes([on_time]) == []
