"""A month the payroll paid, or holds in a run, cannot be recorded by hand too (cases.benefit_payment_record):
refused with the message next to the period, nothing written (the trigger of payroll migration 0003)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from cases import services as case_services
from cases.models import BenefitPayment
from funds.models import LedgerTransaction
from payroll.models import PayrollLine

from .factories import D, award, city_officer, pay_all, run_month

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _record(a, period, user):
    return case_services.benefit_payment_record(award=a, period=period, paid_on=D(2026, 5, 20), acting_user=user)


@pytest.mark.parametrize("period", [202603, 202601])  # the line's month; a month it paid as arrears
def test_month_paid_by_the_payroll_is_refused_by_hand(period):
    user = city_officer()
    a = award(start=D(2026, 1, 1))
    pay_all(run_month(202603, user), user)
    with pytest.raises(ValidationError) as exc:
        _record(a, period, user)
    assert "已由待遇发放批次发放" in exc.value.message_dict["period"][0]
    assert not BenefitPayment.objects.exists()
    assert not LedgerTransaction.objects.filter(source_type="cases.benefitpayment").exists()


def test_month_held_in_a_run_is_refused_by_hand_and_a_month_without_a_line_is_recorded():
    user = city_officer()
    a = award(start=D(2026, 3, 1), account=False)
    run_month(202603, user)
    assert PayrollLine.objects.get(award=a, period=202603).status == "held"
    with pytest.raises(ValidationError):
        _record(a, 202603, user)
    assert not BenefitPayment.objects.exists()
    payment = _record(a, 202604, user)  # no run for April yet: the clerk may pay it by hand
    assert payment.period == 202604
    # … and the April run then does not pay it again (the payroll counts the by-hand payments)
    run_month(202604, user)
    assert not PayrollLine.objects.filter(award=a, period=202604).exists()


def test_the_refusal_in_english():
    user = city_officer()
    a = award(start=D(2026, 3, 1))
    run_month(202603, user)
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        _record(a, 202603, user)
    assert "already paid" in exc.value.message_dict["period"][0]


def test_the_case_page_shows_the_refusal(client):
    user = city_officer()
    a = award(start=D(2026, 3, 1))
    run_month(202603, user)
    user.user_permissions.add(Permission.objects.get(codename="add_benefitpayment"))
    user.user_permissions.add(Permission.objects.get(codename="view_case", content_type__app_label="cases"))
    client.force_login(user)
    response = client.post(
        reverse("cases_payment_record", args=[a.case.uid]),
        {"period": "202603", "paid_on": "2026-03-20", "form_token": "tok-pay-1"},
        follow=True,
    )
    assert "已由待遇发放批次发放" in response.content.decode()
    assert not BenefitPayment.objects.exists()
