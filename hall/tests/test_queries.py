"""Lists of the hall read in a fixed number of queries, whatever their length (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.tests.factories import item
from contributions.tests.factories import employ, huangyan_employer, issued_bill
from hall.services import applications
from hall.tests.factories import employer_account, hall_client, person_account

pytestmark = pytest.mark.django_db


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_a_persons_applications_in_a_fixed_number_of_queries():
    account = person_account()
    client = hall_client(account)
    applications.application_submit(account=account, item=item("KA-001"), form_data={}, files={})
    _count(client, reverse("hall:applications"))
    one = _count(client, reverse("hall:applications"))
    for _i in range(4):
        applications.application_submit(account=account, item=item("KA-001"), form_data={}, files={})
    assert _count(client, reverse("hall:applications")) == one


def test_an_employers_staff_and_bills_in_a_fixed_number_of_queries():
    employer = huangyan_employer()
    client = hall_client(employer_account(employer))
    employ(employer)
    issued_bill(employer, 202601)
    _count(client, reverse("hall:bills"))  # the hall's channel user and the parameter cache are made once
    staff, bills = _count(client, reverse("hall:staff")), _count(client, reverse("hall:bills"))
    for period in (202602, 202603, 202604, 202605):
        employ(employer)
        issued_bill(employer, period)
    assert _count(client, reverse("hall:staff")) == staff
    assert _count(client, reverse("hall:bills")) == bills
