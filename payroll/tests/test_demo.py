"""The payroll's demo month (a load_demo hook) runs on a small population and leaves every page something to show."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db.models import Sum

from funds.models import Account, LedgerEntry
from payroll.models import BankFile, PayrollArrears, PayrollRun, Recovery
from registry.tests.factories import PersonFactory, make_id_number, township_of

from .factories import city_officer

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_payroll_demo():
    city_officer()
    for n, district in enumerate(["331002", "331003", "331004"] * 4):
        PersonFactory(
            residence_office=township_of(district), id_number=make_id_number(area=district, birth="19580101", seq=n)
        )
    call_command("payroll_demo")
    assert PayrollRun.objects.filter(status="done").count() == 3
    assert PayrollArrears.objects.filter(period=202610).exists()  # the adjustment paid in arrears
    assert BankFile.objects.filter(failed_count=1).exists()
    recovery = Recovery.objects.get()
    assert recovery.repayments.count() == 1 and recovery.status == "open"  # the heirs returned a part so far
    posted = LedgerEntry.objects.filter(
        account=Account.BENEFIT_EXPENDITURE, transaction__source_type="payroll.payrollposting"
    )
    assert posted.aggregate(s=Sum("amount"))["s"] == BankFile.objects.aggregate(s=Sum("paid_amount"))["s"]
    call_command("payroll_demo")  # a second time: nothing
    assert PayrollRun.objects.count() == 3
