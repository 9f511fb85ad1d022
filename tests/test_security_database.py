"""Least privilege in the database (issue 17, hardening), on PostgreSQL: the application role the web and worker
processes use is no superuser and owns nothing; it cannot TRUNCATE, ALTER, DISABLE TRIGGER or create tables; with
``session_replication_role = replica`` (which it may set, for the payment file's foreign keys) an issued bill still
cannot be updated nor a line or total added to it, payments and the ledger stay append-only; and what it is granted
is enough for its work (a payment file imported on the fast path, with the owner's ANALYZE function).

The suite runs as the database owner, as always; these tests ``SET ROLE`` to an application role made for them
with the grants of ``registry.security.dbroles`` (what ``manage.py db_roles`` and every migrate give it).
"""

from __future__ import annotations

import datetime
import time
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from contributions.models import Bill, BillLine, BillTotal, Payment
from contributions.tests.factories import issued_bill, payment_csv
from registry.security.dbroles import SECURITY_DEFINER_FUNCTIONS, app_role_grants_apply
from registry.tests.factories import EmployerFactory, PersonFactory, UserFactory, office, township_of

APP_ROLE = "tzsi_app_test"
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("_restore_migration_data"),
]


@pytest.fixture
def app_role(settings, tmp_path):
    """The application role (cluster-wide, made once; two test processes may race to make it) and its grants on
    this test database."""
    settings.MEDIA_ROOT = tmp_path / "media"
    for attempt in range(5):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"DO $$ BEGIN CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT; "
                    "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
                )
                cursor.execute(f"GRANT SET ON PARAMETER session_replication_role TO {APP_ROLE}")
            break
        except DatabaseError:  # "tuple concurrently updated": the other test process granted at the same moment
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    app_role_grants_apply(role=APP_ROLE)
    return APP_ROLE


@contextmanager
def as_app_role(*, replica: bool = False):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {APP_ROLE}")
        if replica:
            cursor.execute("SET LOCAL session_replication_role = replica")
        yield cursor


def refused(cursor, statement: str, params=(), *, sqlstate: str | None = None, error=DatabaseError) -> str:
    with pytest.raises(error) as caught, transaction.atomic():
        cursor.execute(statement, list(params))
    code = getattr(caught.value.__cause__, "pgcode", None)
    if sqlstate:
        assert code == sqlstate, (statement, code, caught.value)
    return str(caught.value)


@pytest.fixture
def issued(app_role):
    """An issued bill with its totals, committed (the immutability rules are about earlier transactions)."""
    employer = EmployerFactory(office=township_of("331003"))
    bill = issued_bill(employer, 202501)
    person = PersonFactory(residence_office=township_of("331003"))
    return bill, person


def test_the_application_role_is_no_superuser_owns_nothing_and_cannot_truncate_alter_or_disable_triggers(issued):
    bill, _person = issued
    with as_app_role() as cursor:
        cursor.execute("SELECT current_user, current_setting('is_superuser')")
        assert cursor.fetchone() == (APP_ROLE, "off")
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = current_user"
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
        assert cursor.fetchone()[0] is True
        refused(cursor, "TRUNCATE contributions_bill CASCADE", sqlstate="42501")
        refused(cursor, "TRUNCATE registry_securityevent", sqlstate="42501")
        refused(cursor, "ALTER TABLE contributions_bill DISABLE TRIGGER bill_immutable", sqlstate="42501")
        refused(cursor, "ALTER TABLE contributions_billline DISABLE TRIGGER ALL", sqlstate="42501")
        refused(cursor, "ALTER TABLE registry_person ADD COLUMN x int", sqlstate="42501")
        refused(cursor, "CREATE TABLE public.evil (id int)", sqlstate="42501")
        refused(cursor, "DROP TABLE registry_securityevent", sqlstate="42501")
    assert Bill.objects.filter(pk=bill.pk).exists()


def test_with_replica_issued_bills_payments_the_ledger_and_the_logs_stay_immutable(issued):
    """As the application role with session_replication_role = replica: an issued bill is not updated, gains no
    line or total; payments, allocations, ledger entries, the change feed and the security log are append-only.
    A bill still gains its parts in the transaction that issues it."""
    from contributions.tests.factories import pay
    from funds.services import contribution_income_post
    from registry.models import SecurityEvent

    bill, person = issued
    clerk = UserFactory(username="db_pay_clerk", office=office("331000"), roles=[])
    payment = pay(bill, "100.00", datetime.date(2025, 2, 10), clerk, reference="DB-APPEND-1")
    assert contribution_income_post(up_to=timezone.now()).contribution_transactions > 0
    SecurityEvent.objects.create(kind="login", username="db-test")
    with as_app_role(replica=True) as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "replica"
        refused(cursor, "UPDATE contributions_bill SET total = 0 WHERE id = %s", [bill.pk], error=IntegrityError)
        refused(cursor, "DELETE FROM contributions_billtotal WHERE bill_id = %s", [bill.pk], error=IntegrityError)
        message = refused(
            cursor,
            "INSERT INTO contributions_billline (bill_id, person_id, insurance_type, period, base, base_source,"
            " employer_rate, individual_rate, employer_amount, individual_amount)"
            " VALUES (%s, %s, 'emp_pension', 202501, 5000, 'declared', 0.16, 0.08, 800, 400)",
            [bill.pk, person.pk],
            error=IntegrityError,
        )
        assert "issued bill" in message
        refused(
            cursor,
            "INSERT INTO contributions_billtotal (bill_id, insurance_type, employer_amount, individual_amount, amount)"
            " VALUES (%s, 'maternity', 1, 0, 1)",
            [bill.pk],
            error=IntegrityError,
        )
        refused(cursor, "UPDATE contributions_payment SET amount = 1 WHERE id = %s", [payment.pk], error=IntegrityError)
        refused(cursor, "DELETE FROM contributions_paymentallocation", error=IntegrityError)
        refused(cursor, "UPDATE funds_ledgerentry SET amount = 0", error=IntegrityError)
        refused(cursor, "UPDATE registry_changeevent SET op = 'deleted'", error=IntegrityError)
        refused(cursor, "DELETE FROM registry_securityevent", error=IntegrityError)

        # In the issuing transaction itself a bill gains its totals (as the bill run and adjustments do).
        employer = EmployerFactory(office=township_of("331003"))
        fresh = Bill.objects.create(
            kind="regular",
            period=202502,
            employer=employer,
            office=employer.office,
            total_employer=1,
            total_individual=0,
            total=1,
            due_date="2025-03-28",
            issued_at=timezone.now(),
        )
        BillTotal.objects.create(
            bill=fresh, insurance_type="maternity", employer_amount=1, individual_amount=0, amount=1
        )
    assert BillLine.objects.filter(bill=bill).count() == 0
    assert BillTotal.objects.filter(bill=bill).count() == 5
    assert BillTotal.objects.filter(bill=fresh).count() == 1
    assert Payment.objects.get(pk=payment.pk).amount == 100
    # Once committed, not any more — the owner neither.
    with pytest.raises(IntegrityError), transaction.atomic():
        BillTotal.objects.create(
            bill=fresh, insurance_type="work_injury", employer_amount=1, individual_amount=0, amount=1
        )


def test_the_grants_are_enough_for_a_payment_file_on_the_fast_path_with_the_owners_analyze(issued, monkeypatch):
    from contributions.exchange import payment_files
    from contributions.services import payment_file_upload

    bill, _person = issued
    admin = UserFactory(username="db_pf_admin", office=office("331000"), roles=[], is_superuser=True)
    monkeypatch.setattr(
        payment_files.line_checks, "ANALYZE_MIN_LINES", 1
    )  # the owner's ANALYZE function runs for this file
    calls = []
    original = payment_files.triggers.row_triggers

    def spy(cur, *, on):
        calls.append(on)
        original(cur, on=on)

    monkeypatch.setattr(payment_files.triggers, "row_triggers", spy)
    data = payment_csv([("DB-PF-1", "单位", bill.employer.credit_code, "", 202501, "1795.00", "2025-02-10")])
    with as_app_role() as cursor:
        assert payment_files.triggers.row_triggers_off_allowed(cursor)
        imported, created = payment_file_upload(name="db.csv", data=data, mode="strict", acting_user=admin)
        # What the worker does with the queued file (it connects as the application role too).
        imported = payment_files.payment_file_process(payment_file_id=imported.pk)
    assert created and imported.status == "imported", (imported.status, imported.error, imported.report)
    assert imported.imported_count == 1
    assert False in calls  # replica mode was used (and switched back on)
    # The SECURITY DEFINER functions of docs/security.md: the owner's, closed to PUBLIC, open to the application.
    with connection.cursor() as cursor:
        for signature in SECURITY_DEFINER_FUNCTIONS:
            cursor.execute(
                "SELECT p.prosecdef, has_function_privilege('public', p.oid, 'EXECUTE'),"
                " has_function_privilege(%s, p.oid, 'EXECUTE') FROM pg_proc p WHERE p.oid = %s::regprocedure",
                [APP_ROLE, signature],
            )
            assert cursor.fetchone() == (True, False, True), signature
