"""seed_demo: valid identifiers, realistic spread, enrollment rules, re-runnable."""

from collections import Counter

import pytest
from django.core.management import call_command

from registry.identifiers import credit_code_normalize, id_number_info, id_number_normalize
from registry.models import (
    EMPLOYEE_INSURANCES,
    FLEXIBLE_INSURANCES,
    CardStatus,
    Employer,
    Enrollment,
    Office,
    OfficeLevel,
    Person,
)
from registry.names import name_pinyin

DISTRICTS = {"331002", "331003", "331004"}


def seed(**options):
    call_command("seed_demo", verbosity=0, **options)


@pytest.mark.django_db
def test_seed_demo_data_is_valid_and_realistic():
    seed(persons=300, employers=20, seed=5)

    persons = list(Person.objects.select_related("residence_office"))
    assert len(persons) == 300
    for person in persons:
        assert id_number_normalize(person.id_number) == person.id_number
        info = id_number_info(person.id_number)
        assert (person.sex, person.birth_date) == (info.sex, info.birth_date)
        # The pinyin table of the generator agrees with what every write channel computes.
        assert (person.name_pinyin, person.name_initials) == name_pinyin(person.name)
        assert person.residence_office.level in (OfficeLevel.TOWNSHIP, OfficeLevel.COMMUNITY)
        assert person.residence_office.district_code in DISTRICTS
        assert (person.card_number is None) == (person.card_status == CardStatus.NONE)
    years = [p.birth_date.year for p in persons]
    assert min(years) < 1955 and max(years) > 1995
    areas = Counter(p.id_number[:6] for p in persons)
    assert sum(n for area, n in areas.items() if area in DISTRICTS) > 150
    assert len(areas) > 5  # old prefecture codes, other counties, migrants

    employers = list(Employer.objects.select_related("office"))
    assert len(employers) == 20
    for employer in employers:
        assert credit_code_normalize(employer.credit_code) == employer.credit_code
        assert employer.credit_code[:2] in {"91", "92", "12"}
        assert employer.credit_code[2:8] == employer.office.district_code
        assert employer.office.level in (OfficeLevel.TOWNSHIP, OfficeLevel.COMMUNITY)
        assert 1 <= employer.risk_class <= 8
        assert employer.name_pinyin == name_pinyin(employer.name)[0]

    communities = Office.objects.filter(level=OfficeLevel.COMMUNITY).select_related("parent")
    assert communities.exists()
    for office in communities:
        assert len(office.code) == 12 and office.code.startswith(office.parent.code)
        assert office.path == f"{office.parent.path}{office.code}/"
        assert office.code_is_demo

    enrollments = list(Enrollment.objects.select_related("person", "employer"))
    by_person: dict[int, list[Enrollment]] = {}
    for e in enrollments:
        by_person.setdefault(e.person_id, []).append(e)
        if e.is_flexible:
            assert e.insurance_type in FLEXIBLE_INSURANCES and e.employer_id is None
        elif e.insurance_type in EMPLOYEE_INSURANCES:
            assert e.employer_id is not None
        else:
            assert e.employer_id is None
        expected_office = e.employer.office_id if e.employer_id else e.person.residence_office_id
        assert e.office_id == expected_office
        assert e.end_date is None and e.start_date < e.created_at.date()
    assert set(by_person) == {p.pk for p in persons}  # everybody is insured somehow
    for rows in by_person.values():
        types = [e.insurance_type for e in rows]
        assert len(types) == len(set(types))  # no two enrollments of one type: nothing can overlap
        if rows[0].employer_id:
            assert sorted(types) == sorted(EMPLOYEE_INSURANCES)
            assert len({e.employer_id for e in rows}) == 1
    employees = sum(1 for rows in by_person.values() if rows[0].employer_id)
    assert 180 < employees < 270  # default share 0.75


@pytest.mark.django_db
def test_seed_demo_runs_twice_without_conflicts():
    seed(persons=300, employers=20, seed=5)
    counts = (Person.objects.count(), Employer.objects.count(), Enrollment.objects.count())
    offices = Office.objects.count()

    seed(persons=300, employers=20, seed=5)  # the same seed must not repeat numbers

    assert Person.objects.count() == 2 * counts[0]
    assert Employer.objects.count() == 2 * counts[1]
    assert Enrollment.objects.count() > 1.6 * counts[2]
    assert Office.objects.count() == offices  # community offices are created once
    assert Person.objects.values("id_number").distinct().count() == 600
    assert Employer.objects.values("credit_code").distinct().count() == 40


@pytest.mark.django_db
def test_seed_demo_all_employees():
    seed(persons=60, employers=5, seed=1, employee_share=1.0)
    assert Enrollment.objects.count() == 60 * len(EMPLOYEE_INSURANCES)
    assert not Enrollment.objects.filter(employer__isnull=True).exists()
