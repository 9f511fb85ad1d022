"""The data migration fills BillSettlement for bills issued before its triggers, and going back drops it."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from contributions.models import Bill, BillSettlement, Payment, PaymentAllocation
from contributions.tests.factories import issued_bill
from registry.tests.factories import EmployerFactory, township_of

BEFORE = ("contributions", "0022_contribution_history_drop_insurance_rows")


def _migrate(target: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _pay_in_full_by_hand(bill: Bill) -> None:
    """Allocations as the services write them, but with no settlement trigger yet (before the migration)."""
    payment = Payment.objects.create(
        agency_reference=f"MIG-{bill.pk}",
        payer_type="employer",
        employer=bill.employer,
        office=bill.office,
        amount=bill.total,
        paid_on=datetime.date(2025, 2, 1),
    )
    for total in bill.totals.all():
        PaymentAllocation.objects.create(
            payment=payment, bill=bill, insurance_type=total.insurance_type, amount=total.amount
        )


@pytest.mark.migrations
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_fill_migration_marks_paid_bills_settled_and_others_open():
    try:
        _migrate([BEFORE])
        employer = EmployerFactory(office=township_of("331003"))
        paid, unpaid = issued_bill(employer, 202501), issued_bill(employer, 202502)
        _pay_in_full_by_hand(paid)
        with connection.cursor() as cur:
            cur.execute("SELECT to_regclass('contributions_billsettlement')")
            assert cur.fetchone()[0] is None

        _migrate(_latest())
        settled = BillSettlement.objects.get(bill=paid)
        assert (settled.paid, settled.total) == (paid.total, paid.total) and settled.settled_at is not None
        still_open = BillSettlement.objects.get(bill=unpaid)
        assert (still_open.paid, still_open.settled_at) == (Decimal("0.00"), None)

        _migrate([BEFORE])
        with connection.cursor() as cur:
            cur.execute("SELECT to_regclass('contributions_billsettlement')")
            assert cur.fetchone()[0] is None
    finally:
        _migrate(_latest())
