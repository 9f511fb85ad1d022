"""Fault 3: Redis goes away. The web tier keeps serving — reads, and writes whose task cannot be sent (committed as
queued, 202) — with a logged warning and never a 500; once Redis is back the sweeper sends the task.

Runs against a Redis this test starts on its own port (never the machine's), stopped by its PID."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from contributions import services
from contributions.models import BillRun, BillRunStatus
from contributions.tests.factories import employ, huangyan_employer, huangyan_parameters_2025
from registry import roles
from registry.services import api_key_issue, system_account_create
from registry.tests.factories import UserFactory, office
from taizhou_si.celery import app
from tests.fault_tools import RedisServer, celery_broker_use

pytestmark = [pytest.mark.faults, pytest.mark.django_db]


@pytest.fixture
def own_redis(tmp_path, settings):
    """The cache and the Celery broker on this test's own Redis; tasks really sent (not run in-process)."""
    server = RedisServer(tmp_path / "redis").start()
    settings.CACHES = {
        "default": {
            "BACKEND": "registry.cache.ResilientRedisCache",
            "LOCATION": server.url(0),
            "KEY_PREFIX": "fault-test",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
    old = app.conf.broker_url, app.conf.task_always_eager
    celery_broker_use(server.url(0))
    app.conf.task_always_eager = False
    try:
        yield server
    finally:
        server.stop()
        celery_broker_use(old[0])
        app.conf.task_always_eager = old[1]


def test_with_redis_down_reads_and_writes_go_on_and_the_sweeper_sends_the_task_later(
    own_redis, city_admin, django_capture_on_commit_callbacks, caplog
):
    huangyan_parameters_2025()
    employ(huangyan_employer())
    reviewer = UserFactory(username="hy_outage_reviewer", office=office("331003"), roles=[roles.REVIEWER])
    account = system_account_create(
        acting_user=city_admin, code="hy-outage", name="黄岩区社保系统", office=office("331003"),
        operations=["person:read"],
    )  # fmt: skip
    _key, raw = api_key_issue(account=account, acting_user=city_admin, label="outage")
    keyed = Client()
    assert keyed.get("/api/v1/persons/", HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code == 200
    cache.set("outage-probe", "up")
    assert cache.get("outage-probe") == "up"  # the cache is this test's Redis, and it is up

    own_redis.stop()  # Redis goes away
    caplog.set_level(logging.WARNING)

    # Reads: the API (its rate limit counts in the cache) and a page.
    response = keyed.get("/api/v1/persons/", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert response.status_code == 200, response.content
    page = Client()
    page.force_login(reviewer)
    assert page.get("/contributions/bill-runs/").status_code == 200
    assert "cache: Redis unreachable" in caplog.text

    # A write whose task cannot be sent: committed as queued, 202, the task left for the sweeper.
    api = APIClient()
    api.force_authenticate(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/bill-runs/", {"period": "202503", "scope": "district", "office": "331003"}, format="json"
        )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == BillRunStatus.QUEUED
    run = BillRun.objects.get(uid=response.json()["uid"])
    assert "left for the sweeper" in caplog.text
    assert services.jobs_sweep(stale_seconds=0).undispatched == {"bill_run": [run.pk]}  # still down: kept
    run.refresh_from_db()
    assert run.requeue_count == 0

    own_redis.start()  # back, empty (nothing was persisted)
    assert own_redis.queue_length() == 0
    report = services.jobs_sweep(stale_seconds=0)
    assert report.requeued == {"bill_run": [run.pk]} and report.undispatched == {}
    assert own_redis.queue_length() == 1  # the run's message waits for a worker now
    run.refresh_from_db()
    assert run.status == BillRunStatus.QUEUED and run.requeue_count == 1
