"""API keys of external systems: jurisdiction of the account, rotation, revocation, expiry, audit."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from registry import roles, selectors
from registry.models import ApiKey, Person
from registry.services import api_key_issue, api_key_revoke, system_account_create
from registry.tests.factories import PersonFactory, UserFactory, make_id_number, office, township_of
from registry.tests.helpers import assert_error

pytestmark = pytest.mark.django_db

PERSONS = "/api/v1/persons/"


def keyed(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Api-Key {raw}"}


@pytest.fixture
def huangyan_system(city_admin):
    return system_account_create(
        acting_user=city_admin,
        code="hy-district",
        name="黄岩区社保系统",
        office=office("331003"),
        operations=["person:read", "person:write"],
    )


@pytest.fixture
def huangyan_key(huangyan_system, city_admin):
    _key, raw = api_key_issue(account=huangyan_system, acting_user=city_admin, label="first")
    return raw


@pytest.fixture
def api():
    # CSRF enforced as in production: a key-authenticated call must not need a CSRF token.
    return Client(enforce_csrf_checks=True)


def test_a_key_acts_with_the_accounts_district_jurisdiction(api, huangyan_system, huangyan_key):
    mine = PersonFactory(residence_office=township_of("331003"))
    theirs = PersonFactory(residence_office=township_of("331004"))
    response = api.get(PERSONS, **keyed(huangyan_key))
    assert response.status_code == 200, response.content
    assert [r["uid"] for r in response.json()["results"]] == [str(mine.uid)]
    assert api.get(f"{PERSONS}{mine.uid}/", **keyed(huangyan_key)).status_code == 200
    assert_error(api.get(f"{PERSONS}{theirs.uid}/", **keyed(huangyan_key)), 404, code="not_found")
    search = api.post(
        f"{PERSONS}search/", {"id_number": theirs.id_number}, content_type="application/json", **keyed(huangyan_key)
    )
    assert_error(search, 404)


def test_a_key_writes_in_its_district_only_and_is_recorded(api, huangyan_system, huangyan_key):
    data = {
        "id_number": make_id_number(area="331003", birth="19750505"),
        "name": "陈一",
        "household_type": "urban",
        "residence_office": "331003005",
    }
    response = api.post(PERSONS, data, content_type="application/json", **keyed(huangyan_key))
    assert response.status_code == 201, response.content
    person = Person.objects.get(uid=response.json()["uid"])
    record = person.history.get()
    assert record.history_user == huangyan_system.user
    assert record.history_office == office("331003")

    refused = api.post(
        PERSONS,
        {**data, "id_number": make_id_number(area="331004"), "residence_office": "331004001"},
        content_type="application/json",
        **keyed(huangyan_key),
    )
    body = assert_error(refused, 400, code="validation_error")
    assert "不在您的辖区内" in body["errors"]["residence_office"][0]
    assert Person.objects.count() == 1


def test_patch_through_a_key_is_audited_with_old_and_new_values(api, huangyan_system, huangyan_key):
    person = PersonFactory(residence_office=township_of("331003"), phone="0576-1")
    response = api.patch(
        f"{PERSONS}{person.uid}/", {"phone": "0576-2"}, content_type="application/json", **keyed(huangyan_key)
    )
    assert response.status_code == 200, response.content
    latest = person.history.order_by("-history_id").first()
    assert latest.history_type == "~"
    assert latest.history_user == huangyan_system.user
    assert latest.history_office == huangyan_system.office
    entry = selectors.object_history(person)[0]
    assert entry.user == huangyan_system.user.username
    assert entry.office == huangyan_system.office.name
    assert [(c.field, c.old, c.new) for c in entry.changes] == [("phone", "0576-1", "0576-2")]


def test_two_keys_work_during_rotation_and_a_revoked_one_is_401(api, city_admin, huangyan_system, huangyan_key):
    _new_key, new_raw = api_key_issue(account=huangyan_system, acting_user=city_admin, label="second")
    assert api.get(PERSONS, **keyed(huangyan_key)).status_code == 200
    assert api.get(PERSONS, **keyed(new_raw)).status_code == 200
    old_key = ApiKey.objects.get(prefix=huangyan_key.split(".")[0])
    api_key_revoke(key=old_key, acting_user=city_admin)
    response = api.get(PERSONS, **keyed(huangyan_key))
    body = assert_error(response, 401, code="not_authenticated")
    assert "已吊销" in body["message"]
    assert response["WWW-Authenticate"] == "Api-Key"
    assert api.get(PERSONS, **keyed(new_raw)).status_code == 200


def test_last_use_of_a_key_is_recorded(api, huangyan_key):
    key = ApiKey.objects.get(prefix=huangyan_key.split(".")[0])
    assert key.last_used_at is None
    api.get(PERSONS, **keyed(huangyan_key))
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [
        "Api-Key 0123456789ab.not-the-secret",
        "Api-Key nodot",
        "Api-Key ",
        "Api-Key .",
        "Api-Key ../../etc/passwd",
        "Api-Key \u00e9\u00e9\u00e9.xyz",
    ],
)
def test_unknown_or_malformed_keys_are_401(api, huangyan_key, header):
    response = api.get(PERSONS, HTTP_AUTHORIZATION=header)
    assert_error(response, 401, code="not_authenticated")


def test_the_right_prefix_with_a_wrong_secret_is_401(api, huangyan_key):
    prefix = huangyan_key.split(".")[0]
    assert_error(api.get(PERSONS, **keyed(f"{prefix}.wrong-secret")), 401)


def test_an_expired_key_is_401(api, city_admin, huangyan_system):
    _key, raw = api_key_issue(
        account=huangyan_system, acting_user=city_admin, expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert_error(api.get(PERSONS, **keyed(raw)), 401)
    _key, raw = api_key_issue(
        account=huangyan_system, acting_user=city_admin, expires_at=timezone.now() + datetime.timedelta(days=1)
    )
    assert api.get(PERSONS, **keyed(raw)).status_code == 200


def test_a_disabled_account_or_service_user_is_401(api, huangyan_system, huangyan_key):
    huangyan_system.is_active = False
    huangyan_system.save()
    assert_error(api.get(PERSONS, **keyed(huangyan_key)), 401)
    huangyan_system.is_active = True
    huangyan_system.save()
    huangyan_system.user.is_active = False
    huangyan_system.user.save()
    assert_error(api.get(PERSONS, **keyed(huangyan_key)), 401)


def test_no_credentials_is_401_in_the_error_format(api):
    response = api.get(PERSONS)
    assert_error(response, 401, code="not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"
    # Another scheme is not ours: it is ignored, and without a session the call is unauthenticated.
    assert_error(api.get(PERSONS, HTTP_AUTHORIZATION="Bearer abc"), 401)


def test_a_system_of_the_city_sees_all_districts(api, city_admin):
    account = system_account_create(
        acting_user=city_admin,
        code="province",
        name="省级系统",
        office=office("331000"),
        role_names=[roles.SYSTEM],
        operations=["*:read"],
    )
    _key, raw = api_key_issue(account=account, acting_user=city_admin)
    PersonFactory(residence_office=township_of("331003"))
    PersonFactory(residence_office=township_of("331004"))
    assert len(api.get(PERSONS, **keyed(raw)).json()["results"]) == 2


def test_a_district_clerk_may_not_create_a_system_account_for_another_district(huangyan_clerk):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        system_account_create(acting_user=huangyan_clerk, code="lq", name="路桥", office=office("331004"))


def test_session_calls_still_need_the_csrf_token(api, huangyan_clerk):
    api.force_login(huangyan_clerk)
    assert api.get(PERSONS).status_code == 200
    data = {
        "id_number": make_id_number(),
        "name": "王五",
        "household_type": "urban",
        "residence_office": "331003",
    }
    response = api.post(PERSONS, data, content_type="application/json")
    body = assert_error(response, 403, code="permission_denied")
    assert "CSRF" in body["message"]
    assert Person.objects.count() == 0


def test_a_roleless_staff_member_is_403(api):
    user = UserFactory(office=office("331003"), roles=[])
    api.force_login(user)
    assert_error(api.get(PERSONS), 403, code="permission_denied")
