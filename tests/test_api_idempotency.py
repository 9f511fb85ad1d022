"""Idempotency-Key on every API write route, shown on the collecting agency's payment report (POST /payments/).

The payment service is itself idempotent per agency reference, but it answers a repeat with 200 and the
first record; a replay of the stored response answers 201 again, with ``Idempotent-Replayed: true`` — so
these tests see whether the work was done again or not.
"""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.test.client import encode_multipart
from django.utils import timezone

from contributions.models import Payment
from registry import roles
from registry.api.throttle import rate_counters_reset
from registry.models import IdempotencyRecord, IdempotencyState, Office
from registry.services import api_key_issue, system_account_create
from registry.tasks import idempotency_record_purge
from registry.tests.factories import EmployerFactory, UserFactory, township_of

PAYMENTS = "/api/v1/payments/"


def agency(code: str = "tax", operations=("payment:read", "payment:write")) -> str:
    admin = UserFactory(office=Office.objects.get(level=1), roles=[], is_superuser=True)
    account = system_account_create(
        acting_user=admin,
        code=code,
        name="台州市税务局",
        office=Office.objects.get(code="331000"),
        role_names=[roles.SYSTEM],
        operations=list(operations),
    )
    rate_counters_reset(account)
    return api_key_issue(account=account, acting_user=admin)[1]


def payment(employer, reference: str = "TAX-IDEM-1", amount: str = "100.00") -> dict:
    return {
        "agency_reference": reference,
        "employer": str(employer.uid),
        "amount": amount,
        "paid_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
    }


def post(raw: str, body: dict, key: str | None, url: str = PAYMENTS, client: Client | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {raw}"}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return (client or Client()).post(url, body, content_type="application/json", **headers)


@pytest.mark.django_db
def test_a_stored_response_is_not_replayed_to_a_system_whose_grant_was_withdrawn():
    from registry.models import SystemAccount

    raw = agency(code="tax-withdrawn")
    employer = EmployerFactory(office=township_of("331003"))
    assert post(raw, payment(employer), "pay-w1").status_code == 201
    assert post(raw, payment(employer), "pay-w1")["Idempotent-Replayed"] == "true"
    SystemAccount.objects.filter(code="tax-withdrawn").update(operations=["payment:read"])
    refused = post(raw, payment(employer), "pay-w1")
    assert refused.status_code == 403, refused.content
    assert refused.json()["code"] == "operation_not_allowed"
    assert "Idempotent-Replayed" not in refused
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_a_repeated_request_returns_the_stored_response_without_doing_the_work_again():
    raw = agency()
    employer = EmployerFactory(office=township_of("331003"))
    first = post(raw, payment(employer), "pay-0001")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    again = post(raw, payment(employer), "pay-0001")
    assert again.status_code == 201  # the service would have answered 200 to a repeat it processed
    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"]
    assert Payment.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.state, record.status, record.method, record.route) == (
        IdempotencyState.COMPLETED,
        201,
        "POST",
        "/api/v1/payments/",
    )
    assert record.principal.startswith("system:")
    # Without a key the service's own rule applies: same reference, same payment, 200.
    assert post(raw, payment(employer), None).status_code == 200


@pytest.mark.django_db
def test_the_same_key_with_another_body_or_route_is_422():
    raw = agency(operations=("payment:write", "employer:write"))
    employer = EmployerFactory(office=township_of("331003"))
    assert post(raw, payment(employer), "k-1").status_code == 201
    changed = post(raw, payment(employer, amount="200.00"), "k-1")
    assert changed.status_code == 422
    body = changed.json()
    assert body["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in body["errors"]
    assert body["message_en"].startswith("This Idempotency-Key was used for another request")
    elsewhere = post(raw, payment(employer), "k-1", url="/api/v1/employers/")
    assert elsewhere.status_code == 422
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_keys_belong_to_their_caller():
    tax, other = agency("tax"), agency("tax2")
    employer = EmployerFactory(office=township_of("331003"))
    assert post(tax, payment(employer, "R-1"), "shared").status_code == 201
    assert post(other, payment(employer, "R-2"), "shared").status_code == 201
    assert Payment.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 101, "中文键", "tab\tkey"])
def test_a_malformed_key_is_400(key):
    raw = agency()
    employer = EmployerFactory(office=township_of("331003"))
    response = post(raw, payment(employer), key)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert Payment.objects.count() == 0


@pytest.mark.django_db
def test_a_refused_call_is_stored_but_a_missing_grant_is_not():
    raw = agency(operations=("payment:read",))
    employer = EmployerFactory(office=township_of("331003"))
    # 403: no work was done, so nothing is kept — once the grant is given the same key goes through.
    assert post(raw, payment(employer), "k-403").status_code == 403
    assert not IdempotencyRecord.objects.exists()
    from registry.models import SystemAccount

    SystemAccount.objects.filter(code="tax").update(operations=["payment:write"])
    assert post(raw, payment(employer), "k-403").status_code == 201
    # A validation refusal is an outcome like any other: kept and replayed.
    bad = payment(employer, "R-BAD", amount="-1")
    first = post(raw, bad, "k-400")
    assert first.status_code == 400
    again = post(raw, bad, "k-400")
    assert (again.status_code, again["Idempotent-Replayed"], again.content) == (400, "true", first.content)


@pytest.mark.django_db
def test_a_server_error_is_not_stored_so_the_key_can_be_retried(huangyan_clerk, settings):
    from tests import api_error_urls

    settings.ROOT_URLCONF = "tests.api_error_urls"
    api_error_urls.CALLS.clear()
    client = Client(raise_request_exception=False)
    client.force_login(huangyan_clerk)
    for _ in range(2):
        response = client.post(
            "/api/test-django-failure/", {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k5"
        )
        assert response.status_code == 500
    assert api_error_urls.CALLS == ["POST", "POST"]  # tried twice: the key was released after the 5xx
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_staff_sessions_are_idempotent_per_user():
    from registry.tests.factories import make_id_number

    reviewer = UserFactory(office=Office.objects.get(code="331003"), roles=[roles.REVIEWER])
    client = Client()
    client.force_login(reviewer)
    data = {
        "id_number": make_id_number(area="331003", birth="19750505"),
        "name": "王五",
        "household_type": "urban",
        "residence_office": "331003",
    }
    first = client.post("/api/v1/persons/", data, content_type="application/json", HTTP_IDEMPOTENCY_KEY="person-1")
    assert first.status_code == 201, first.content
    again = client.post("/api/v1/persons/", data, content_type="application/json", HTTP_IDEMPOTENCY_KEY="person-1")
    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert IdempotencyRecord.objects.get().principal == f"user:{reviewer.pk}"


@pytest.mark.django_db
def test_an_expired_key_may_be_used_again_and_the_purge_removes_expired_ones(settings):
    raw = agency()
    employer = EmployerFactory(office=township_of("331003"))
    assert post(raw, payment(employer, "R-1"), "old").status_code == 201
    IdempotencyRecord.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    fresh = post(raw, payment(employer, "R-2"), "old")  # another body: fine, the first use has expired
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh
    assert Payment.objects.count() == 2
    record = IdempotencyRecord.objects.get()
    assert record.expires_at - record.created_at == datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    IdempotencyRecord.objects.create(
        principal="system:0", key="gone", fingerprint="x", method="POST", route="/", expires_at=timezone.now()
    )
    assert idempotency_record_purge.delay().get() == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_a_key_left_in_progress_by_a_dead_worker_is_taken_over(settings):
    settings.IDEMPOTENCY_STALE_SECONDS = 60
    raw = agency()
    employer = EmployerFactory(office=township_of("331003"))
    body = payment(employer)
    assert post(raw, body, "crashed").status_code == 201
    # What a worker that died mid-request leaves behind: the marker, never completed.
    IdempotencyRecord.objects.update(
        state=IdempotencyState.IN_PROGRESS,
        status=None,
        completed_at=None,
        locked_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    retried = post(raw, body, "crashed")
    # The work ran again (and the payment service recognised its reference: 200), nothing was replayed.
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried
    assert IdempotencyRecord.objects.get().state == IdempotencyState.COMPLETED
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_an_upload_beyond_the_in_memory_limit_is_hashed_streaming_and_still_reaches_the_view(settings):
    from cases.models import Attachment
    from cases.tests.factories import clerk, enrollment_case, pdf_bytes, upload

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000  # the file part is larger; the form fields are not
    town = township_of("331003")
    case = enrollment_case(township=town)
    client = Client()
    client.force_login(clerk(town))
    content = pdf_bytes("x" * 5000)

    def send(content_bytes, boundary):
        # Every client picks its own random boundary, also when it retries: the key must still match.
        data = {"case": str(case.uid), "material": "form", "file": upload("登记表.pdf", content_bytes)}
        return client.post(
            "/api/v1/case-attachments/",
            encode_multipart(boundary, data),
            content_type=f"multipart/form-data; boundary={boundary}",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first = send(content, "----first7MA4YWxkTrZu0gW")
    assert first.status_code == 201, first.content
    assert first.json()["size"] == len(content)
    again = send(content, "----retry9Zq3LkPp2Hd8sQ")
    assert (again.status_code, again["Idempotent-Replayed"], again.content) == (201, "true", first.content)
    assert send(pdf_bytes("y" * 5000), "----other").status_code == 422  # another file under the same key
    assert Attachment.objects.count() == 1


# --- concurrency (PostgreSQL, real connections) -------------------------------------------------------------


def _in_thread(results: dict, name: str, raw: str, body: dict, key: str) -> threading.Thread:
    def run():
        try:
            results[name] = post(raw, body, key)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_parallel_requests_with_one_key_do_the_work_once(_restore_migration_data, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 20
    raw = agency()
    employer = EmployerFactory(office=township_of("331003"))
    body = payment(employer)
    results: dict = {}
    # Hold the employer row, so the first request stops inside its work (the payment's foreign key needs
    # the row) while the second one arrives.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM registry_employer WHERE id = %s FOR UPDATE", [employer.pk])
        first = _in_thread(results, "first", raw, body, "parallel-1")
        _wait_for(lambda: IdempotencyRecord.objects.filter(key="parallel-1").exists())
        second = _in_thread(results, "second", raw, body, "parallel-1")
        time.sleep(0.5)
        assert first.is_alive() and second.is_alive()  # the first works, the second waits for it
        assert Payment.objects.count() == 0
    first.join(30)
    second.join(30)
    assert not first.is_alive() and not second.is_alive()
    statuses = sorted((r.status_code, r.get("Idempotent-Replayed", "")) for r in results.values())
    assert statuses == [(201, ""), (201, "true")], statuses
    assert results["first"].content == results["second"].content
    assert Payment.objects.count() == 1
    assert IdempotencyRecord.objects.get().state == IdempotencyState.COMPLETED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_parallel_request_that_waits_too_long_gets_409(_restore_migration_data, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.3
    raw = agency()
    employer = EmployerFactory(office=township_of("331003"))
    body = payment(employer)
    results: dict = {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM registry_employer WHERE id = %s FOR UPDATE", [employer.pk])
        first = _in_thread(results, "first", raw, body, "parallel-2")
        _wait_for(lambda: IdempotencyRecord.objects.filter(key="parallel-2").exists())
        second = _in_thread(results, "second", raw, body, "parallel-2")
        second.join(10)
        assert not second.is_alive()
    first.join(30)
    assert results["first"].status_code == 201
    refused = results["second"]
    assert refused.status_code == 409
    assert refused.json()["code"] == "idempotency_in_progress"
    assert Payment.objects.count() == 1
    # The 409 did no work and is not stored: a retry now gets the first response.
    retry = post(raw, body, "parallel-2")
    assert (retry.status_code, retry["Idempotent-Replayed"]) == (201, "true")
