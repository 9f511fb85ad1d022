"""A payment file and an API payment of the same payer at the same time, on two real connections (PostgreSQL).

The file's import locks its payers FOR UPDATE (``triggers.lock_payers``) before it reads their open items and
records its payments; the API's ``payment_record`` locks its payer FOR UPDATE before it writes its payment (its
reference: in the file's order, else the two deadlocked on one reference) and reads the open items. Each test
stops one side inside its transaction at a fixed point (``Pause``: the thread waits on an Event right after the
named function returns), sees the other side wait for a row lock in ``pg_stat_activity`` (no guessed sleeps),
then lets the first commit. Whatever the order: no bill insurance paid beyond its amount, every payment allocated
exactly once (to bills and credit, adding up to its amount), ``BillSettlement.paid`` the sum of its bill's
allocations, and one payment per agency reference (unique across channels: ``payment_agency_reference_once``).
A file line whose reference the API records after the file's line checks becomes what the checks would have made
of it (a repeat, or a bad line of another payer), and the rest of the file is imported.

One employer, three issued months of 1795.00 (pension 1200, medical 500, unemployment 50, work injury 20,
maternity 25), paid on 2025-01-20, before any due date (no late-fee bill joins in).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from contributions import services
from contributions.exchange.payment_files import allocation, process, upload
from contributions.models import (
    Bill,
    BillSettlement,
    BillTotal,
    Payment,
    PaymentAllocation,
    PaymentFile,
    PaymentFileLine,
    ReconciliationItem,
)
from contributions.services import payments
from contributions.tests.factories import huangyan_employer, issued_bill, payment_csv
from registry import roles
from registry.tests.factories import UserFactory, office
from registry.tests.helpers import client_for

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("_restore_migration_data")]
transactional = pytest.mark.django_db(transaction=True, serialized_rollback=True)

Y = Decimal
PAID_ON = "2025-01-20"
MONTH = [("emp_pension", Y("1200.00")), ("emp_medical", Y("500.00")), ("unemployment", Y("50.00"))]
MONTH += [("work_injury", Y("20.00")), ("maternity", Y("25.00"))]


class Pause:
    """The first call of ``module.name`` (from any thread) returns only after ``release()``: its thread stays inside
    its transaction, holding what it has locked so far."""

    def __init__(self, monkeypatch, module, name: str) -> None:
        self.reached = threading.Event()
        self._go = threading.Event()
        original = getattr(module, name)

        def paused(*args, **kwargs):
            result = original(*args, **kwargs)
            if not self.reached.is_set():
                self.reached.set()
                assert self._go.wait(30), "never released"
            return result

        monkeypatch.setattr(module, name, paused)

    def wait_reached(self) -> None:
        assert self.reached.wait(30), "the paused side never got there"

    def release(self) -> None:
        self._go.set()


class Side(threading.Thread):
    """One side of the race on its own database connection; keeps its backend pid, result or exception."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.pid: int | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.has_pid = threading.Event()

    def run(self) -> None:
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                self.pid = cur.fetchone()[0]
            self.has_pid.set()
            self.result = self.work()
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.has_pid.set()
            connection.close()

    def finish_started(self) -> Any:
        self.start()
        return self.finish()

    def finish(self) -> Any:
        self.join(60)
        assert not self.is_alive(), "still running"
        if self.error is not None:
            raise self.error
        return self.result


def waits_for_row_lock(side: Side) -> bool:
    """Whether ``side``'s backend comes to wait for a lock (it reached the other side's locked rows) before it ends.
    The test asserts it after the books, so that without the locks the books show what went wrong."""
    assert side.has_pid.wait(30)
    deadline = time.monotonic() + 30
    while side.is_alive():
        with connection.cursor() as cur:
            cur.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [side.pid])
            row = cur.fetchone()
        if row and row[0] == "Lock":
            return True
        assert time.monotonic() < deadline, "neither waited nor finished"
        time.sleep(0.02)
    return False


@pytest.fixture
def users(monkeypatch):
    # The worker's part is run by the test (a thread calls payment_file_process), not by the upload's message.
    monkeypatch.setattr(upload, "task_enqueue_on_commit", lambda *args, **kwargs: None)
    reviewer = UserFactory(username="hy_race_reviewer", office=office("331003"), roles=[roles.REVIEWER])
    agency = UserFactory(username="tax_race", office=office("331000"), roles=[roles.SYSTEM], is_system=True)
    return reviewer, agency


@pytest.fixture
def payer(users):
    employer = huangyan_employer()
    for period in (202501, 202502, 202503):
        issued_bill(employer, period)
    return employer


def file_data(employer, reference: str, amount: str) -> bytes:
    return payment_csv([(reference, "单位", employer.credit_code, "单位", 202501, amount, PAID_ON)])


def queued_file(employer, reviewer, reference: str, amount: str) -> PaymentFile:
    data = file_data(employer, reference, amount)
    payment_file, created = services.payment_file_upload(
        name="race.csv", data=data, mode="strict", acting_user=reviewer
    )
    assert created and payment_file.status == "queued"
    return payment_file


def import_side(payment_file: PaymentFile) -> Side:
    return Side(lambda: services.payment_file_process(payment_file_id=payment_file.pk))


def api_side(agency, employer, reference: str, amount: str) -> Side:
    def post():
        client = client_for(agency)
        client.raise_request_exception = False  # a server error is an answer here (a 500), not an exception
        body = {"agency_reference": reference, "employer": str(employer.uid), "amount": amount, "paid_on": PAID_ON}
        return client.post("/api/v1/payments/", body, format="json")

    return Side(post)


def allocations_of(reference: str) -> list[tuple]:
    return [
        (a.bill.period if a.bill_id else None, a.insurance_type, a.amount)
        for a in PaymentAllocation.objects.filter(payment__agency_reference=reference)
        .select_related("bill")
        .order_by("id")
    ]


def months(*periods: int) -> list[tuple]:
    return [(period, insurance, amount) for period in periods for insurance, amount in MONTH]


def assert_books_exact(employer) -> None:
    """No bill insurance paid beyond its amount, settlements the sum of their allocations, every payment allocated
    exactly once: its allocations (bills and credit) add up to its amount, and so do all of them together."""
    paid = {
        (row["bill_id"], row["insurance_type"]): row["s"]
        for row in PaymentAllocation.objects.filter(bill__employer=employer)
        .values("bill_id", "insurance_type")
        .annotate(s=Sum("amount"))
    }
    for total in BillTotal.objects.filter(bill__employer=employer):
        assert paid.get((total.bill_id, total.insurance_type), 0) <= total.amount, (total.bill.period, total)
    for bill in Bill.objects.filter(employer=employer):
        allocated = PaymentAllocation.objects.filter(bill=bill).aggregate(s=Sum("amount"))["s"] or Y(0)
        assert BillSettlement.objects.get(bill=bill).paid == allocated, bill.period
    for payment in Payment.objects.filter(employer=employer):
        assert payment.allocations.aggregate(s=Sum("amount"))["s"] == payment.amount, payment.agency_reference
    received = Payment.objects.filter(employer=employer).aggregate(s=Sum("amount"))["s"]
    assert PaymentAllocation.objects.filter(payment__employer=employer).aggregate(s=Sum("amount"))["s"] == received


# --- (1) the file holds its payers, the API payment arrives -----------------------------------------------------


@transactional
def test_an_api_payment_waits_for_a_file_holding_its_payer_and_pays_what_the_file_left(users, payer, monkeypatch):
    reviewer, agency = users
    payment_file = queued_file(payer, reviewer, "FILE-1", "4000.00")
    # The file has locked its payers and read their open items: the window in which a second reader would take
    # the same open amounts.
    held = Pause(monkeypatch, allocation, "_open_items")
    importing = import_side(payment_file)
    importing.start()
    held.wait_reached()
    api = api_side(agency, payer, "API-1", "4000.00")
    api.start()
    waited = waits_for_row_lock(api)  # for the file's lock on the payer
    held.release()
    assert importing.finish().status == "imported"
    response = api.finish()
    assert response.status_code == 201, response.content
    assert_books_exact(payer)
    # The file first (4000 of 5385 open: January, February, 410 of March's pension), the API on what is left.
    assert allocations_of("FILE-1") == months(202501, 202502) + [(202503, "emp_pension", Y("410.00"))]
    assert allocations_of("API-1") == [(202503, "emp_pension", Y("790.00"))] + months(202503)[1:] + [
        (None, "", Y("2615.00"))
    ]
    assert waited


# --- (2) the API payment holds its payer, the file arrives ------------------------------------------------------


@transactional
def test_a_file_waits_for_an_api_payment_holding_its_payer_and_pays_what_the_api_left(users, payer, monkeypatch):
    reviewer, agency = users
    payment_file = queued_file(payer, reviewer, "FILE-1", "4000.00")
    # The API payment has allocated (and holds the payer) but has not committed.
    held = Pause(monkeypatch, payments, "_allocate")
    api = api_side(agency, payer, "API-1", "4000.00")
    api.start()
    held.wait_reached()
    importing = import_side(payment_file)
    importing.start()
    waited = waits_for_row_lock(importing)  # for the API's lock on the payer
    held.release()
    assert api.finish().status_code == 201
    assert importing.finish().status == "imported"
    assert_books_exact(payer)
    assert allocations_of("API-1") == months(202501, 202502) + [(202503, "emp_pension", Y("410.00"))]
    assert allocations_of("FILE-1") == [(202503, "emp_pension", Y("790.00"))] + months(202503)[1:] + [
        (None, "", Y("2615.00"))
    ]
    assert PaymentFile.objects.get(pk=payment_file.pk).credit_amount == Y("2615.00")
    assert waited


# --- (3) one agency reference, in the file and through the API ---------------------------------------------------


@transactional
@pytest.mark.parametrize(
    ("amount", "status", "says"),
    [("4000.00", 200, None), ("3000.00", 400, "流水号 SAME-1 已登记为另一笔到账（金额 4000.00）")],
)
def test_an_api_payment_of_a_reference_the_file_is_recording_gets_the_files_payment(
    users, payer, monkeypatch, amount, status, says
):
    reviewer, agency = users
    payment_file = queued_file(payer, reviewer, "SAME-1", "4000.00")
    held = Pause(monkeypatch, allocation, "_open_items")
    importing = import_side(payment_file)
    importing.start()
    held.wait_reached()
    api = api_side(agency, payer, "SAME-1", amount)
    api.start()
    waited = waits_for_row_lock(api)
    held.release()
    assert importing.finish().status == "imported"
    response = api.finish()
    # Recorded once, by the file; the API's report of it is the same payment (200) or, with another amount,
    # refused naming the reference (400) — never a deadlock's 500.
    assert response.status_code == status, response.content
    file_payment = Payment.objects.get(agency_reference="SAME-1")
    assert file_payment.channel == "file"
    if says is None:
        assert response.json()["uid"] == str(file_payment.uid)
    else:
        assert says in response.json()["errors"]["agency_reference"][0]
    assert allocations_of("SAME-1") == months(202501, 202502) + [(202503, "emp_pension", Y("410.00"))]
    assert_books_exact(payer)
    assert waited


def two_line_file(employer, uploader, mode: str = "strict") -> PaymentFile:
    """SAME-1 for January and FILE-2 for February, 1795.00 each (a month's bill), of ``employer``."""
    lines = [("SAME-1", "单位", employer.credit_code, "单位", 202501, "1795.00", PAID_ON)]
    lines += [("FILE-2", "单位", employer.credit_code, "单位", 202502, "1795.00", PAID_ON)]
    payment_file, created = services.payment_file_upload(
        name="race.csv", data=payment_csv(lines), mode=mode, acting_user=uploader
    )
    assert created and payment_file.status == "queued"
    return payment_file


def line_statuses(payment_file: PaymentFile) -> dict[str, str]:
    return dict(PaymentFileLine.objects.filter(payment_file=payment_file).values_list("reference", "status"))


def reconciliation(payment_file: PaymentFile) -> set[tuple]:
    return {
        (i.employer_id, i.period, i.category, i.due, i.paid)
        for i in ReconciliationItem.objects.filter(payment_file=payment_file)
    }


@transactional
def test_a_file_line_of_a_reference_the_api_is_recording_becomes_a_repeat_and_the_rest_is_imported(
    users, payer, monkeypatch
):
    reviewer, agency = users
    payment_file = two_line_file(payer, reviewer)
    held = Pause(monkeypatch, payments, "_allocate")
    api = api_side(agency, payer, "SAME-1", "1795.00")
    api.start()
    held.wait_reached()
    importing = import_side(payment_file)
    importing.start()
    waited = waits_for_row_lock(importing)  # its line checks saw no SAME-1 yet: the line is new
    held.release()
    assert api.finish().status_code == 201
    imported = importing.finish()
    # The line's payment would have been a second SAME-1: the line is a repeat of the API's payment, as if the API
    # had committed before the file's checks, and the rest of the file is recorded.
    assert imported.status == "imported", imported.error
    assert (imported.line_count, imported.imported_count, imported.repeat_count, imported.bad_count) == (2, 1, 1, 0)
    assert (imported.imported_amount, imported.credit_amount) == (Y("1795.00"), Y("0.00"))
    assert line_statuses(imported) == {"SAME-1": "repeat", "FILE-2": "new"}
    assert Payment.objects.filter(agency_reference="SAME-1").get().channel == "api"
    assert allocations_of("SAME-1") == months(202501)
    assert allocations_of("FILE-2") == months(202502)
    # The repeat counts as the file's (paid, and its allocations not taken off what is due), as a line checked a
    # repeat from the start.
    assert reconciliation(imported) == {
        (payer.pk, 202501, "matched", Y("1795.00"), Y("1795.00")),
        (payer.pk, 202502, "matched", Y("1795.00"), Y("1795.00")),
    }
    assert_books_exact(payer)
    assert waited


@transactional
def test_a_strict_file_line_of_a_reference_the_api_records_for_another_payer_rejects_the_file(
    users, payer, monkeypatch
):
    reviewer, agency = users
    other = huangyan_employer()
    payment_file = two_line_file(payer, reviewer)
    held = Pause(monkeypatch, payments, "_allocate")
    api = api_side(agency, other, "SAME-1", "1795.00")
    api.start()
    held.wait_reached()
    importing = import_side(payment_file)
    importing.start()
    waited = waits_for_row_lock(importing)  # on SAME-1 itself: the API's payment is not committed yet
    held.release()
    assert api.finish().status_code == 201
    rejected = importing.finish()
    # As the line checks reject a reference already recorded for another payer: the whole strict file, naming it.
    assert (rejected.status, rejected.line_count, rejected.bad_count) == ("rejected", 2, 1)
    assert [(p["line"], p["code"]) for p in rejected.report["problems"]] == [(2, "reference_conflict")]
    assert rejected.report["problems"][0]["message"] == (
        "第 2 行：流水号 SAME-1 已登记为另一笔到账（金额 1795.00），与本行的缴费方或金额不一致，请核实。"
    )
    assert not PaymentFileLine.objects.filter(payment_file=rejected).exists()
    assert Payment.objects.filter(agency_reference="SAME-1").get().employer == other
    assert not Payment.objects.filter(channel="file").exists()
    assert_books_exact(payer)
    assert_books_exact(other)
    assert waited


@transactional
def test_a_skip_bad_file_line_of_a_reference_the_api_recorded_for_another_payer_is_kept_bad(users, payer, monkeypatch):
    _reviewer, agency = users
    admin = UserFactory(username="city_race_admin", office=office("331000"), roles=[roles.CITY_ADMIN])
    other = huangyan_employer()
    issued_bill(other, 202501)
    payment_file = two_line_file(payer, admin, mode="skip_bad")
    # The file has checked its lines (SAME-1 new) and not yet locked its payers; the API records SAME-1 for another
    # payer, paying that payer's January bill, and commits before the file reads what is open and due.
    held = Pause(monkeypatch, process, "load_lines")
    importing = import_side(payment_file)
    importing.start()
    held.wait_reached()
    assert api_side(agency, other, "SAME-1", "1795.00").finish_started().status_code == 201
    held.release()
    imported = importing.finish()
    assert imported.status == "pending", imported.error
    assert (imported.line_count, imported.imported_count, imported.repeat_count, imported.bad_count) == (2, 1, 0, 1)
    assert (imported.open_bad_count, imported.imported_amount, imported.bad_amount) == (1, Y("1795.00"), Y("1795.00"))
    kept = PaymentFileLine.objects.get(payment_file=imported, status="bad")
    assert kept.problem_text == (
        "第 2 行：流水号 SAME-1 已登记为另一笔到账（金额 1795.00），与本行的缴费方或金额不一致，请核实。"
    )
    assert kept.raw["reference"] == "SAME-1" and kept.raw["amount"] == "1795.00"
    assert Payment.objects.filter(agency_reference="SAME-1").get().employer == other
    assert allocations_of("FILE-2") == months(202501)  # the payer's oldest open bill
    # The other payer's January was paid by a payment this file does not report: nothing due there.
    assert reconciliation(imported) == {
        (payer.pk, 202502, "matched", Y("1795.00"), Y("1795.00")),
        (payer.pk, 202501, "billed_unpaid", Y("1795.00"), Y("0.00")),
    }
    assert_books_exact(payer)
    assert_books_exact(other)
