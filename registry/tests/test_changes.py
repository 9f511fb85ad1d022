"""The change feed: written with the change, read in commit order within the caller's jurisdiction.

Every test commits (transactional tests): on PostgreSQL the feed shows only changes of finished transactions,
so a change made inside a test's own open transaction would never appear. Other transactions on the same
server (another test process) may hold the feed back for a while, so reads wait for what they expect.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client

from registry import roles
from registry.feed.changes import FeedPosition, change_events_record, change_feed_read
from registry.models import ChangeEvent, Person
from registry.services import person_update, system_account_create
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, UserFactory, office, township_of
from registry.tests.helpers import page_client_for

FEED = "/api/v1/changes/"
WAIT_SECONDS = 300
transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Transactional tests empty the database; the migrations' data is put back after the module.
pytestmark = pytest.mark.usefixtures("_restore_migration_data")


def _system(code: str, office_code: str, role_names: list[str] | None = None):
    admin = UserFactory(username=f"admin-{code}", office=office("331000"), roles=[roles.CITY_ADMIN])
    return system_account_create(
        acting_user=admin, code=code, name=f"{code} 系统", office=office(office_code), role_names=role_names
    )


def _client(account) -> Client:
    return page_client_for(account.user)


def read_feed(client: Client, *, expect: int, params: dict | None = None, since: str | None = None):
    """Page through the feed until at least ``expect`` events have come (or the wait is over).
    Returns (events, last cursor)."""
    events: list[dict] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        query = {**(params or {}), **({"since": since} if since else {})}
        response = client.get(FEED, query)
        assert response.status_code == 200, response.content
        body = response.json()
        events += body["results"]
        since = body["next_cursor"] or since
        if body["has_more"]:
            continue
        if len(events) >= expect or time.monotonic() > deadline:
            return events, since
        time.sleep(0.05)


@transactional
def test_saves_and_deletes_are_in_the_feed_with_the_records_api_url():
    system = _system("hy-sync", "331003")
    client = _client(system)
    clerk = UserFactory(username="hy-feed-clerk", office=office("331003"))
    person = PersonFactory(residence_office=township_of("331003"))
    person_update(person=person, acting_user=clerk, phone="0576-84000000")
    doomed = PersonFactory(residence_office=township_of("331003"))
    doomed_uid = str(doomed.uid)
    doomed.delete()

    events, _cursor = read_feed(client, expect=4, params={"types": "person"})
    assert [(e["object_id"], e["op"]) for e in events] == [
        (str(person.uid), "created"),
        (str(person.uid), "updated"),
        (doomed_uid, "created"),
        (doomed_uid, "deleted"),
    ]
    first = events[0]
    assert first["type"] == "person"
    assert first["url"] == f"/api/v1/persons/{person.uid}/"
    assert first["office"] == township_of("331003").code
    assert first["occurred_at"].endswith("+08:00")
    assert client.get(first["url"]).json()["phone"] == "0576-84000000"
    assert len({e["id"] for e in events}) == 4


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_event():
    with pytest.raises(RuntimeError), transaction.atomic():
        PersonFactory(residence_office=township_of("331003"))
        raise RuntimeError("abandoned")
    assert not ChangeEvent.objects.exists()


@transactional
def test_the_cursor_pages_through_every_change_once_and_continues_later():
    system = _system("hy-pages", "331003")
    client = _client(system)
    persons = [PersonFactory(residence_office=township_of("331003")) for _ in range(5)]

    read_feed(client, expect=5, params={"types": "person"})  # wait until all five are final
    pages, since = [], None
    while True:
        body = client.get(FEED, {"types": "person", "limit": 2, **({"since": since} if since else {})}).json()
        pages.append([e["object_id"] for e in body["results"]])
        since = body["next_cursor"]
        if not body["has_more"]:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [uid for page in pages for uid in page] == [str(p.uid) for p in persons]
    # Each event's own cursor resumes right after it.
    third = client.get(FEED, {"types": "person", "limit": 2}).json()["results"][1]["cursor"]
    assert [e["object_id"] for e in client.get(FEED, {"types": "person", "since": third}).json()["results"]] == [
        str(p.uid) for p in persons[2:]
    ]

    assert client.get(FEED, {"types": "person", "since": since}).json()["results"] == []
    later = PersonFactory(residence_office=township_of("331003"))
    events, _cursor = read_feed(client, expect=1, params={"types": "person"}, since=since)
    assert [e["object_id"] for e in events] == [str(later.uid)]


@transactional
def test_a_system_sees_the_changes_of_its_jurisdiction_and_of_the_types_it_asks_for():
    huangyan, luqiao, city = _system("hy", "331003"), _system("lq", "331004"), _system("prov", "331000")
    theirs = PersonFactory(residence_office=township_of("331004"))
    township = township_of("331003")
    enrollment = EnrollmentFactory(
        person=PersonFactory(residence_office=township), employer=EmployerFactory(office=township)
    )
    mine = enrollment.person

    # 路桥's change came first, so it is final whenever 黄岩's are: its absence is the jurisdiction at work.
    everything, _cursor = read_feed(_client(huangyan), expect=3)
    assert [(e["type"], e["object_id"]) for e in everything] == [
        ("person", str(mine.uid)),
        ("employer", str(enrollment.employer.uid)),
        ("enrollment", str(enrollment.uid)),
    ]
    chosen, _cursor = read_feed(_client(huangyan), expect=2, params={"types": "enrollment, person"})
    assert [e["type"] for e in chosen] == ["person", "enrollment"]
    lq_events, _cursor = read_feed(_client(luqiao), expect=1)
    assert [e["object_id"] for e in lq_events] == [str(theirs.uid)]
    city_events, _cursor = read_feed(_client(city), expect=2, params={"types": "person"})
    assert [e["object_id"] for e in city_events] == [str(theirs.uid), str(mine.uid)]


@pytest.mark.django_db
def test_bad_parameters_are_400_naming_the_parameter_and_unreadable_types_403():
    client = _client(_system("hy-bad", "331003"))
    for params, field in [
        ({"since": "not-a-cursor"}, "since"),
        ({"since": FeedPosition(1, 2).encode()[:-2] + "!!"}, "since"),
        ({"types": "person,salary"}, "types"),
        ({"types": " , "}, "types"),
        ({"limit": "5000"}, "limit"),
        ({"limit": "0"}, "limit"),
    ]:
        response = client.get(FEED, params)
        assert response.status_code == 400, (params, response.content)
        body = response.json()
        assert body["code"] == "validation_error"
        assert list(body["errors"]) == [field], body
    assert "salary" in client.get(FEED, {"types": "person,salary"}).json()["errors"]["types"][0]
    # A caller that may not read payments asking for them is refused, not silently given nothing.
    from django.contrib.auth.models import Group, Permission

    persons_only = Group.objects.create(name="只读人员变更")
    persons_only.permissions.set(
        Permission.objects.filter(content_type__app_label="registry", codename__in=["view_changeevent", "view_person"])
    )
    reader = UserFactory(username="hy-feed-persons", office=office("331003"))
    reader.groups.set([persons_only])
    client = Client()
    client.force_login(reader)
    refused = client.get(FEED, {"types": "person,payment"})
    assert refused.status_code == 403
    assert "payment" in refused.json()["message"]
    # A user without the feed permission gets nothing.
    clerk = Client()
    clerk.force_login(UserFactory(username="hy-feed-nobody", office=office("331003")))
    assert clerk.get(FEED).status_code == 403


@pytest.mark.django_db
def test_change_events_record_writes_one_event_per_row_for_bulk_writes():
    township = township_of("331003")
    persons = [PersonFactory(residence_office=township) for _ in range(3)]
    before = ChangeEvent.objects.count()
    written = change_events_record(
        change_type="person", queryset=Person.objects.filter(pk__in=[p.pk for p in persons]), op="updated"
    )
    assert written == 3
    events = list(ChangeEvent.objects.order_by("id")[before:])
    assert [(e.object_id, e.op, e.office_id, e.office_path) for e in events] == [
        (str(p.uid), "updated", township.pk, township.path) for p in persons
    ]
    assert events[0].payload == {"id": str(persons[0].uid), "url": f"/api/v1/persons/{persons[0].uid}/"}
    with pytest.raises(ValueError):
        change_events_record(change_type="bill", queryset=Person.objects.all())


@pytest.mark.postgres
@pytest.mark.django_db
def test_events_carry_their_transaction_id_and_cannot_be_changed():
    with transaction.atomic():
        person = PersonFactory(residence_office=township_of("331003"))
        with connection.cursor() as cur:
            cur.execute("SELECT pg_current_xact_id()::text::bigint")
            txid = cur.fetchone()[0]
    event = ChangeEvent.objects.get(object_id=str(person.uid))
    assert event.txid == txid
    for statement in ("UPDATE registry_changeevent SET op = 'deleted'", "DELETE FROM registry_changeevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(statement)
    assert ChangeEvent.objects.get(pk=event.pk).op == "created"


@pytest.mark.postgres
@transactional
def test_a_consumer_reading_pages_while_writers_commit_gets_every_change_exactly_once():
    """Writers commit in three threads while a consumer follows the cursor; one transaction writes first and
    commits last, one rolls back. The consumer must end with every committed change once and nothing else."""
    system = _system("hy-race", "331003")
    user = system.user
    township = township_of("331003")
    late_written, late_commit, writers_done = (threading.Event() for _ in range(3))
    late_uid: list[str] = []
    committed: list[str] = []
    committed_while_late_open: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # surfaced in the main thread
                errors.append(exc)
                late_written.set()
                late_commit.set()
            finally:
                connection.close()

        return run

    def create_person() -> str:
        return str(PersonFactory(residence_office=township).uid)

    def late_writer():
        with transaction.atomic():
            uid = create_person()  # event written now, with this early transaction's id
            late_uid.append(uid)
            late_written.set()
            late_commit.wait(WAIT_SECONDS)
        with lock:
            committed.append(uid)

    def writer(n: int):
        late_written.wait(WAIT_SECONDS)
        for i in range(n):
            with transaction.atomic():
                uid = create_person()
            with lock:
                committed.append(uid)
                if not late_commit.is_set():
                    committed_while_late_open.append(uid)
            if i == n // 2 and n > 10:
                late_commit.set()  # the early transaction commits while the others go on
            time.sleep(0.002)

    def rolled_back():
        late_written.wait(WAIT_SECONDS)
        try:
            with transaction.atomic():
                create_person()
                raise RuntimeError("abandoned")
        except RuntimeError:
            pass

    seen: list[tuple[int, str]] = []
    pages = [0]

    def consumer():
        since = None
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            page = change_feed_read(user=user, since=since, types=["person"], limit=7)
            seen.extend((e.id, e.object_id) for e in page.events)
            since = page.next or since
            pages[0] += 1
            if page.has_more:
                continue
            with lock:
                finished = writers_done.is_set() and len(seen) >= len(committed)
            if finished:
                break
            time.sleep(0.005)

    threads = [threading.Thread(target=guarded(f)) for f in (late_writer, rolled_back, consumer)]
    writers = [threading.Thread(target=guarded(lambda n=n: writer(n))) for n in (40, 30, 30)]
    for t in threads + writers:
        t.start()
    for t in writers:
        t.join(WAIT_SECONDS)
    late_commit.set()
    threads[0].join(WAIT_SECONDS)
    writers_done.set()
    for t in threads[1:]:
        t.join(WAIT_SECONDS)
    assert not errors, errors

    assert len(committed) == 101
    assert len(seen) == len({event_id for event_id, _uid in seen}), "an event was read twice"
    assert sorted(uid for _id, uid in seen) == sorted(committed), "the feed missed or invented changes"
    assert pages[0] > 10  # read in many pages while the writers were writing
    # The scenario happened: changes with higher ids committed while the early transaction was open, so a
    # reader ordering by id (or by time) would have passed the early change before it committed.
    assert committed_while_late_open
    late_id = ChangeEvent.objects.get(object_id=late_uid[0]).id
    assert ChangeEvent.objects.filter(object_id__in=committed_while_late_open, id__lt=late_id).count() == 0


@pytest.mark.django_db
def test_admin_finds_a_records_events_by_its_exact_id_only():
    from registry.models import Office

    persons = [PersonFactory(residence_office=township_of("331003")) for _ in range(2)]
    root = UserFactory(office=Office.objects.get(level=1), roles=[], is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(root)
    url = "/admin/registry/changeevent/"
    uid = str(persons[0].uid)
    page = client.get(url, {"q": f"  {uid.upper()} "})
    assert page.status_code == 200
    assert uid in page.content.decode() and str(persons[1].uid) not in page.content.decode()
    assert str(persons[0].uid) not in client.get(url, {"q": uid[:8]}).content.decode()  # no substring match
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute("EXPLAIN SELECT id FROM registry_changeevent WHERE object_id = %s", [uid])
            plan = " ".join(row[0] for row in cur.fetchall())
            # The hash index change_event_object_hash, as each monthly partition's copy of it (registry.partitions).
            cur.execute(
                "SELECT count(*) FROM pg_indexes WHERE indexname = 'change_event_object_hash' "
                "AND indexdef LIKE '%%USING hash (object_id)'"
            )
            assert cur.fetchone()[0] == 1
            assert "Index Scan" in plan and "Seq Scan" not in plan and "object_id" in plan


@pytest.mark.postgres
@pytest.mark.django_db
def test_bulk_events_carry_the_transaction_id_with_row_triggers_off():
    # A bulk writer may run with session_replication_role = replica (the payment file does): the statement
    # itself writes the txid the silenced trigger would have stamped.
    person = PersonFactory(residence_office=township_of("331003"))
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_current_xact_id()::text::bigint")
        txid = cur.fetchone()[0]
        cur.execute("SET LOCAL session_replication_role = replica")
        change_events_record(change_type="person", queryset=Person.objects.filter(pk=person.pk), op="updated")
        cur.execute("SET LOCAL session_replication_role = origin")
    assert ChangeEvent.objects.get(object_id=str(person.uid), op="updated").txid == txid
