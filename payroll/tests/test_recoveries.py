"""Collecting overpaid benefits: money received back against a recovery is recorded with its receipt, posted to the
fund ledger as a credit of benefit expenditure, closes the recovery once all is back; refusals write nothing; the
record is immutable; the page shows errors next to their fields and hides other districts' recoveries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from funds.models import Account, LedgerEntry
from payroll import services
from payroll.models import Recovery, RecoveryRepayment
from payroll.services.recoveries import SOURCE_TYPE
from registry import roles
from registry.models import Office
from registry.tests.factories import UserFactory

from .factories import D, award, city_officer, district_clerk, pay_all, run_month

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _recovery(district: str = "331003") -> Recovery:
    """A pension paid for February and March after a death on 20 January, reported late by the district's clerk."""
    officer = city_officer()
    a = award(start=D(2026, 1, 1), district=district)
    for period in (202601, 202602, 202603):
        pay_all(run_month(period, officer), officer)
    services.person_death_record(person=a.person, died_on=D(2026, 1, 20), acting_user=district_clerk(district))
    return Recovery.objects.get(award=a)


def _record(recovery, user, amount, number, **extra):
    return services.recovery_repayment_record(
        recovery=recovery,
        amount=amount,
        received_on=extra.pop("received_on", timezone.localdate()),
        way=extra.pop("way", "transfer"),
        document_number=number,
        acting_user=user,
        **extra,
    )


def _credited(recovery) -> Decimal:
    """Benefit expenditure credited by the recovery's repayments (negative: the expenditure went down)."""
    ids = RecoveryRepayment.objects.filter(recovery=recovery).values("pk")
    entries = LedgerEntry.objects.filter(
        transaction__source_type=SOURCE_TYPE, transaction__source_id__in=ids, account=Account.BENEFIT_EXPENDITURE
    )
    return sum((e.amount for e in entries), Decimal(0))


def test_repayments_are_posted_and_close_the_recovery_when_all_is_back():
    recovery = _recovery()
    clerk = district_clerk()
    assert recovery.amount == Decimal("6000.00") and recovery.status == "open"
    first = _record(recovery, clerk, "2000.00", "HD-001")
    assert _credited(recovery) == Decimal("-2000.00")
    recovery.refresh_from_db()
    assert recovery.status == "open" and services.recovery_repaid(recovery) == Decimal("2000.00")
    # The same receipt again (a double submit) is the same record, posted once.
    assert _record(recovery, clerk, "2000.00", "HD-001").pk == first.pk
    assert _credited(recovery) == Decimal("-2000.00")
    _record(recovery, clerk, "4000.00", "HD-002", way="counter")
    recovery.refresh_from_db()
    assert recovery.status == "recovered" and _credited(recovery) == Decimal("-6000.00")
    # The closing repayment submitted twice is still the same record, not a refusal.
    assert _record(recovery, clerk, "4000.00", "HD-002", way="counter").document_number == "HD-002"
    assert RecoveryRepayment.objects.filter(recovery=recovery).count() == 2
    with pytest.raises(ValidationError) as closed:
        _record(recovery, clerk, "1.00", "HD-003")
    assert "已全部追回" in str(closed.value)


@pytest.mark.parametrize(
    ("amount", "number", "extra", "field"),
    [
        ("6000.01", "HD-9", {}, "amount"),  # more than is owed
        ("0", "HD-9", {}, "amount"),
        ("12.345", "HD-9", {}, "amount"),  # below the fen
        ("abc", "HD-9", {}, "amount"),
        ("100.00", "", {}, "document_number"),
        ("100.00", "HD-9", {"way": "cheque"}, "way"),
        ("100.00", "HD-9", {"received_on": D(2099, 1, 1)}, "received_on"),
        ("100.00", "HD-9", {"received_on": D(2020, 1, 1)}, "received_on"),  # before the recovery existed
    ],
)
def test_bad_repayments_are_refused_on_their_field_and_write_nothing(amount, number, extra, field):
    recovery = _recovery()
    with pytest.raises(ValidationError) as refused:
        _record(recovery, district_clerk(), amount, number, **extra)
    assert field in refused.value.message_dict
    assert not RecoveryRepayment.objects.exists()
    assert _credited(recovery) == 0


def test_the_same_receipt_with_another_amount_is_refused():
    recovery = _recovery()
    clerk = district_clerk()
    _record(recovery, clerk, "100.00", "HD-1")
    with pytest.raises(ValidationError) as refused:
        _record(recovery, clerk, "200.00", "HD-1")
    assert "document_number" in refused.value.message_dict
    assert RecoveryRepayment.objects.count() == 1


def test_other_districts_recovery_is_not_found_and_a_reader_may_not_record():
    recovery = _recovery("331003")
    with pytest.raises(Recovery.DoesNotExist):
        _record(recovery, district_clerk("331004"), "100.00", "HD-1")
    auditor = UserFactory(username="paudit", office=Office.objects.get(code="331000"), roles=[roles.AUDITOR])
    with pytest.raises(Exception) as refused:
        _record(recovery, auditor, "100.00", "HD-1")
    assert "无权" in str(refused.value)
    assert not RecoveryRepayment.objects.exists()


def test_a_recorded_repayment_cannot_be_changed_or_deleted():
    recovery = _recovery()
    repayment = _record(recovery, district_clerk(), "100.00", "HD-1")
    for sql in ("UPDATE {t} SET amount = 1 WHERE id = %s", "DELETE FROM {t} WHERE id = %s"):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql.format(t=RecoveryRepayment._meta.db_table), [repayment.pk])
    repayment.refresh_from_db()
    assert repayment.amount == Decimal("100.00")


def test_the_page_records_a_repayment_with_errors_next_to_fields(client):
    recovery = _recovery()
    client.force_login(district_clerk())
    url = reverse("payroll_recovery_detail", args=[recovery.pk])
    listing = client.get(reverse("payroll_suspensions")).content.decode()
    assert url in listing  # the recoveries list links to the page
    page = client.get(url)
    assert page.status_code == 200 and 'data-testid="owed">6000.00' in page.content.decode()
    bad = client.post(url, {"amount": "7000", "received_on": "2026-12-01", "way": "transfer", "document_number": ""})
    body = bad.content.decode()
    assert bad.status_code == 400
    assert 'data-testid="errors-document_number"' in body and 'data-testid="errors-amount"' in body
    assert not RecoveryRepayment.objects.exists()
    today = timezone.localdate().isoformat()
    good = client.post(url, {"amount": "6000.00", "received_on": today, "way": "counter", "document_number": "SJ-7"})
    assert good.status_code == 302
    page = client.get(url).content.decode()
    assert 'data-testid="owed">0.00' in page and "SJ-7" in page and "已追回" in page


def test_the_page_of_another_districts_recovery_is_not_found(client):
    recovery = _recovery("331003")
    client.force_login(district_clerk("331004"))
    url = reverse("payroll_recovery_detail", args=[recovery.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"amount": "1", "received_on": "2026-12-01", "way": "counter"}).status_code == 404
    assert not RecoveryRepayment.objects.exists()
