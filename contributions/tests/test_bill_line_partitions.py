"""Bill lines partitioned by period (migration 0018, registry.partitions).

The migration runs forward and backward on a populated database; on the partitioned table the immutability of
issued bills (row and statement triggers on the parent), the primary key, the routing of a bill run's lines into
their period's partition, the change feed of the run and the months ahead / archive are tested."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from contributions import services
from contributions.models import Bill, BillLine
from contributions.tests.factories import issued_bill
from contributions.tests.params import set_huangyan_2025
from registry.models import EMPLOYEE_INSURANCES, ChangeEvent, Office
from registry.partitions import (
    is_partitioned,
    month_add,
    month_start,
    partition_create,
    partition_detach,
    partition_name,
    partitions_ensure,
    partitions_list,
)
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, UserFactory, township_of

pytestmark = [pytest.mark.postgres]

TABLE = "contributions_billline"
BEFORE = ("contributions", "0017_bill_line_without_duplicate_indexes")
Y = Decimal


def _month(months_ago: int) -> datetime.date:
    return month_add(month_start(timezone.localdate()), -months_ago)


def _period(months_ago: int) -> int:
    month = _month(months_ago)
    return month.year * 100 + month.month


def _issue_with_lines(employer, persons, period: int) -> Bill:
    """An issued bill and its lines, written in one transaction as the bill run does."""
    with transaction.atomic():
        bill = issued_bill(employer, period)
        BillLine.objects.bulk_create(
            BillLine(
                bill=bill,
                person=person,
                insurance_type="emp_pension",
                period=period,
                base=Y("5000.00"),
                employer_rate=Y("0.16"),
                individual_rate=Y("0.08"),
                employer_amount=Y("800.00"),
                individual_amount=Y("400.00"),
            )
            for person in persons
        )
    return bill


def _lines(cur) -> list[tuple]:
    cur.execute(f"SELECT id, bill_id, person_id, period, employer_amount FROM {TABLE} ORDER BY id")
    return cur.fetchall()


def _migrate(target: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _refused(statement: str, params: list) -> None:
    with (
        pytest.raises((IntegrityError, InternalError), match="immutable"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(statement, params)


@pytest.mark.migrations
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_partitions_populated_bill_lines_and_back_keeping_every_row():
    try:
        _migrate([BEFORE])
        employer = EmployerFactory(office=township_of("331003"))
        persons = [PersonFactory(residence_office=employer.office) for _ in range(3)]
        bills = [_issue_with_lines(employer, persons, _period(ago)) for ago in (14, 2, 0)]
        with connection.cursor() as cur:
            assert not is_partitioned(cur, TABLE)
            before = _lines(cur)
        assert len(before) == 9

        _migrate(_latest())
        with connection.cursor() as cur:
            assert is_partitioned(cur, TABLE)
            assert _lines(cur) == before
            oldest = partition_name(TABLE, _month(14))
            assert oldest in partitions_list(cur, TABLE)
            cur.execute(f"SELECT count(*) FROM {oldest}")
            assert cur.fetchone()[0] == 3
            cur.execute(f"SELECT count(*) FROM {TABLE}_default")
            assert cur.fetchone()[0] == 0
        # Issued lines stay immutable, on the parent and in the partition, and no line joins an issued bill.
        _refused(f"UPDATE {TABLE} SET employer_amount = 0 WHERE bill_id = %s", [bills[0].pk])
        _refused(f"DELETE FROM {oldest} WHERE bill_id = %s", [bills[0].pk])
        _refused(
            f"INSERT INTO {TABLE} (bill_id, person_id, insurance_type, period, base, base_source, employer_rate, "
            "individual_rate, employer_amount, individual_amount) "
            "VALUES (%s, %s, 'emp_pension', %s, 1, 'declared', 0, 0, 0, 0)",
            [bills[2].pk, persons[0].pk, _period(0)],
        )
        new = _issue_with_lines(employer, persons[:1], _period(1))
        assert new.lines.get().pk > max(row[0] for row in before)  # the id sequence goes on

        _migrate([BEFORE])
        with connection.cursor() as cur:
            assert not is_partitioned(cur, TABLE)
            assert _lines(cur)[:-1] == before
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
            assert cur.fetchone()[0]  # an identity column again
            cur.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                [TABLE],
            )
            assert cur.fetchone()[0] == "PRIMARY KEY (id)"
        _refused(f"UPDATE {TABLE} SET employer_amount = 0 WHERE bill_id = %s", [bills[1].pk])
        again = _issue_with_lines(employer, persons[:1], _period(3))
        assert again.lines.get().pk > new.lines.get().pk
    finally:
        _migrate(_latest())


@pytest.mark.django_db
def test_a_bill_runs_lines_land_in_their_periods_partition_and_its_bills_in_the_feed():
    set_huangyan_2025()
    clerk = UserFactory(username="hy_partition_biller", office=Office.objects.get(code="331003"))
    township = township_of("331003")
    employer = EmployerFactory(office=township)
    person = PersonFactory(residence_office=township)
    for insurance in EMPLOYEE_INSURANCES:
        EnrollmentFactory(
            person=person, employer=employer, insurance_type=insurance, start_date=datetime.date(2024, 1, 1)
        )
    with connection.cursor() as cur:
        partition_create(cur, table=TABLE, month=datetime.date(2025, 2, 1))
    run = services.bill_run_start(
        period=202502, acting_user=clerk, scope="district", office=Office.objects.get(code="331003")
    )
    services.bill_run_execute(bill_run_id=run.pk)
    bill = Bill.objects.get(period=202502, employer=employer)
    with connection.cursor() as cur:
        cur.execute(f"SELECT DISTINCT tableoid::regclass::text FROM {TABLE} WHERE bill_id = %s", [bill.pk])
        assert cur.fetchall() == [(f"{TABLE}_p202502",)]
    assert bill.lines.count() == len(EMPLOYEE_INSURANCES)
    assert ChangeEvent.objects.filter(change_type="bill", object_id=str(bill.uid), op="created").count() == 1
    # The key is (id, period): the same id in the same period is refused.
    line = bill.lines.first()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"INSERT INTO {TABLE} SELECT * FROM {TABLE} WHERE id = %s AND period = %s", [line.pk, line.period])


@pytest.mark.django_db
def test_months_ahead_of_the_bill_lines_are_made_and_a_past_month_can_be_detached():
    partitions_ensure(months_ahead=6)
    employer = EmployerFactory(office=township_of("331003"))
    person = PersonFactory(residence_office=employer.office)
    with connection.cursor() as cur:
        names = partitions_list(cur, TABLE)
        assert partition_name(TABLE, _month(-6)) in names
        assert partitions_ensure(months_ahead=6) == []  # idempotent

        # A period nobody made a partition for lands in the default partition; the job then reports it.
        _issue_with_lines(employer, [person], _period(-8))
        cur.execute(f"SELECT count(*) FROM {TABLE}_default")
        assert cur.fetchone()[0] == 1
        report = partitions_ensure(months_ahead=8)
        assert f"skipped {partition_name(TABLE, _month(-8))}: rows of that month are in {TABLE}_default" in report

        partition_create(cur, table=TABLE, month=_month(1))
        old = _issue_with_lines(employer, [person], _period(1))
        name = partition_detach(cur, table=TABLE, month=_month(1))
        assert name not in partitions_list(cur, TABLE)
        assert not BillLine.objects.filter(bill=old).exists()  # out of the live table, kept for the archive
        cur.execute(f"SELECT bill_id FROM {name}")
        assert cur.fetchall() == [(old.pk,)]
