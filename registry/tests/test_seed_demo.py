"""seed_demo: valid identifiers, realistic spread, enrollment rules, re-runnable."""

import io
import re
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from registry.identifiers import credit_code_normalize, id_number_info, id_number_normalize
from registry.management.commands import seed_demo
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


def _schema(tables=("registry_person", "registry_enrollment")) -> tuple[set, set]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [list(tables)])
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])",
            [list(tables)],
        )
        constraints = set(cursor.fetchall())
    return indexes, constraints


@pytest.mark.postgres
@pytest.mark.django_db
def test_seed_demo_bulk_load_drops_and_rebuilds_the_btree_indexes(monkeypatch):
    """A load at least as big as the table drops the B-tree indexes and builds them again, identical."""
    monkeypatch.setattr(seed_demo, "BULK_MIN_PERSONS", 100)
    seed(persons=50, employers=5, seed=3)  # small: indexes kept
    before = _schema()
    out = io.StringIO()
    call_command("seed_demo", persons=400, employers=10, seed=4, stdout=out)
    log = out.getvalue()
    dropped = int(re.search(r"indexes dropped for the load: (\d+)", log).group(1))
    assert dropped >= 10 and f"indexes built: {dropped}" in log
    assert _schema() == before
    assert Person.objects.count() == 450
    assert Person.objects.values("id_number").distinct().count() == 450
    # The no-overlap triggers (migration 0010), off for the load's own transaction only, still refuse an
    # overlapping enrollment afterwards.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry_enrollment (uid, insurance_type, is_flexible, start_date, end_date, created_at, "
            "updated_at, employer_id, office_id, person_id) SELECT gen_random_uuid(), insurance_type, is_flexible, "
            "start_date, end_date, created_at, updated_at, employer_id, office_id, person_id "
            "FROM registry_enrollment ORDER BY id DESC LIMIT 1"
        )


@pytest.mark.postgres
@pytest.mark.django_db
def test_seed_demo_small_load_into_a_big_table_keeps_the_indexes(monkeypatch):
    monkeypatch.setattr(seed_demo, "BULK_MIN_PERSONS", 100)
    seed(persons=300, employers=5, seed=3)
    out = io.StringIO()
    call_command("seed_demo", persons=200, employers=5, seed=4, stdout=out)  # 200 < 300 already there
    assert "indexes dropped" not in out.getvalue()
    assert Person.objects.count() == 500
