"""Monthly partitions of the API call log and the change events (registry.partitions, migration 0019).

The migration is run forward and backward on a populated database; on the partitioned tables the feed order, the
append-only rule, the primary key and the months ahead / archive are tested."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from registry.feed.changes import change_feed_read
from registry.models import ApiCallLog, ChangeEvent
from registry.partitions import (
    MONTHLY_PARTITIONED,
    is_partitioned,
    month_add,
    month_start,
    partition_create,
    partition_detach,
    partition_name,
    partitions_ensure,
    partitions_list,
)
from registry.tests.factories import UserFactory

pytestmark = [pytest.mark.postgres]

BEFORE = ("registry", "0018_card_status_applied")


def _at(months_ago: int, day: int = 10) -> datetime.datetime:
    month = month_add(month_start(timezone.localdate()), -months_ago)
    return timezone.make_aware(datetime.datetime(month.year, month.month, day, 12), timezone.get_default_timezone())


def _snapshot(cur) -> dict:
    cur.execute("SELECT id, txid, object_id, occurred_at FROM registry_changeevent ORDER BY id")
    events = cur.fetchall()
    cur.execute("SELECT id, at, route FROM registry_apicalllog ORDER BY id")
    return {"events": events, "calls": cur.fetchall()}


def _migrate(target: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.migrations
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_partitions_a_populated_database_and_back_keeping_every_row():
    try:
        _migrate([BEFORE])
        with connection.cursor() as cur:
            assert not is_partitioned(cur, "registry_changeevent")
            # Each statement is its own transaction here: distinct txids, which the move must keep (feed order).
            for months_ago in (14, 2, 0):
                cur.execute(
                    "INSERT INTO registry_changeevent (change_type, object_id, op, office_path, occurred_at, payload) "
                    "SELECT 'person', %s || '-' || g, 'created', '', %s, '{}' FROM generate_series(1, 5) g",
                    [str(months_ago), _at(months_ago)],
                )
                cur.execute(
                    "INSERT INTO registry_apicalllog (at, method, route, status, latency_ms, request_id) "
                    "SELECT %s, 'GET', '/api/v1/whoami/', 200, g, 'r' FROM generate_series(1, 3) g",
                    [_at(months_ago)],
                )
            before = _snapshot(cur)
        assert len({e[1] for e in before["events"]}) == 3

        _migrate(_latest())
        with connection.cursor() as cur:
            for table in MONTHLY_PARTITIONED:
                assert is_partitioned(cur, table)
            assert _snapshot(cur) == before  # ids, txids, times: every row as it was
            names = partitions_list(cur, "registry_changeevent")
            assert partition_name("registry_changeevent", month_start(_at(14).date())) in names
            assert names[-1] == "registry_changeevent_default"
            cur.execute("SELECT count(*) FROM registry_changeevent_default")
            assert cur.fetchone()[0] == 0
            # The oldest month's rows are in their own partition.
            cur.execute(f"SELECT count(*) FROM {partition_name('registry_changeevent', month_start(_at(14).date()))}")
            assert cur.fetchone()[0] == 5
        new = ChangeEvent.objects.create(
            change_type="person", object_id="new", op="created", occurred_at=timezone.now(), payload={}
        )
        assert new.id > max(e[0] for e in before["events"])  # the id sequence goes on
        new.refresh_from_db()
        assert new.txid > 0  # the txid trigger is on the partitions

        _migrate([BEFORE])
        with connection.cursor() as cur:
            for table in MONTHLY_PARTITIONED:
                assert not is_partitioned(cur, table)
            after = _snapshot(cur)
            assert after["events"][:-1] == before["events"] and after["calls"] == before["calls"]
            cur.execute("SELECT pg_get_serial_sequence('registry_changeevent', 'id')")
            assert cur.fetchone()[0]  # an identity column again
            cur.execute(
                "SELECT count(*) FROM pg_constraint WHERE conrelid = 'registry_webhookdelivery'::regclass "
                "AND confrelid = 'registry_changeevent'::regclass"
            )
            assert cur.fetchone()[0] == 1  # the deliveries' foreign key is back
        again = ChangeEvent.objects.create(
            change_type="person", object_id="again", op="created", occurred_at=timezone.now(), payload={}
        )
        assert again.id > new.id
    finally:
        _migrate(_latest())


@pytest.mark.django_db
def test_the_feed_reads_across_monthly_partitions_in_commit_order():
    user = UserFactory(is_superuser=True)
    with connection.cursor() as cur:  # a database migrated this month has partitions from this month on
        partition_create(cur, table="registry_changeevent", month=_at(1).date())
    old = ChangeEvent.objects.create(
        change_type="person", object_id="old-month", op="created", occurred_at=_at(1), payload={}
    )
    now = ChangeEvent.objects.create(
        change_type="person", object_id="this-month", op="created", occurred_at=timezone.now(), payload={}
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id, tableoid::regclass::text FROM registry_changeevent WHERE id IN (%s, %s)", [old.id, now.id]
        )
        where = dict(cur.fetchall())
    assert where[old.id] != where[now.id]  # two partitions
    assert where[old.id] == partition_name("registry_changeevent", month_start(_at(1).date()))
    # The horizon is this transaction (the test's), so read what is below it: both events carry its txid.
    ids = [e.id for e in ChangeEvent.objects.filter(id__in=[old.id, now.id]).order_by("txid", "id")]
    assert ids == [old.id, now.id]
    page = change_feed_read(user=user, limit=10)
    assert old.id not in [e.id for e in page.events]  # not final while its transaction runs: held back, not lost


@pytest.mark.django_db
def test_events_stay_append_only_in_every_partition_and_the_key_is_unique():
    with connection.cursor() as cur:
        partition_create(cur, table="registry_changeevent", month=_at(1).date())
    event = ChangeEvent.objects.create(
        change_type="person", object_id="x", op="created", occurred_at=_at(1), payload={}
    )
    part = partition_name("registry_changeevent", month_start(_at(1).date()))
    for statement in (
        "UPDATE registry_changeevent SET object_id = 'y' WHERE id = %s",
        "DELETE FROM registry_changeevent WHERE id = %s",
        f"UPDATE {part} SET object_id = 'y' WHERE id = %s",
        f"DELETE FROM {part} WHERE id = %s",
    ):
        with pytest.raises((InternalError, IntegrityError)), transaction.atomic(), connection.cursor() as cur:
            cur.execute(statement, [event.id])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO registry_changeevent (id, change_type, object_id, op, office_path, occurred_at, payload) "
            "VALUES (%s, 'person', 'dup', 'created', '', %s, '{}')",
            [event.id, event.occurred_at],
        )
    # The call log: partitioned too, read and purged by time as before.
    ApiCallLog.objects.create(at=_at(2), method="GET", route="/x", status=200, latency_ms=1, request_id="r")
    assert ApiCallLog.objects.filter(at__lt=_at(1)).count() == 1


@pytest.mark.django_db
def test_months_ahead_are_made_by_the_owners_function_and_a_past_month_can_be_detached():
    created = partitions_ensure(months_ahead=6)
    with connection.cursor() as cur:
        names = partitions_list(cur, "registry_changeevent")
        far = month_add(month_start(timezone.localdate()), 6)
        assert partition_name("registry_changeevent", far) in names
        assert partitions_ensure(months_ahead=6) == []  # idempotent
        assert all(not line.startswith("skipped") for line in created)

        # A row of a month nobody made a partition for lands in the default partition; the job then reports it.
        beyond = month_add(far, 2)
        occurred = timezone.make_aware(datetime.datetime(beyond.year, beyond.month, 3), timezone.get_default_timezone())
        ChangeEvent.objects.create(
            change_type="person", object_id="far", op="created", occurred_at=occurred, payload={}
        )
        cur.execute("SELECT count(*) FROM registry_changeevent_default")
        assert cur.fetchone()[0] == 1
        report = partitions_ensure(months_ahead=8)
        assert any(line.startswith("skipped registry_changeevent_p" + f"{beyond:%Y%m}") for line in report), report

        old = month_start(_at(1).date())
        partition_create(cur, table="registry_changeevent", month=old)
        ChangeEvent.objects.create(change_type="person", object_id="old", op="created", occurred_at=_at(1), payload={})
        with pytest.raises(ValueError):
            partition_detach(cur, table="registry_changeevent", month=timezone.localdate())
        name = partition_detach(cur, table="registry_changeevent", month=old)
        assert name not in partitions_list(cur, "registry_changeevent")
        assert not ChangeEvent.objects.filter(object_id="old").exists()  # out of the feed, kept for the archive
        cur.execute(f"SELECT object_id FROM {name}")
        assert ("old",) in cur.fetchall()
