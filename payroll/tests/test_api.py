"""The payroll's API: payments read by person, certifications and deaths from other systems, bad input refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payroll.models import Certification, Recovery, Suspension
from registry.tests.factories import PersonFactory, township_of

from .factories import D, award, city_officer, district_clerk, pay_all, run_month

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_payments_of_a_person(client):
    user = city_officer()
    a = award(start=D(2026, 2, 1))
    run_month(202603, user)
    client.force_login(district_clerk())
    body = client.get("/api/v1/benefit-payments/", {"person": str(a.person.uid)}).json()
    (line,) = body["results"]
    assert (line["period"], line["amount"], line["arrears"]) == (
        202603,
        "6000.00",
        [{"period": 202602, "amount": "3000.00"}],
    )


def test_certification_through_the_api_and_refusal_without_benefit(client):
    a = award()
    client.force_login(city_officer())
    ok = client.post(
        "/api/v1/benefit-certifications/",
        {"id_number": a.person.id_number, "certified_on": "2026-11-01", "channel": "system"},
        content_type="application/json",
    )
    assert ok.status_code == 201, ok.content
    other = PersonFactory(residence_office=township_of("331003"))
    refused = client.post(
        "/api/v1/benefit-certifications/",
        {"id_number": other.id_number, "certified_on": "2026-11-01", "channel": "system"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert "没有正在领取" in refused.json()["message"] + str(refused.json()["errors"])
    assert Certification.objects.count() == 1


def test_death_registered_through_the_api_stops_payment_and_records_the_overpayment(client):
    user = city_officer()
    a = award(start=D(2026, 3, 1))
    for period in (202603, 202604):
        pay_all(run_month(period, user), user)
    client.force_login(user)
    response = client.post(
        "/api/v1/benefit-deaths/",
        {"id_number": a.person.id_number, "died_on": "2026-03-10"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["recovery_amount"] == "3000.00"
    assert Suspension.objects.get(award=a).source == "system"
    assert Recovery.objects.get(award=a).amount == Decimal("3000.00")


def test_unknown_person_is_not_found(client):
    client.force_login(city_officer())
    response = client.post(
        "/api/v1/benefit-deaths/",
        {"id_number": "331003198001010011", "died_on": "2026-03-10"},
        content_type="application/json",
    )
    assert response.status_code == 404
