"""Yearly certification: reminded when due, suspended by the run after the grace period, resumed by a
certification with the months missed paid; a certification for a person without a running benefit refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from payroll import selectors, services
from payroll.models import Certification, CertificationReminder, PayrollArrears, PayrollLine, Suspension
from registry.tests.factories import PersonFactory

from .factories import D, award, city_officer, district_clerk, run_month

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_not_certified_after_reminder_is_suspended_then_certification_resumes_with_arrears(settings):
    settings.PAYROLL_CERTIFICATION_GRACE_DAYS = 60
    user = city_officer()
    a = award(start=D(2025, 7, 1))
    run_month(202606, user)  # due 2026-07-01: within 30 days of the pay date → reminded
    assert CertificationReminder.objects.filter(person=a.person, due_on=D(2026, 7, 1)).exists()
    clerk = district_clerk()
    assert [r.person_id for r in selectors.certification_due(user=clerk, on=D(2026, 6, 15))] == [a.person_id]
    run_month(202607, user)  # reminded 06-15 + 60 days > 07-15: still paid
    assert PayrollLine.objects.filter(award=a, period=202607).exists()
    run = run_month(202608, user)  # 06-15 + 60 days ≤ 08-15: suspended from August
    assert run.suspended == 1
    assert Suspension.objects.get(award=a).from_month == D(2026, 8, 1)
    assert not PayrollLine.objects.filter(award=a, period=202608).exists()

    services.certification_record(person=a.person, certified_on=D(2026, 9, 3), channel="counter", acting_user=clerk)

    assert Suspension.objects.get(award=a).resumed_month == D(2026, 9, 1)
    run_month(202609, user)
    line = PayrollLine.objects.get(award=a, period=202609)
    assert (line.regular_amount, line.arrears_amount) == (Decimal("3000.00"), Decimal("3000.00"))
    assert list(PayrollArrears.objects.filter(line=line).values_list("period", flat=True)) == [202608]


def test_certification_for_a_person_without_a_running_benefit_is_refused():
    clerk = district_clerk()
    person = PersonFactory()
    with pytest.raises(ValidationError) as exc:
        services.certification_record(person=person, certified_on=D(2026, 3, 1), channel="counter", acting_user=clerk)
    assert "没有正在领取" in " ".join(exc.value.messages)
    assert not Certification.objects.exists()


def test_certification_out_of_jurisdiction_is_not_found():
    a = award(district="331004")
    with pytest.raises(a.person.DoesNotExist):
        services.certification_record(
            person=a.person, certified_on=D(2026, 3, 1), channel="counter", acting_user=district_clerk("331003")
        )
