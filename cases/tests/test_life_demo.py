"""The lived-in demo (`make run` → load_demo → life_demo): a year of declarations, bill runs, payments with a few
arrears, the ledger, fund indicators and warnings, and counter cases in every state. It goes through the set-based
runs, so its query count does not grow with the population."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.management.commands.life_demo import MONTHS, _periods
from cases.models import CardBatch, Case, CaseState
from contributions.models import Bill, BillRun, BillRunStatus, Declaration, Payment, PaymentFile
from contributions.selectors import with_amounts
from funds.models import FundIndicator, LedgerTransaction

pytestmark = pytest.mark.django_db


def _load(persons: int, employers: int) -> tuple[int, str]:
    out = io.StringIO()
    call_command("load_demo", persons=persons, employers=employers, stdout=out)
    out = io.StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("life_demo", stdout=out)
    return len(queries), out.getvalue()


def test_the_demo_has_a_year_of_life_in_it(settings):
    settings.DEMO_DATA_HOOKS = []  # the consolidation's batches are its own test's business
    queries, said = _load(persons=150, employers=10)
    periods = _periods(timezone.localdate())
    assert len(periods) == MONTHS
    runs = BillRun.objects.filter(period__in=periods)
    assert runs.count() == MONTHS and set(runs.values_list("status", flat=True)) == {BillRunStatus.DONE}
    assert Declaration.objects.filter(period__in=periods).exists()
    assert PaymentFile.objects.count() == MONTHS and Payment.objects.exists()
    today = timezone.localdate()
    overdue = with_amounts(Bill.objects.filter(period__in=periods, due_date__lt=today)).filter(open_amount__gt=0)
    assert overdue.exists()  # arrears, late fees running
    assert LedgerTransaction.objects.exists() and FundIndicator.objects.filter(on=today).exists()
    states = set(Case.objects.values_list("state", flat=True))
    assert states >= {
        CaseState.SUBMITTED,
        CaseState.REVIEW,
        CaseState.APPROVAL,
        CaseState.SUSPENDED,
        CaseState.COMPLETED,
        CaseState.REJECTED,
        CaseState.WITHDRAWN,
    }, said
    assert CardBatch.objects.exists()
    call_command("life_demo", stdout=io.StringIO())  # a second run changes nothing
    assert BillRun.objects.count() == MONTHS
    # Set-based: the queries depend on the months and the few demo cases, not on the population.
    assert queries < 6000, queries
