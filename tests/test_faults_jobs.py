"""Fault injection (issue 14, `make test-slow`): real faults against a Redis, a Celery worker and Celery beat that
these tests start themselves (tests/fault_tools.py; each stopped by its own PID), the sweeper's interval shortened.

1. SIGKILL the whole worker in the middle of a bill run;
2. SIGKILL the whole worker in the middle of a payment-file import;
3. Redis restarted (without persistence) with a task queued, and the worker reconnecting;
4. the worker's database connection terminated mid-job (pg_terminate_backend of that backend only).

After each, within two sweeper intervals (plus the job's own running time, measured and printed): every bill exactly
once, every payment exactly once, the books balanced, nothing left queued or running.

The worker is held in the middle of its job deterministically: this test locks a table the job needs (ACCESS
EXCLUSIVE, from its own connection) and waits until the worker's backend waits for it.
"""

from __future__ import annotations

import time
from decimal import Decimal

import psycopg2
import pytest
from django.db import connection
from django.db.models import Count, Sum

from contributions import services
from contributions.models import (
    Bill,
    BillRun,
    BillRunStatus,
    Payment,
    PaymentAllocation,
    PaymentFile,
    PaymentFileStatus,
)
from contributions.tests.factories import huangyan_parameters_2025, issued_bill, payment_csv
from registry import roles
from registry.models import EMPLOYEE_INSURANCES, Office
from registry.tests.factories import EmployerFactory, EnrollmentFactory, PersonFactory, UserFactory, township_of
from taizhou_si.celery import app
from tests.fault_tools import CeleryProcess, RedisServer, celery_broker_use, wait_for

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.timeout(600),
]

INTERVAL = 3  # JOB_SWEEP_INTERVAL_SECONDS of the beat under test
STALE = 2  # JOB_STALE_SECONDS
RUN_SLACK = 45  # the job's own running time on a loaded 2-core machine, on top of the two intervals
EMPLOYERS = 120
PERIOD = 202503


class Cluster:
    """Redis, one worker and beat, all this test's own; the test process's Celery sends to that Redis."""

    def __init__(self, folder, media_root) -> None:
        self.folder = folder
        self.redis = RedisServer(folder / "redis").start()
        self.env = {
            "JOB_SWEEP_INTERVAL_SECONDS": INTERVAL,
            "JOB_STALE_SECONDS": STALE,
            "BILL_RUN_CHUNK_EMPLOYERS": 10,
            "MEDIA_ROOT": media_root,
            "CELERY_QUEUE": "taizhou_si",
        }
        self.worker: CeleryProcess | None = None
        self.beat: CeleryProcess | None = None
        self.workers = 0

    def start_worker(self) -> CeleryProcess:
        self.workers += 1
        self.worker = CeleryProcess("worker", self.redis.url(0), self.folder / f"worker{self.workers}.log", **self.env)
        return self.worker.start()

    def start_beat(self) -> CeleryProcess:
        self.beat = CeleryProcess("beat", self.redis.url(0), self.folder / "beat.log", **self.env).start()
        return self.beat

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        for process in (self.worker, self.beat):
            if process is not None:
                process.kill()
        self.redis.stop()


@pytest.fixture
def cluster(tmp_path, settings, _restore_migration_data):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    made = Cluster(tmp_path, settings.MEDIA_ROOT)
    old = app.conf.broker_url, app.conf.task_always_eager
    celery_broker_use(made.redis.url(0))
    app.conf.task_always_eager = False
    try:
        yield made
    finally:
        made.stop()
        celery_broker_use(old[0])
        app.conf.task_always_eager = old[1]


@pytest.fixture
def city(db):
    """黄岩 2025 parameters, EMPLOYERS employers with one employee each (five insurances), a reviewer."""
    huangyan_parameters_2025()
    township = township_of("331003")
    employers = []
    for _n in range(EMPLOYERS):
        employer = EmployerFactory(office=township, risk_class=1)
        person = PersonFactory(residence_office=township)
        for insurance in EMPLOYEE_INSURANCES:
            EnrollmentFactory(person=person, employer=employer, insurance_type=insurance)
        employers.append(employer)
    reviewer = UserFactory(username="fault_reviewer", office=Office.objects.get(code="331003"), roles=[roles.REVIEWER])
    admin = UserFactory(username="fault_admin", office=Office.objects.get(code="331000"), roles=[roles.CITY_ADMIN])
    return {"employers": employers, "reviewer": reviewer, "admin": admin}


# ---------------------------------------------------------------------------------------------
# Holding the worker in the middle of its job, and looking at its database backend.


def _connect():
    s = connection.settings_dict
    conn = psycopg2.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"], host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432
    )
    conn.autocommit = False
    return conn


class TableHold:
    """ACCESS EXCLUSIVE on a table, from this test's own connection, until released."""

    def __init__(self, table: str) -> None:
        self.conn = _connect()
        with self.conn.cursor() as cur:
            cur.execute("SET lock_timeout = '60s'")
            cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")

    def release(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None


def waiting_backend() -> int | None:
    """The pid of a client backend of this database waiting for a lock (the worker's, held by a TableHold)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY pid LIMIT 1"
        )
        row = cur.fetchone()
    return row[0] if row else None


# ---------------------------------------------------------------------------------------------
# The outcome every fault must leave.


def assert_books_exact(city, *, payments: dict[str, Decimal] | None = None) -> None:
    regular = Bill.objects.filter(period=PERIOD, kind="regular")
    per_employer = regular.values("employer_id").annotate(n=Count("id"))
    assert regular.count() == EMPLOYERS, regular.count()
    assert {row["n"] for row in per_employer} == {1}  # every bill exactly once
    assert BillRun.objects.filter(status__in=[BillRunStatus.QUEUED, BillRunStatus.RUNNING]).count() == 0
    for run in BillRun.objects.filter(period=PERIOD, status=BillRunStatus.DONE):
        assert run.done == run.total == EMPLOYERS, (run.done, run.total)
    assert sum(run.bills_created for run in BillRun.objects.filter(period=PERIOD)) == EMPLOYERS
    if payments is not None:
        recorded = dict(Payment.objects.values_list("agency_reference", "amount"))
        assert recorded == payments  # every payment exactly once, with its amount
    # The books balance: each payment is exactly allocated (to bills and credit).
    allocated = dict(
        PaymentAllocation.objects.values("payment_id").annotate(s=Sum("amount")).values_list("payment_id", "s")
    )
    for payment in Payment.objects.all():
        assert allocated.get(payment.pk) == payment.amount, payment.agency_reference
    assert PaymentFile.objects.filter(status__in=[PaymentFileStatus.QUEUED, PaymentFileStatus.PROCESSING]).count() == 0


def recovered_within(cluster, predicate, started: float, what: str) -> float:
    deadline = 2 * INTERVAL + RUN_SLACK
    try:
        wait_for(predicate, timeout=deadline - (time.monotonic() - started), interval=0.25, message=what)
    except AssertionError:
        raise AssertionError(f"{what}: not recovered within {deadline} s\n{cluster.logs()}") from None
    seconds = time.monotonic() - started
    print(f"{what}: recovered {seconds:.1f} s after the fault")
    return seconds


def _run_done() -> bool:
    return BillRun.objects.filter(period=PERIOD, status=BillRunStatus.DONE).exists()


def _start_run(city) -> BillRun:
    return services.bill_run_start(
        period=PERIOD, acting_user=city["reviewer"], scope="district", office=Office.objects.get(code="331003")
    )


# ---------------------------------------------------------------------------------------------
# 1. SIGKILL during a bill run.


def test_sigkill_of_the_worker_during_a_bill_run(cluster, city):
    cluster.start_beat()
    worker = cluster.start_worker()
    run = _start_run(city)
    wait_for(lambda: BillRun.objects.get(pk=run.pk).done >= 20, 60, 0.02, "the run's first chunks")
    hold = TableHold("contributions_declaration")  # the next chunk waits here, its bills not committed
    try:
        wait_for(waiting_backend, 30, message="the worker waiting in its chunk")
        worker.kill()  # SIGKILL, the whole worker (its message stays unacknowledged in Redis for hours)
        killed = time.monotonic()
        partial = BillRun.objects.get(pk=run.pk)
        assert partial.status == BillRunStatus.RUNNING and 20 <= partial.done < EMPLOYERS
    finally:
        hold.release()
    cluster.start_worker()  # the process supervisor (docker restart policy) brings a worker back
    recovered_within(cluster, _run_done, killed, "bill run after SIGKILL")
    assert BillRun.objects.get(pk=run.pk).requeue_count >= 1  # the sweeper sent it again
    assert_books_exact(city)


# ---------------------------------------------------------------------------------------------
# 2. SIGKILL during a payment-file import.


def _bills_and_file(city) -> tuple[bytes, dict[str, Decimal]]:
    lines, expected = [], {}
    for n, employer in enumerate(city["employers"]):
        issued_bill(employer, 202501)
        amount = Decimal("1795.00") if n % 3 else Decimal("2000.00")  # some overpay: credit
        lines.append((f"FAULT-{n:04d}", "单位", employer.credit_code, "", 202501, f"{amount}", "2025-04-10"))
        expected[f"FAULT-{n:04d}"] = amount
    return payment_csv(lines), expected


def _payment_books_exact(city, expected) -> None:
    assert PaymentFile.objects.get().status == PaymentFileStatus.IMPORTED
    recorded = dict(Payment.objects.values_list("agency_reference", "amount"))
    assert recorded == expected
    allocated = dict(
        PaymentAllocation.objects.values("payment_id").annotate(s=Sum("amount")).values_list("payment_id", "s")
    )
    assert all(allocated.get(p.pk) == p.amount for p in Payment.objects.all())
    assert PaymentFile.objects.filter(status__in=[PaymentFileStatus.QUEUED, PaymentFileStatus.PROCESSING]).count() == 0


def test_sigkill_of_the_worker_during_a_payment_file_import(cluster, city):
    data, expected = _bills_and_file(city)
    cluster.start_beat()
    worker = cluster.start_worker()
    hold = TableHold("contributions_payment")  # the import waits here, inside its one transaction
    try:
        payment_file, created = services.payment_file_upload(
            name="fault.csv", data=data, mode="strict", acting_user=city["admin"]
        )
        assert created and payment_file.status == PaymentFileStatus.QUEUED
        wait_for(waiting_backend, 60, message="the worker waiting in the import")
        worker.kill()
        killed = time.monotonic()
    finally:
        hold.release()
    assert Payment.objects.count() == 0
    cluster.start_worker()
    recovered_within(
        cluster,
        lambda: PaymentFile.objects.filter(status=PaymentFileStatus.IMPORTED).exists(),
        killed,
        "payment file after SIGKILL",
    )
    _payment_books_exact(city, expected)


# ---------------------------------------------------------------------------------------------
# 3. Redis restarted with a task queued; the worker reconnects.


def test_redis_restarted_with_a_task_queued_and_the_worker_reconnecting(cluster, city):
    run = _start_run(city)  # sent to Redis; no worker yet
    assert cluster.redis.queue_length() == 1
    cluster.redis.stop()  # SIGKILL, no persistence: the queued message is gone
    cluster.redis.start()
    assert cluster.redis.queue_length() == 0
    restarted = time.monotonic()
    worker = cluster.start_worker()
    cluster.start_beat()
    recovered_within(cluster, _run_done, restarted, "bill run lost with Redis")
    assert BillRun.objects.get(pk=run.pk).requeue_count >= 1
    assert_books_exact(city)

    # Redis goes away under a running worker, and comes back: the worker reconnects instead of exiting.
    cluster.redis.stop()
    time.sleep(3)
    assert worker.alive(), cluster.logs()
    data, expected = _bills_and_file_for_reconnect(city)
    payment_file, _created = services.payment_file_upload(
        name="after-outage.csv", data=data, mode="strict", acting_user=city["admin"]
    )  # committed as queued, its task not sent (Redis down): left for the sweeper
    assert PaymentFile.objects.get(pk=payment_file.pk).status == PaymentFileStatus.QUEUED
    cluster.redis.start()
    back = time.monotonic()
    recovered_within(
        cluster,
        lambda: PaymentFile.objects.filter(pk=payment_file.pk, status=PaymentFileStatus.IMPORTED).exists(),
        back,
        "payment file queued while Redis was down",
    )
    assert worker.alive() and cluster.workers == 1  # the same worker, reconnected
    assert dict(Payment.objects.values_list("agency_reference", "amount")) == expected


def _bills_and_file_for_reconnect(city) -> tuple[bytes, dict[str, Decimal]]:
    employer = city["employers"][0]
    line = ("RECONNECT-1", "单位", employer.credit_code, "", PERIOD, "1795.00", "2025-04-10")
    return payment_csv([line]), {"RECONNECT-1": Decimal("1795.00")}


# ---------------------------------------------------------------------------------------------
# 4. The worker's database connection terminated mid-job.


def test_the_workers_database_connection_terminated_mid_job(cluster, city):
    cluster.start_beat()
    worker = cluster.start_worker()
    run = _start_run(city)
    wait_for(lambda: BillRun.objects.get(pk=run.pk).done >= 20, 60, 0.02, "the run's first chunks")
    hold = TableHold("contributions_declaration")
    try:
        backend = wait_for(waiting_backend, 30, message="the worker waiting in its chunk")
        with connection.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", [backend])  # that backend only
            assert cur.fetchone()[0] is True
        terminated = time.monotonic()
    finally:
        hold.release()
    recovered_within(cluster, _run_done, terminated, "bill run after its connection was terminated")
    assert worker.alive()
    assert_books_exact(city)

    data, expected = _bills_and_file(city)
    hold = TableHold("contributions_payment")
    try:
        services.payment_file_upload(name="terminated.csv", data=data, mode="strict", acting_user=city["admin"])
        backend = wait_for(waiting_backend, 60, message="the worker waiting in the import")
        with connection.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", [backend])
        terminated = time.monotonic()
    finally:
        hold.release()
    recovered_within(
        cluster,
        lambda: PaymentFile.objects.filter(status=PaymentFileStatus.IMPORTED).exists(),
        terminated,
        "payment file after its connection was terminated",
    )
    _payment_books_exact(city, expected)
