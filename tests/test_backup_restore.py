"""Backups (issue 14): a logical backup of a populated database restored into a new database with the same row
counts and ledger totals (ops/db_backup.sh), and a point-in-time recovery rehearsed on a throwaway cluster made by
initdb on its own port and folder (ops/pitr_drill.sh). `make test-slow` runs them."""

from __future__ import annotations

import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from contributions.models import Payment, PaymentAllocation
from contributions.tests.factories import huangyan_employer, huangyan_parameters_2025, issued_bill, pay
from funds import services as funds_services
from funds.models import LedgerEntry
from registry import roles
from registry.tests.factories import UserFactory, office
from tests.fault_tools import child_database_url, free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.faults, pytest.mark.postgres]


def _ops(*args: str) -> str:
    result = subprocess.run(  # noqa: S603 — the project's own script, fixed arguments
        [str(ROOT / "ops" / args[0]), *args[1:]], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_backup_restores_into_a_new_database_with_the_same_rows_and_ledger(tmp_path, _restore_migration_data):
    huangyan_parameters_2025()
    reviewer = UserFactory(username="bk_reviewer", office=office("331003"), roles=[roles.REVIEWER])
    for n in range(3):
        employer = huangyan_employer()
        for period in (202501, 202502):
            issued_bill(employer, period)
        pay(employer, "2000.00", timezone.localdate(), reviewer, reference=f"BK-{n}")  # 205.00 of it to credit
    posted = funds_services.contribution_income_post(up_to=timezone.now())
    assert posted.transactions > 0
    source = child_database_url()
    target = source.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"] + "_restored"
    dump = tmp_path / "tzsi.dump"
    try:
        assert "backup:" in _ops("db_backup.sh", "backup", source, str(dump))
        assert (tmp_path / "tzsi.dump.sha256").exists()
        assert "restored:" in _ops("db_backup.sh", "restore", str(dump), target)
        verified = _ops("db_backup.sh", "verify", source, target)
        assert "row counts and ledger totals equal" in verified
        figures = dict(line.rsplit(" ", 1) for line in _ops("db_backup.sh", "figures", target).splitlines())
        assert figures["ledger balance"] == "0.00"  # double entry: every transaction sums to zero
        assert Decimal(figures["payments"]) == sum(p.amount for p in Payment.objects.all()) == Decimal("6000.00")
        assert Decimal(figures["allocations"]) == sum(a.amount for a in PaymentAllocation.objects.all())
        assert int(figures["rows funds_ledgerentry"]) == LedgerEntry.objects.count() > 0
        # Never into an existing database.
        again = subprocess.run(  # noqa: S603
            [str(ROOT / "ops" / "db_backup.sh"), "restore", str(dump), target], capture_output=True, text=True
        )
        assert again.returncode != 0 and "restore into a new database only" in again.stderr
    finally:
        with connection.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{target.rsplit("/", 1)[1]}" WITH (FORCE)')


def test_point_in_time_recovery_on_a_throwaway_cluster():
    folder = Path(tempfile.mkdtemp(prefix="tzsi-pitr-"))  # the script gives it to the postgres user
    try:
        out = _ops("pitr_drill.sh", str(folder), str(free_port()))
        assert "PITR OK" in out and "recovered: 140 1060.00" in out
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)  # noqa: S603, S607
