"""Webhooks: deliveries from the change feed to a real HTTP receiver (a local server in a thread), signed,
retried with backoff, parked after too many failures and replayed by an administrator; the API of systems."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from registry import roles
from registry.feed.webhooks import (
    retry_delay,
    webhook_deliveries_enqueue,
    webhook_deliveries_send,
    webhook_subscription_create,
)
from registry.models import ChangeEvent, WebhookDelivery, WebhookSubscription
from registry.services import system_account_create
from registry.tasks import webhooks_dispatch
from registry.tests.factories import PersonFactory, UserFactory, office, township_of

WEBHOOKS = "/api/v1/webhooks/"
WAIT_SECONDS = 300
transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Transactional tests empty the database; the migrations' data is put back after the module.
pytestmark = pytest.mark.usefixtures("_restore_migration_data")


class Receiver:
    """A local HTTP endpoint answering with the scripted status codes (then 200), recording every request."""

    def __init__(self, statuses: list[int] | None = None, delay: float = 0.0):
        self.statuses = list(statuses or [])
        self.delay = delay
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    # Header names are case-insensitive: kept lower-cased.
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.requests.append({"headers": headers, "body": body, "status": status})
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver is down")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/tzsi"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def successes(self) -> list[dict]:
        return [r for r in self.requests if 200 <= r["status"] < 300]


def _system(code: str, office_code: str):
    admin = UserFactory(username=f"admin-{code}", office=office("331000"), roles=[roles.CITY_ADMIN])
    return system_account_create(acting_user=admin, code=code, name=f"{code} 系统", office=office(office_code))


def _enqueue_until(count: int) -> list[WebhookDelivery]:
    """Enqueue until ``count`` deliveries exist (on PostgreSQL other transactions may hold the feed back a while)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while WebhookDelivery.objects.count() < count and time.monotonic() < deadline:
        webhook_deliveries_enqueue()
        time.sleep(0.05)
    return list(WebhookDelivery.objects.order_by("id"))


def verify(secret: str, request: dict) -> bool:
    headers = request["headers"]
    message = headers["x-tzsi-timestamp"].encode() + b"." + request["body"]
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-tzsi-signature"])


@transactional
def test_a_receiver_failing_twice_then_succeeding_gets_the_change_once_signed(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    system = _system("hy-hook", "331003")
    with Receiver(statuses=[503, 500]) as receiver:
        subscription, secret = webhook_subscription_create(
            account=system, acting_user=system.user, url=receiver.url, change_types=["person"]
        )
        person = PersonFactory(residence_office=township_of("331003"))
        [delivery] = _enqueue_until(1)
        webhook_deliveries_enqueue()  # enqueueing again adds nothing
        assert WebhookDelivery.objects.count() == 1

        t0 = timezone.now()
        assert webhook_deliveries_send(now=t0) == {"delivered": 0, "failed": 1, "parked": 0}
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 503)
        assert delivery.next_attempt_at == t0 + datetime.timedelta(seconds=60)
        assert webhook_deliveries_send(now=t0 + datetime.timedelta(seconds=30))["failed"] == 0  # not due yet

        t1 = t0 + datetime.timedelta(seconds=61)
        assert webhook_deliveries_send(now=t1)["failed"] == 1
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == t1 + datetime.timedelta(seconds=120)  # backoff doubles

        t2 = t1 + datetime.timedelta(seconds=121)
        assert webhook_deliveries_send(now=t2) == {"delivered": 1, "failed": 0, "parked": 0}
        assert webhook_deliveries_send(now=t2 + datetime.timedelta(days=1)) == {
            "delivered": 0,
            "failed": 0,
            "parked": 0,
        }

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert delivery.delivered_at == t2
    assert [r["status"] for r in receiver.requests] == [503, 500, 200]
    [success] = receiver.successes()
    assert all(verify(secret, r) for r in receiver.requests)
    assert not verify("another-secret", success)
    body = json.loads(success["body"])
    event = ChangeEvent.objects.get(pk=delivery.change_id)
    assert body["object_id"] == str(person.uid) and body["type"] == "person" and body["op"] == "created"
    assert body["url"] == f"/api/v1/persons/{person.uid}/"
    assert body["subscription"] == str(subscription.uid)
    assert success["headers"]["x-tzsi-event-id"] == str(event.pk)
    assert len({r["headers"]["x-tzsi-event-id"] for r in receiver.requests}) == 1


@transactional
def test_a_delivery_is_parked_after_the_maximum_attempts_and_an_administrator_replays_it(settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0  # retry at once, to reach the limit in one run
    system = _system("hy-park", "331003")
    with Receiver(statuses=[500, 502, 504]) as receiver:
        webhook_subscription_create(account=system, acting_user=system.user, url=receiver.url)
        PersonFactory(residence_office=township_of("331003"))
        [delivery] = _enqueue_until(1)
        assert webhook_deliveries_send() == {"delivered": 0, "failed": 2, "parked": 1}
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("parked", 3, 504)
        # The status code only: what the receiver wrote back is never stored (issue 17, hole 1).
        assert delivery.last_error == "HTTP 504"
        assert webhook_deliveries_send(now=timezone.now() + datetime.timedelta(days=30))["delivered"] == 0

        admin = UserFactory(username="hook-admin", office=office("331000"), roles=[roles.CITY_ADMIN], is_staff=True)
        client = Client()
        client.force_login(admin)
        changelist = reverse("admin:registry_webhookdelivery_changelist")
        listed = client.get(changelist, {"status__exact": "parked"})
        assert listed.status_code == 200 and str(delivery.change.object_id) in listed.content.decode()
        # The action puts it back in the queue and dispatches at once after the commit (eager Celery here).
        response = client.post(
            changelist, {"action": "replay", "_selected_action": [delivery.pk], "index": 0}, follow=True
        )
        assert response.status_code == 200
        assert "已重新投递 1 条" in response.content.decode()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.replayed_by) == ("delivered", 1, admin)
    assert [r["status"] for r in receiver.requests] == [500, 502, 504, 200]


@transactional
def test_the_beat_task_sends_each_webhook_the_changes_after_its_start_within_its_jurisdiction():
    huangyan = _system("hy-beat", "331003")
    client = Client()
    client.force_login(huangyan.user)
    before = PersonFactory(residence_office=township_of("331003"))
    deadline = time.monotonic() + WAIT_SECONDS
    while not client.get("/api/v1/changes/", {"types": "person"}).json()["results"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with Receiver() as from_now, Receiver() as from_start:
        created = client.post(WEBHOOKS, {"url": from_now.url}, content_type="application/json")
        assert created.status_code == 201, created.content
        created = client.post(
            WEBHOOKS, {"url": from_start.url, "since": "MTowOjA"}, content_type="application/json"
        )  # the cursor of the feed's very beginning
        assert created.status_code == 201, created.content
        theirs = PersonFactory(residence_office=township_of("331004"))
        after = PersonFactory(residence_office=township_of("331003"))
        _enqueue_until(3)
        result = webhooks_dispatch.delay().get()
    assert result["delivered"] == 3
    assert [json.loads(r["body"])["object_id"] for r in from_now.requests] == [str(after.uid)]
    assert [json.loads(r["body"])["object_id"] for r in from_start.requests] == [str(before.uid), str(after.uid)]
    assert not WebhookDelivery.objects.filter(change__object_id=str(theirs.uid)).exists()


@pytest.mark.django_db
def test_systems_register_list_rotate_and_delete_their_own_webhooks():
    huangyan, luqiao = _system("hy-api", "331003"), _system("lq-api", "331004")
    hy, lq = Client(), Client()
    hy.force_login(huangyan.user)
    lq.force_login(luqiao.user)

    created = hy.post(
        WEBHOOKS,
        {"url": "https://hy.example/hooks", "change_types": ["person", "enrollment"]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["change_types"] == ["enrollment", "person"] and len(body["secret"]) >= 32
    uid = body["uid"]
    subscription = WebhookSubscription.objects.get(uid=uid)
    assert subscription.account == huangyan and subscription.secret == body["secret"]
    assert subscription.history.get().history_user == huangyan.user

    listed = hy.get(WEBHOOKS).json()["results"]
    assert [w["uid"] for w in listed] == [uid] and "secret" not in listed[0]
    assert "secret" not in hy.get(f"{WEBHOOKS}{uid}/").json()
    # Another system neither sees nor touches it.
    assert lq.get(WEBHOOKS).json()["results"] == []
    for response in (
        lq.get(f"{WEBHOOKS}{uid}/"),
        lq.delete(f"{WEBHOOKS}{uid}/"),
        lq.post(f"{WEBHOOKS}{uid}/rotate-secret/"),
    ):
        assert response.status_code == 404

    rotated = hy.post(f"{WEBHOOKS}{uid}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] != body["secret"]
    subscription.refresh_from_db()
    assert subscription.secret == rotated.json()["secret"]

    assert hy.delete(f"{WEBHOOKS}{uid}/").status_code == 204
    assert not WebhookSubscription.objects.exists()


@pytest.mark.django_db
def test_webhook_registration_errors_name_the_field():
    system = _system("hy-err", "331003")
    client = Client()
    client.force_login(system.user)
    for data, field in [
        ({"url": "ftp://hy.example/hooks"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://hy.example/h", "change_types": ["person", "salary"]}, "change_types"),
        ({"url": "https://hy.example/h", "since": "garbage"}, "since"),
        ({"url": "https://hy.example/h", "colour": "red"}, "colour"),
    ]:
        response = client.post(WEBHOOKS, data, content_type="application/json")
        assert response.status_code == 400, (data, response.content)
        assert list(response.json()["errors"]) == [field], response.json()
    # Staff users are not systems: they cannot register webhooks.
    admin = UserFactory(username="hook-staff", office=office("331000"), roles=[roles.CITY_ADMIN])
    staff = Client()
    staff.force_login(admin)
    refused = staff.post(WEBHOOKS, {"url": "https://x.example/h"}, content_type="application/json")
    assert refused.status_code == 403
    assert not WebhookSubscription.objects.exists()


@pytest.mark.postgres
@transactional
def test_two_workers_sending_at_once_never_send_a_delivery_twice():
    system = _system("hy-twice", "331003")
    with Receiver(delay=0.2) as receiver:
        webhook_subscription_create(account=system, acting_user=system.user, url=receiver.url)
        for _ in range(6):
            PersonFactory(residence_office=township_of("331003"))
        _enqueue_until(6)
        results: list[dict] = []

        def worker():
            try:
                results.append(webhook_deliveries_send())
            finally:
                connection.close()

        workers = [threading.Thread(target=worker) for _ in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(WAIT_SECONDS)
    assert sum(r["delivered"] for r in results) == 6
    assert sorted(r["headers"]["x-tzsi-event-id"] for r in receiver.requests) == sorted(
        str(i) for i in WebhookDelivery.objects.values_list("change_id", flat=True)
    )
    assert len([r for r in results if r["delivered"]]) >= 2  # the work was shared, not serialized in one worker
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}


def test_backoff_grows_exponentially_and_is_capped(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    settings.WEBHOOK_RETRY_MAX_SECONDS = 3600
    assert [retry_delay(n).total_seconds() for n in range(1, 8)] == [60, 120, 240, 480, 960, 1920, 3600]


@pytest.mark.django_db
def test_the_dispatch_runs_every_thirty_seconds_from_the_beat_schedule():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="registry.webhooks_dispatch")
    assert task.enabled and (task.interval.every, task.interval.period) == (30, "seconds")
