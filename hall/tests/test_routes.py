"""Walk every hall route (found from the URL patterns: a new page is covered automatically) as a person and as an
employer's administrator, with the ids of another person's and another employer's records: 0 answers with data.
Pages without an id must not show the other's records either."""

from __future__ import annotations

import pytest
from django.urls import get_resolver, reverse

from cases.models import ServiceItem
from cases.tests.factories import upload
from contributions.tests.factories import employ, huangyan_employer, issued_bill
from hall.services import applications
from hall.tests.factories import employer_account, hall_client, person_account
from registry.tests.factories import EnrollmentFactory, PersonFactory, township_of
from tests.test_jurisdiction_routes import _sample, _walk

pytestmark = pytest.mark.django_db

HALL_ROUTES = [(route, p) for route, p in _walk(get_resolver().url_patterns) if route.startswith("hall/")]


@pytest.fixture
def others():
    """Another person (his online case, his certificate) and another employer (its case, its agent, its bill)."""
    other = PersonFactory(residence_office=township_of("331003"), name="欧阳秘")
    EnrollmentFactory(person=other)
    other_account = person_account(other)
    case = applications.application_submit(
        account=other_account, item=ServiceItem.objects.get(code="CJ-GR-002"), form_data={"start_date": "2026-01-01"},
        files={"hukou": upload()},
    )  # fmt: skip
    certificate = applications.certificate_self_issue(
        account=other_account, item=ServiceItem.objects.get(code="ZM-001")
    )
    firm = huangyan_employer(name="别家秘密有限公司")
    firm_admin = employer_account(firm)
    worker = employ(firm, PersonFactory(name="司马隐"))
    firm_case = applications.application_submit(
        account=firm_admin, item=ServiceItem.objects.get(code="BG-DW-001"), form_data={}, files={}, person=worker
    )
    agent = employer_account(firm, kind="employer_agent", rights=["bills"])
    bill = issued_bill(firm, 202610)
    uids = [case.uid, certificate.uid, firm_case.uid, agent.uid, bill.uid, other_account.uid]
    secrets = [other.name, firm.name, worker.name, case.number, firm_case.number, certificate.code, other.id_number]
    return uids, secrets


def _clients():
    me = person_account(PersonFactory(name="本人甲"))
    EnrollmentFactory(person=me.person)
    boss = employer_account(huangyan_employer(name="本单位"))
    return [("person", hall_client(me)), ("employer", hall_client(boss))]


def test_every_hall_route_with_another_persons_or_employers_ids_gives_404(others):
    uids, _secrets = others
    checked = 0
    for who, client in _clients():
        for _route, pattern in HALL_ROUTES:
            groups = pattern.pattern.regex.groupindex
            if "uid" not in groups:
                continue
            for uid in uids:
                extra = {k: _sample(pattern, k) for k in groups if k != "uid"}
                if "action" in groups:
                    extra["action"] = "withdraw"
                url = reverse(pattern.qualified_name, kwargs={"uid": uid, **extra})
                statuses = {client.get(url).status_code, client.post(url, {"reason": "x", "score": "1"}).status_code}
                assert statuses <= {404, 405} and 404 in statuses, f"{who} {url} gave {statuses}"
                checked += 1
    assert checked >= 40


def test_pages_without_ids_show_none_of_the_others_records(others):
    _uids, secrets = others
    checked = 0
    for who, client in _clients():
        for route, pattern in HALL_ROUTES:
            if pattern.pattern.regex.groupindex or not pattern.qualified_name:
                continue
            response = client.get(reverse(pattern.qualified_name))
            body = response.content.decode("utf-8", "replace") if response.status_code == 200 else ""
            for secret in secrets:
                assert secret not in body, f"{who} {route} shows {secret}"
            checked += 1
    assert checked >= 20
