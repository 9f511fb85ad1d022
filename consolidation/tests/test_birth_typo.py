"""A typing error in the birth-date digits of a number, with no birth column to correct it, puts the line in
another block of birth date and sex: it is still paired with the person of the same name, sex and area whose
number is one digit apart, and goes to the queue (never merged on its own)."""

from __future__ import annotations

import pytest

from consolidation.models import Conflict, ConflictKind, Outcome, StagedPerson
from consolidation.tests.factories import city_admin, csv_bytes
from consolidation.tests.test_flow import WANG, _apply, _typo, jiaojiang_files
from registry.models import Person

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

WANG_BIRTH_TYPO = _typo(WANG, 8)  # 1975 → 1905: the body still reads as a date


@pytest.fixture
def admin(db):
    return city_admin()


def test_a_typo_in_the_birth_digits_goes_to_the_queue_with_its_reason(admin):
    _apply(admin, "331002", jiaojiang_files())
    wang = Person.objects.get(id_number=WANG)
    line = [WANG_BIRTH_TYPO, "王小明", "", "", "城镇", "", "路桥区银安街 9 号", "", "", "2022-05-01"]
    batch = _apply(admin, "331004", {"persons": ("persons.csv", csv_bytes("persons", [line]))})

    staged = StagedPerson.objects.get(batch=batch, raw_id=WANG_BIRTH_TYPO)
    assert staged.id_kind == "invalid" and staged.birth_date.year == 1905
    assert staged.outcome == Outcome.HELD
    conflict = Conflict.objects.get(staged_person=staged)
    assert conflict.kind == ConflictKind.HELD
    candidate = conflict.candidates.get()
    assert candidate.person == wang
    assert {"name_same", "id_digit", "birth_in_number"} <= set(candidate.reasons)
    assert Person.objects.filter(name="王小明").count() == 1
