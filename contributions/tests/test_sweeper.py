"""The sweeper (issue 14, faults 2 and 7): a bill run or bill export whose task is gone — its message lost, its
worker killed — is sent again and finishes exactly once; a job whose worker still holds its lock is left alone
and cannot be marked failed; a resumed run's progress is not inflated."""

from __future__ import annotations

import datetime
from decimal import Decimal

import psycopg2
import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from contributions import services
from contributions.models import Bill, BillExport, BillRun, BillRunStatus, ExportStatus
from contributions.services import bill_run as bill_run_module
from contributions.tests.factories import issued_bill
from contributions.tests.params import set_huangyan_2025
from registry.exceptions import ConflictError
from registry.locks import AdvisoryLock
from registry.models import EMPLOYEE_INSURANCES, Office
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, UserFactory, township_of

pytestmark = [pytest.mark.django_db]
D = datetime.date
PERIOD = 202503
OLD = datetime.timedelta(minutes=30)


@pytest.fixture
def city(db):
    """黄岩 2025 parameters; four employers with staff, one with nobody enrolled (never billed)."""
    set_huangyan_2025()
    clerk = UserFactory(username="hy_sweep_clerk", office=Office.objects.get(code="331003"))
    township = township_of("331003")
    employers = []
    for n in range(4):
        employer = EmployerFactory(office=township, risk_class=1)
        person = PersonFactory(residence_office=township)
        for insurance in EMPLOYEE_INSURANCES:
            EnrollmentFactory(person=person, employer=employer, insurance_type=insurance, start_date=D(2024, 1, n + 1))
        employers.append(employer)
    empty = EmployerFactory(office=township, risk_class=1)
    return {"clerk": clerk, "employers": employers, "empty": empty}


def _start(city, django_capture_on_commit_callbacks) -> BillRun:
    """A run committed as queued whose message never reached a worker (lost with Redis)."""
    with django_capture_on_commit_callbacks(execute=False):
        run = services.bill_run_start(
            period=PERIOD, acting_user=city["clerk"], scope="district", office=Office.objects.get(code="331003")
        )
    return run


def _age(model, pk) -> None:
    model.objects.filter(pk=pk).update(created_at=timezone.now() - OLD)


def _other_connection():
    settings = connection.settings_dict
    return psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
    )


def test_a_queued_run_whose_message_was_lost_is_sent_again_and_bills_exactly_once(
    city, django_capture_on_commit_callbacks
):
    run = _start(city, django_capture_on_commit_callbacks)
    assert services.jobs_sweep(stale_seconds=60).requeued == {}  # queued a moment ago: not stale yet
    _age(BillRun, run.pk)
    report = services.jobs_sweep(stale_seconds=60)
    assert report.requeued == {"bill_run": [run.pk]}
    run.refresh_from_db()
    assert run.status == BillRunStatus.DONE and run.requeue_count == 1 and run.requeued_at is not None
    assert Bill.objects.filter(period=PERIOD).count() == 4 == run.bills_created
    assert (run.done, run.total) == (5, 5)
    assert services.jobs_sweep(stale_seconds=0).requeued == {}  # done: nothing left to sweep


@pytest.mark.postgres
def test_a_run_whose_worker_holds_its_lock_is_left_alone_and_cannot_be_marked_failed(
    city, django_capture_on_commit_callbacks
):
    run = _start(city, django_capture_on_commit_callbacks)
    BillRun.objects.filter(pk=run.pk).update(status=BillRunStatus.RUNNING, started_at=timezone.now() - OLD)
    _age(BillRun, run.pk)
    run.refresh_from_db()
    worker = _other_connection()  # a live worker executing the period
    try:
        with worker.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s, %s)", [int(AdvisoryLock.BILL_RUN), PERIOD])
        assert services.jobs_stuck(stale_seconds=60) == []
        with pytest.raises(ConflictError, match="仍在执行中"):
            services.bill_run_fail(bill_run=run, acting_user=city["clerk"], reason="卡住了")
        run.refresh_from_db()
        assert run.status == BillRunStatus.RUNNING
        with worker.cursor() as cur:  # the worker dies (unlocked first: a closing backend lets go a moment later)
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [int(AdvisoryLock.BILL_RUN), PERIOD])
    finally:
        worker.close()
    assert [(kind.name, job.pk) for kind, job in services.jobs_stuck(stale_seconds=60)] == [("bill_run", run.pk)]
    services.jobs_sweep(stale_seconds=60)
    run.refresh_from_db()
    assert run.status == BillRunStatus.DONE and Bill.objects.filter(period=PERIOD).count() == 4


def test_a_resumed_run_reports_true_progress(city, django_capture_on_commit_callbacks, monkeypatch):
    """Fault 7: the run dies after its first chunk; the sweeper resumes it. Progress ends at 5/5 employers (one of
    them has nobody to bill), not at more than the employers there are."""
    monkeypatch.setattr(bill_run_module, "CHUNK_EMPLOYERS", 2)
    original = bill_run_module._bill_employer_chunk
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return original(*args, **kwargs)

    monkeypatch.setattr(bill_run_module, "_bill_employer_chunk", dying)
    run = _start(city, django_capture_on_commit_callbacks)
    with pytest.raises(OperationalError):
        services.bill_run_execute(bill_run_id=run.pk)
    run.refresh_from_db()
    assert run.status == BillRunStatus.RUNNING and (run.done, run.total) == (2, 5) and run.bills_created == 2
    BillRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - OLD)
    _age(BillRun, run.pk)
    assert services.jobs_sweep(stale_seconds=60).requeued == {"bill_run": [run.pk]}
    run.refresh_from_db()
    assert run.status == BillRunStatus.DONE
    assert (run.done, run.total) == (5, 5) and run.progress_percent == 100
    assert run.bills_created == 4 == Bill.objects.filter(period=PERIOD).count()
    assert run.lines_created == 4 * len(EMPLOYEE_INSURANCES)


def test_a_queued_export_whose_message_was_lost_is_written_by_the_sweeper(
    city, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    issued_bill(city["employers"][0], 202510)
    with django_capture_on_commit_callbacks(execute=False):
        export = services.bill_export_start(
            period=202510, office=Office.objects.get(code="331003"), format="csv", encoding="utf-8",
            acting_user=UserFactory(username="hy_sweep_reviewer", office=Office.objects.get(code="331003"),
                                    roles=["审核"]),
        )  # fmt: skip
    _age(BillExport, export.pk)
    assert services.jobs_sweep(stale_seconds=60).requeued == {"bill_export": [export.pk]}
    export.refresh_from_db()
    assert export.status == ExportStatus.DONE and export.bill_count == 1 and export.total > Decimal("0")


@pytest.mark.postgres
def test_an_export_being_written_is_not_swept(city, django_capture_on_commit_callbacks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=False):
        export = services.bill_export_start(
            period=202510, office=Office.objects.get(code="331003"), format="xlsx", encoding="",
            acting_user=UserFactory(username="hy_sweep_reviewer2", office=Office.objects.get(code="331003"),
                                    roles=["审核"]),
        )  # fmt: skip
    _age(BillExport, export.pk)
    worker = _other_connection()
    try:
        with worker.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s, %s)", [int(AdvisoryLock.BILL_EXPORT), export.pk])
        assert services.jobs_stuck(stale_seconds=60) == []
        # A second message for it meanwhile returns at once, leaving it to the worker that writes it.
        assert services.bill_export_execute(bill_export_id=export.pk).status == ExportStatus.QUEUED
        with worker.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [int(AdvisoryLock.BILL_EXPORT), export.pk])
    finally:
        worker.close()
    assert len(services.jobs_stuck(stale_seconds=60)) == 1


def test_the_sweeper_is_scheduled_by_beat_at_the_configured_interval(settings):
    from taizhou_si.celery import app

    entry = app.conf.beat_schedule["contributions.jobs_sweep"]
    assert entry["task"] == "contributions.jobs_sweep" and entry["schedule"] == settings.JOB_SWEEP_INTERVAL_SECONDS
    assert "contributions.jobs_sweep" in app.tasks
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT
