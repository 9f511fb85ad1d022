"""The database's own no-overlap rule for enrollments (migration 0010: a statement trigger, not the service)."""

import datetime
import threading

import psycopg2
import pytest
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from registry.management.commands import seed_demo
from registry.models import Enrollment, InsuranceType
from registry.tests.factories import EnrollmentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("_restore_migration_data")]

transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _raw_connection():
    settings = connection.settings_dict
    return psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
    )


INSERT = """
INSERT INTO registry_enrollment
    (uid, person_id, insurance_type, employer_id, is_flexible, start_date, end_date, office_id, created_at, updated_at)
VALUES (gen_random_uuid(), %s, %s, %s, false, %s, %s, %s, now(), now())
"""


def _row(enrollment, start, end=None):
    return (
        enrollment.person_id,
        enrollment.insurance_type,
        enrollment.employer_id,
        start,
        end,
        enrollment.office_id,
    )


@pytest.mark.django_db
def test_an_update_that_makes_two_enrollments_overlap_is_refused():
    first = EnrollmentFactory(start_date=datetime.date(2020, 1, 1), end_date=datetime.date(2020, 12, 31))
    second = EnrollmentFactory(
        person=first.person, employer=first.employer, start_date=datetime.date(2021, 1, 1), end_date=None
    )
    with pytest.raises(IntegrityError, match="enrollment_no_overlap"), transaction.atomic():
        Enrollment.objects.filter(pk=second.pk).update(start_date=datetime.date(2020, 12, 31))
    # Touching the day after the inclusive end is allowed, and so is an update of another column.
    Enrollment.objects.filter(pk=second.pk).update(start_date=datetime.date(2021, 1, 1))
    Enrollment.objects.filter(pk=first.pk).update(end_date=datetime.date(2020, 12, 31))


@pytest.mark.django_db
def test_two_overlapping_rows_in_one_statement_are_refused_and_other_types_are_free():
    existing = EnrollmentFactory(start_date=datetime.date(2019, 1, 1), end_date=datetime.date(2019, 6, 30))
    with pytest.raises(IntegrityError, match="enrollment_no_overlap"), transaction.atomic():
        Enrollment.objects.bulk_create(
            [
                Enrollment(**_fields(existing, datetime.date(2020, 1, 1), datetime.date(2020, 6, 30))),
                Enrollment(**_fields(existing, datetime.date(2020, 6, 1), None)),
            ]
        )
    # Same dates, another insurance type: no clash.
    other = _fields(existing, datetime.date(2019, 1, 1), None)
    other["insurance_type"] = InsuranceType.EMPLOYEE_MEDICAL
    Enrollment.objects.bulk_create([Enrollment(**other)])
    assert Enrollment.objects.filter(person=existing.person).count() == 2


def _fields(enrollment, start, end):
    return {
        "person_id": enrollment.person_id,
        "insurance_type": enrollment.insurance_type,
        "employer_id": enrollment.employer_id,
        "start_date": start,
        "end_date": end,
        "office_id": enrollment.office_id,
    }


@transactional
def test_repeatable_read_is_refused_rather_than_checked_against_a_stale_snapshot():
    existing = EnrollmentFactory(start_date=datetime.date(2019, 1, 1), end_date=datetime.date(2019, 6, 30))
    raw = _raw_connection()
    try:
        raw.set_session(isolation_level="REPEATABLE READ")
        with pytest.raises(psycopg2.errors.FeatureNotSupported, match="REPEATABLE READ"), raw.cursor() as cur:
            cur.execute(INSERT, _row(existing, datetime.date(2020, 1, 1)))
        raw.rollback()
        raw.set_session(isolation_level="SERIALIZABLE")
        with raw.cursor() as cur:
            cur.execute(INSERT, _row(existing, datetime.date(2020, 1, 1)))
        raw.commit()
    finally:
        raw.close()
    assert Enrollment.objects.filter(person=existing.person).count() == 2


@transactional
def test_two_concurrent_overlapping_inserts_one_is_refused():
    """The second writer waits for the first one's lock and then sees its committed row."""
    existing = EnrollmentFactory(start_date=datetime.date(2015, 1, 1), end_date=datetime.date(2015, 12, 31))
    first, second = _raw_connection(), _raw_connection()
    outcome: dict[str, object] = {}
    try:
        with first.cursor() as cur:
            cur.execute(INSERT, _row(existing, datetime.date(2020, 1, 1)))  # open-ended, not committed yet

        def insert_second():
            try:
                with second.cursor() as cur:
                    cur.execute(INSERT, _row(existing, datetime.date(2022, 1, 1), datetime.date(2022, 12, 31)))
                second.commit()
                outcome["second"] = "committed"
            except psycopg2.Error as exc:
                second.rollback()
                outcome["second"] = exc

        worker = threading.Thread(target=insert_second)
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive(), "the second insert must wait for the first transaction's lock"
        first.commit()
        worker.join(timeout=30)
        assert not worker.is_alive()
    finally:
        first.close()
        second.close()
    assert isinstance(outcome["second"], psycopg2.errors.ExclusionViolation), outcome
    assert "enrollment_no_overlap" in str(outcome["second"])
    assert Enrollment.objects.filter(person=existing.person).count() == 2


@transactional
def test_concurrent_inserts_for_different_persons_do_not_wait_for_each_other():
    a = EnrollmentFactory(start_date=datetime.date(2015, 1, 1))
    b = EnrollmentFactory(start_date=datetime.date(2015, 1, 1))
    # Different persons may hash to the same lock bucket; pick a pair that does not.
    bucket = "SELECT hashtext(%s::text || ':' || %s) & 255"
    with connection.cursor() as cursor:
        cursor.execute(bucket, [a.person_id, a.insurance_type])
        bucket_a = cursor.fetchone()[0]
        cursor.execute(bucket, [b.person_id, b.insurance_type])
        bucket_b = cursor.fetchone()[0]
    if bucket_a == bucket_b:
        pytest.skip("the two persons share a lock bucket")
    first, second = _raw_connection(), _raw_connection()
    try:
        with first.cursor() as cur:
            cur.execute(INSERT, _row(a, datetime.date(2014, 1, 1), datetime.date(2014, 12, 31)))
        with second.cursor() as cur:
            cur.execute("SET lock_timeout = '2s'")
            cur.execute(INSERT, _row(b, datetime.date(2014, 1, 1), datetime.date(2014, 12, 31)))
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    assert Enrollment.objects.count() == 4


@pytest.mark.django_db
def test_seed_demo_check_finds_overlaps_written_with_the_triggers_off():
    existing = EnrollmentFactory(start_date=datetime.date(2019, 1, 1), end_date=None)
    mark = existing.pk - 1
    command = seed_demo.Command()
    command._check_no_overlap({"registry_enrollment": mark})  # one row: nothing to find
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(INSERT, _row(existing, datetime.date(2024, 1, 1)))
        cursor.execute("SET LOCAL session_replication_role = origin")
    with pytest.raises(CommandError, match="1 new enrollments overlap"):
        command._check_no_overlap({"registry_enrollment": mark})
