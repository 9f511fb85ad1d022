"""The API core of the data exchange: operations per system, the call log, rate limits, and the one error
format in Chinese and English for every failure under /api/."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.translation import trans_real
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from registry import roles
from registry.api.calllog import api_routes
from registry.api.errors import message_en
from registry.api.permissions import SystemOperationPermission, api_viewsets
from registry.api.throttle import SystemAccountRateThrottle, rate_counters_reset
from registry.models import ApiCallLog, ApiKey, Office, Person, SystemAccount
from registry.services import api_key_issue, api_key_revoke, system_account_create
from registry.tasks import api_call_log_purge
from registry.tests.factories import PersonFactory, UserFactory, make_id_number, office, township_of
from registry.tests.helpers import assert_error

pytestmark = pytest.mark.django_db

PERSONS = "/api/v1/persons/"
EMPLOYERS = "/api/v1/employers/"


def keyed(raw: str, **extra) -> dict:
    return {"HTTP_AUTHORIZATION": f"Api-Key {raw}", **extra}


@pytest.fixture
def admin_user(db):
    return UserFactory(office=Office.objects.get(level=1), roles=[roles.CITY_ADMIN], is_staff=True)


@pytest.fixture
def make_system(admin_user):
    def make(operations, *, code="hy-sys", office_code="331003", rate=None):
        account = system_account_create(
            acting_user=admin_user,
            code=code,
            name=f"{code} 系统",
            office=office(office_code),
            operations=operations,
            rate_limit_per_minute=rate,
        )
        rate_counters_reset(account)  # ids repeat across tests on SQLite; the cache outlives a test
        _key, raw = api_key_issue(account=account, acting_user=admin_user)
        return account, raw

    return make


def person_payload(**overrides) -> dict:
    data = {
        "id_number": make_id_number(area="331003", birth="19750505"),
        "name": "陈一",
        "household_type": "urban",
        "residence_office": "331003",
    }
    data.update(overrides)
    return data


# --- operations ---------------------------------------------------------------------------------------


def test_a_system_calls_only_the_operations_it_was_granted(make_system):
    _account, raw = make_system(["person:read"])
    client = Client()
    PersonFactory(residence_office=township_of("331003"))
    assert client.get(PERSONS, **keyed(raw)).status_code == 200

    refused = client.post(PERSONS, person_payload(), content_type="application/json", **keyed(raw))
    body = assert_error(refused, 403, code="operation_not_allowed", bilingual=True)
    assert "person:write" in body["message"] and "person:write" in body["message_en"]
    assert Person.objects.count() == 1

    body = assert_error(client.get(EMPLOYERS, **keyed(raw)), 403, code="operation_not_allowed", bilingual=True)
    assert "employer:read" in body["message"]


def test_a_wildcard_read_covers_every_route_but_no_write(make_system):
    _account, raw = make_system(["*:read"])
    client = Client()
    for url in (PERSONS, EMPLOYERS, "/api/v1/enrollments/", "/api/v1/offices/"):
        assert client.get(url, **keyed(raw)).status_code == 200, url
    assert_error(
        client.post(PERSONS, person_payload(), content_type="application/json", **keyed(raw)), 403, bilingual=True
    )


def test_a_write_grant_allows_the_write(make_system):
    _account, raw = make_system(["person:write"])
    response = Client().post(PERSONS, person_payload(), content_type="application/json", **keyed(raw))
    assert response.status_code == 201, response.content


def test_searching_by_post_is_a_read(make_system):
    _account, raw = make_system(["person:read"])
    person = PersonFactory(residence_office=township_of("331003"))
    response = Client().post(
        f"{PERSONS}search/", {"id_number": person.id_number}, content_type="application/json", **keyed(raw)
    )
    assert response.status_code == 200, response.content
    # Revealing a whole ID number is not a read.
    reveal = Client().post(f"{PERSONS}{person.uid}/reveal-id-number/", **keyed(raw))
    assert_error(reveal, 403, code="operation_not_allowed", bilingual=True)


def test_staff_sessions_are_governed_by_their_roles_only(huangyan_clerk):
    client = Client()
    client.force_login(huangyan_clerk)
    assert client.get(PERSONS).status_code == 200
    assert client.get(EMPLOYERS).status_code == 200


def _api_actions():
    def walk(patterns):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns)
            elif isinstance(entry, URLPattern) and getattr(entry.callback, "actions", None):
                yield entry.callback

    for callback in walk(get_resolver().url_patterns):
        for method, action in callback.actions.items():
            yield callback.cls, callback.initkwargs, method, action


def test_every_api_action_checks_the_systems_operations_and_rate_limit():
    """A viewset that overrides get_permissions (or throttles) must keep the operation check."""
    factory = APIRequestFactory()
    checked = 0
    for cls, initkwargs, method, action in _api_actions():
        view = cls(**initkwargs)
        view.action, view.args, view.kwargs, view.format_kwarg = action, (), {}, None
        view.request = Request(factory.generic(method.upper(), "/api/v1/x/"))
        assert any(isinstance(p, SystemOperationPermission) for p in view.get_permissions()), (
            f"{cls.__name__}.{action} does not check SystemOperationPermission"
        )
        assert any(isinstance(t, SystemAccountRateThrottle) for t in view.get_throttles()), cls.__name__
        checked += 1
    assert checked >= 30


def test_a_view_outside_the_router_is_closed_to_systems(make_system):
    _account, raw = make_system(["*:read", "*:write"])
    # The API root has no basename: no operation can be granted for it.
    body = assert_error(Client().get("/api/v1/", **keyed(raw)), 403, code="operation_not_allowed", bilingual=True)
    assert "/api/v1/" in body["message"]


def test_admin_offers_every_router_basename_as_a_readable_choice(admin_user, make_system):
    account, _raw = make_system(["person:read", "gone-route:read"])
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/admin/registry/systemaccount/{account.pk}/change/")
    assert page.status_code == 200
    choices = dict(page.context["adminform"].form.fields["operations"].choices)
    for basename in api_viewsets():
        assert f"{basename}:read" in choices and f"{basename}:write" in choices
    assert "*:read" in choices
    assert choices["person:read"] == "参保人员 · 读取（person:read）"
    assert "已无此接口" in choices["gone-route:read"]  # a grant whose route is gone stays visible
    assert page.context["adminform"].form["operations"].value() == ["gone-route:read", "person:read"]


def test_admin_changes_the_operations_and_the_history_keeps_them(admin_user, make_system):
    account, raw = make_system(["person:read"])
    client = Client()
    client.force_login(admin_user)
    url = f"/admin/registry/systemaccount/{account.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(
        {
            "operations": ["employer:read", "person:read"],
            "rate_limit_per_minute": "120",
            "keys-TOTAL_FORMS": "1",
            "keys-INITIAL_FORMS": "1",
            "keys-MIN_NUM_FORMS": "0",
            "keys-MAX_NUM_FORMS": "1000",
            "keys-0-id": str(ApiKey.objects.get(account=account).pk),
            "keys-0-account": str(account.pk),
            "keys-0-label": "",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    account.refresh_from_db()
    assert account.operations == ["employer:read", "person:read"]
    assert account.rate_limit_per_minute == 120
    assert account.history.order_by("-history_id").first().operations == ["employer:read", "person:read"]
    assert Client().get(EMPLOYERS, **keyed(raw)).status_code == 200


def test_operations_must_be_well_formed(admin_user):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        system_account_create(
            acting_user=admin_user, code="bad", name="坏", office=office("331003"), operations=["payments"]
        )
    assert "operations" in caught.value.message_dict


def test_load_demo_gives_the_demo_systems_their_operations(db):
    call_command("load_demo", persons=0, employers=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    ops = {a.code: set(a.operations) for a in SystemAccount.objects.all()}
    assert {"bill:read", "payment:read", "payment:write", "employer:read", "person:read", "change:read"} <= ops["tax"]
    assert "person:write" not in ops["tax"]
    assert {"person:write", "case:write", "case:read", "bill:read"} <= ops["huangyan"]
    assert "payment:write" not in ops["huangyan"]
    assert ops["province"] == {"*:read"}
    # Accounts made before operations existed get them on the next run; granted ones are left alone.
    SystemAccount.objects.filter(code="tax").update(operations=[])
    SystemAccount.objects.filter(code="province").update(operations=["person:read"])
    call_command("load_demo", persons=0, employers=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert "payment:write" in SystemAccount.objects.get(code="tax").operations
    assert SystemAccount.objects.get(code="province").operations == ["person:read"]


# --- error format ---------------------------------------------------------------------------------------


def test_an_unknown_api_url_is_a_json_404_not_a_page(make_system, settings):
    _account, raw = make_system(["*:read"])
    for debug in (False, True):
        settings.DEBUG = debug  # the debug 404 page is HTML too
        body = assert_error(Client().get("/api/v1/no-such-thing/", **keyed(raw)), 404, code="not_found", bilingual=True)
        assert body["message"] == "接口地址不存在。"
        assert body["message_en"] == "No API endpoint at this address."
    assert_error(Client().get("/api/v9/persons/"), 404, bilingual=True)


def test_malformed_json_is_a_400_in_both_languages(make_system):
    _account, raw = make_system(["person:write"])
    response = Client().post(PERSONS, data='{"name": ', content_type="application/json", **keyed(raw))
    body = assert_error(response, 400, code="parse_error", bilingual=True)
    assert body["message"].startswith("请求体不是合法的 JSON：")
    assert body["message_en"].startswith("The request body is not valid JSON: ")


def test_wrong_types_and_unknown_fields_name_the_field_in_both_languages(make_system):
    _account, raw = make_system(["employer:write"])
    data = {
        "credit_code": "91331003MA2XXXXXXX",
        "name": "台州测试公司",
        "employer_type": "enterprise",
        "office": "331003",
        "risk_class": "abc",
    }
    body = assert_error(
        Client().post(EMPLOYERS, data, content_type="application/json", **keyed(raw)), 400, bilingual=True
    )
    assert body["message_en"] == "The submitted data is invalid."
    assert body["errors"]["risk_class"] == ["请填写合法的整数值。"]
    assert body["errors_en"]["risk_class"] == ["A valid integer is required."]
    unknown = {**data, "risk_class": 2, "surprise": 1}
    body = assert_error(
        Client().post(EMPLOYERS, unknown, content_type="application/json", **keyed(raw)), 400, bilingual=True
    )
    assert body["errors"] == {"surprise": ["未知字段。"]}
    assert body["errors_en"] == {"surprise": ["Unknown field."]}


def test_a_validation_message_with_values_is_translated_with_its_values(make_system):
    _account, raw = make_system(["enrollment:write"])
    data = {"person": "00000000-0000-4000-8000-000000000001", "insurance_type": "res_medical", "start_date": "x"}
    body = assert_error(
        Client().post("/api/v1/enrollments/", data, content_type="application/json", **keyed(raw)), 400, bilingual=True
    )
    assert body["errors_en"]["person"] == [
        "The record with ID “00000000-0000-4000-8000-000000000001” does not exist or is not within your jurisdiction."
    ]
    assert body["errors_en"]["start_date"][0].startswith("Date has wrong format.")


def test_an_oversized_body_is_a_413(make_system, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    _account, raw = make_system(["person:write"])
    data = json.dumps(person_payload(address="台" * 2000))
    body = assert_error(
        Client().post(PERSONS, data, content_type="application/json", **keyed(raw)), 413, bilingual=True
    )
    assert body["code"] == "payload_too_large"
    assert body["message_en"] == "The request body exceeds the limit of 1000 bytes."
    assert Person.objects.count() == 0


def test_405_and_415_are_in_the_error_format(make_system):
    _account, raw = make_system(["person:read", "person:write"])
    person = PersonFactory(residence_office=township_of("331003"))
    body = assert_error(
        Client().delete(f"{PERSONS}{person.uid}/", **keyed(raw)), 405, code="method_not_allowed", bilingual=True
    )
    assert body["message_en"] == 'Method "DELETE" not allowed.'
    body = assert_error(
        Client().post(PERSONS, data="id_number=1", content_type="text/plain", **keyed(raw)),
        415,
        code="unsupported_media_type",
        bilingual=True,
    )
    assert body["message_en"] == 'Unsupported media type "text/plain" in request.'


def test_unknown_or_revoked_keys_are_401_in_both_languages(make_system, admin_user):
    _account, raw = make_system(["person:read"])
    key = ApiKey.objects.get(prefix=raw.split(".")[0])
    api_key_revoke(key=key, acting_user=admin_user)
    for header in (raw, "nope.nope"):
        body = assert_error(Client().get(PERSONS, **keyed(header)), 401, code="not_authenticated", bilingual=True)
        assert body["message_en"] == "The API key is invalid, revoked or expired."
    body = assert_error(Client().get(PERSONS), 401, bilingual=True)
    assert body["message_en"] == "Authentication credentials were not provided."


def test_out_of_jurisdiction_is_404_in_both_languages(make_system):
    _account, raw = make_system(["person:read"])
    theirs = PersonFactory(residence_office=township_of("331004"))
    body = assert_error(Client().get(f"{PERSONS}{theirs.uid}/", **keyed(raw)), 404, code="not_found", bilingual=True)
    assert body["message_en"] == "The record does not exist or is not within your jurisdiction."


def test_a_server_error_under_api_is_json_with_the_request_id(huangyan_clerk, settings):
    settings.ROOT_URLCONF = "tests.api_error_urls"
    client = Client(raise_request_exception=False)
    client.force_login(huangyan_clerk)
    for debug in (False, True):
        settings.DEBUG = debug  # the debug page is HTML too
        response = client.get("/api/v1/test-failure/", HTTP_X_REQUEST_ID="trace-500")
        body = assert_error(response, 500, code="server_error", bilingual=True)
        assert body["request_id"] == "trace-500"
        assert "请求编号" in body["message"] and "request ID" in body["message_en"]
    body = assert_error(client.post("/api/test-django-failure/"), 500, code="server_error", bilingual=True)
    # An HTML error page written by a plain view under /api/ is rewritten too, keeping its status.
    assert_error(client.get("/api/test-django-failure/"), 503, bilingual=True)
    # Outside /api/ Django's own error handling is untouched.
    assert Client().get("/no-such-page/").status_code == 404


def test_every_registry_message_that_can_reach_an_api_error_has_english():
    """The catalogue (locale/en, compiled) knows every gettext message of the modules whose messages end up in
    API error bodies; a new message there without its English fails here."""
    modules = [
        "api/errors",
        "api/auth",
        "api/permissions",
        "api/idempotency",
        "api/serializers",
        "identifiers",
        "services",
        "endpoints",
        "api/pagination",
        "models",
    ]
    catalogue = trans_real.translation("en")._catalog
    pattern = re.compile(r'_\(\s*"((?:[^"\\]|\\.)+)"')
    missing = []
    for name in modules:
        source = (Path(django_settings.BASE_DIR) / "registry" / f"{name}.py").read_text()
        for msgid in pattern.findall(source):
            msgid = msgid.encode().decode("unicode_escape").encode("latin-1").decode() if "\\" in msgid else msgid
            if not catalogue.get(msgid):
                missing.append(f"{name}: {msgid}")
    assert not missing, "no English in locale/en for:\n" + "\n".join(missing)
    assert (Path(django_settings.BASE_DIR) / "locale/en/LC_MESSAGES/django.mo").exists()
    assert message_en("该公民身份号码已登记。") == "This citizen ID number is already registered."


# --- call log -------------------------------------------------------------------------------------------


def test_every_call_is_logged_with_its_route_pattern_not_its_path(make_system):
    account, raw = make_system(["person:read"])
    person = PersonFactory(residence_office=township_of("331003"))
    response = Client().get(f"{PERSONS}{person.uid}/", REMOTE_ADDR="10.1.2.3", **keyed(raw))
    assert response.status_code == 200
    entry = ApiCallLog.objects.get()
    assert entry.system_account == account
    assert entry.user == account.user
    assert entry.office == account.office
    assert (entry.method, entry.route, entry.status) == ("GET", "/api/v1/persons/{uid}/", 200)
    assert str(person.uid) not in entry.route
    assert entry.request_id == response["X-Request-ID"]
    assert entry.client_ip == "10.1.2.3"
    assert 0 <= entry.latency_ms < 60_000
    assert timezone.now() - entry.at < datetime.timedelta(minutes=1)


def test_refusals_and_unknown_urls_are_logged_too(make_system):
    account, raw = make_system(["person:read"])
    Client().get(EMPLOYERS, **keyed(raw))
    Client().get("/api/v1/nowhere/", HTTP_AUTHORIZATION="Api-Key bad.key")
    Client().get(PERSONS)
    rows = list(ApiCallLog.objects.order_by("id").values_list("system_account_id", "route", "status"))
    assert rows == [(account.pk, "/api/v1/employers/", 403), (None, "", 404), (None, "/api/v1/persons/", 401)]


def test_staff_calls_are_logged_with_the_user_and_office(huangyan_clerk):
    client = Client()
    client.force_login(huangyan_clerk)
    client.get(PERSONS)
    entry = ApiCallLog.objects.get()
    assert (entry.system_account, entry.user, entry.office) == (None, huangyan_clerk, huangyan_clerk.office)


def test_a_well_formed_incoming_request_id_is_kept_and_a_bad_one_replaced(make_system):
    _account, raw = make_system(["person:read"])
    kept = Client().get(PERSONS, HTTP_X_REQUEST_ID="agency-42.a_b", **keyed(raw))
    assert kept["X-Request-ID"] == "agency-42.a_b"
    replaced = Client().get("/api/v1/nowhere/", HTTP_X_REQUEST_ID="bad id; drop table", **keyed(raw))
    assert re.fullmatch(r"[0-9a-f]{32}", replaced["X-Request-ID"])
    assert replaced.json()["request_id"] == replaced["X-Request-ID"]
    assert list(ApiCallLog.objects.order_by("id").values_list("request_id", flat=True)) == [
        "agency-42.a_b",
        replaced["X-Request-ID"],
    ]


def test_writing_the_log_is_one_insert_and_no_select(make_system):
    _account, raw = make_system(["person:read"])
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        client.get(PERSONS, **keyed(raw))
    touching = [q["sql"] for q in queries.captured_queries if "registry_apicalllog" in q["sql"]]
    assert len(touching) == 1 and touching[0].lstrip().upper().startswith("INSERT"), touching


def test_the_call_log_admin_lists_filters_and_is_read_only(admin_user, make_system):
    account, raw = make_system(["person:read"])
    Client().get(PERSONS, **keyed(raw))
    Client().get(EMPLOYERS, **keyed(raw))
    client = Client()
    client.force_login(admin_user)
    url = "/admin/registry/apicalllog/"
    page = client.get(url)
    assert page.status_code == 200
    assert list(page.context["cl"].result_list.values_list("status", flat=True)) == [403, 200]
    filtered = client.get(
        url, {"system": account.pk, "status_class": "2", "method": "GET", "route": "/api/v1/persons/"}
    )
    assert [e.route for e in filtered.context["cl"].result_list] == ["/api/v1/persons/"]
    today = timezone.localdate()
    dated = client.get(url, {"at__year": today.year, "at__month": today.month, "at__day": today.day})
    assert len(dated.context["cl"].result_list) == 2
    assert "/api/v1/persons/{uid}/" in dict(page.context["cl"].filter_specs[3].lookup_choices)
    entry = ApiCallLog.objects.first()
    assert client.get(f"{url}{entry.pk}/change/").status_code == 200  # viewable
    assert client.post(f"{url}{entry.pk}/delete/").status_code == 403
    assert client.get(f"{url}add/").status_code == 403


def test_a_district_admin_sees_only_calls_of_systems_in_the_district(admin_user, make_system):
    _hy, hy_raw = make_system(["person:read"], code="hy")
    _lq, lq_raw = make_system(["person:read"], code="lq", office_code="331004")
    Client().get(PERSONS, **keyed(hy_raw))
    Client().get(PERSONS, **keyed(lq_raw))
    auditor = UserFactory(office=office("331003"), roles=[roles.AUDITOR], is_staff=True)
    client = Client()
    client.force_login(auditor)
    page = client.get("/admin/registry/apicalllog/")
    assert [e.system_account.code for e in page.context["cl"].result_list] == ["hy"]


def test_the_purge_deletes_old_rows_in_one_statement(make_system, settings):
    settings.API_CALL_LOG_RETENTION_DAYS = 30
    _account, raw = make_system(["person:read"])
    for _ in range(3):
        Client().get(PERSONS, **keyed(raw))
    old_ids = list(ApiCallLog.objects.values_list("id", flat=True)[:2])
    ApiCallLog.objects.filter(id__in=old_ids).update(at=timezone.now() - datetime.timedelta(days=31))
    with CaptureQueriesContext(connection) as queries:
        assert api_call_log_purge.delay().get() == 2
    statements = [q["sql"] for q in queries.captured_queries if "registry_apicalllog" in q["sql"]]
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("DELETE"), statements
    assert ApiCallLog.objects.count() == 1


def test_the_purges_are_scheduled_nightly_after_migrate():
    from django_celery_beat.models import PeriodicTask

    for task, hour in (("registry.api_call_log_purge", "3"), ("registry.idempotency_record_purge", "3")):
        row = PeriodicTask.objects.get(task=task)
        assert row.enabled and row.crontab.hour == hour and str(row.crontab.timezone) == "Asia/Shanghai"


# --- rate limits ----------------------------------------------------------------------------------------


def test_a_system_beyond_its_rate_limit_gets_429_with_retry_after(make_system, huangyan_clerk):
    _account, raw = make_system(["person:read"], rate=3)
    _other, other_raw = make_system(["person:read"], code="other")
    client = Client()
    assert [client.get(PERSONS, **keyed(raw)).status_code for _ in range(3)] == [200, 200, 200]
    throttled = client.get(PERSONS, **keyed(raw))
    body = assert_error(throttled, 429, code="throttled", bilingual=True)
    wait = int(throttled["Retry-After"])
    assert 1 <= wait <= 60
    assert body["message"] == f"调用过于频繁，请 {wait} 秒后重试。"
    assert body["message_en"] == f"Too many calls; try again in {wait} seconds."
    # Another system, and staff, are not affected.
    assert client.get(PERSONS, **keyed(other_raw)).status_code == 200
    staff = Client()
    staff.force_login(huangyan_clerk)
    assert all(staff.get(PERSONS).status_code == 200 for _ in range(5))


def test_the_default_limit_comes_from_settings(make_system, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    _account, raw = make_system(["person:read"])
    statuses = [Client().get(PERSONS, **keyed(raw)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_the_previous_minute_still_counts_for_the_part_within_the_last_60_seconds(make_system):
    """The sliding window: calls of the previous minute weigh in while they are less than 60 s old."""
    import time

    from django.core.cache import cache

    account, raw = make_system(["person:read"], rate=10)
    if time.time() % 60 > 55:  # keep the call below inside the minute the counters were set for
        time.sleep(60 - time.time() % 60 + 0.1)
    window = int(time.time() // 60)
    cache.set(f"api-rate:{account.pk}:{window - 1}", 6000, timeout=120)
    response = Client().get(PERSONS, **keyed(raw))
    body = assert_error(response, 429, code="throttled", bilingual=True)
    assert 1 <= int(response["Retry-After"]) <= 60
    assert str(response["Retry-After"]) in body["message"]
    rate_counters_reset(account)
    assert Client().get(PERSONS, **keyed(raw)).status_code == 200


def test_every_write_route_refuses_unknown_fields(make_system):
    """Each POST route that takes a body names an unknown field instead of ignoring it (StrictSerializer)."""
    root = UserFactory(office=Office.objects.get(level=1), roles=[], is_superuser=True, is_staff=True)
    staff = Client()
    staff.force_login(root)
    _account, raw = make_system(["*:read", "*:write"], code="all-ops", office_code="331000")
    checked = []
    for route in api_routes():
        if "{" in route:
            continue  # detail routes: a record first, which is the route-walking jurisdiction test's business
        for client, extra in ((staff, {}), (Client(), keyed(raw))):  # some routes are for systems only
            response = client.post(route, {"zz_unknown_field": 1}, content_type="application/json", **extra)
            if response.status_code == 415:  # an upload route: multipart only
                response = client.post(route, {"zz_unknown_field": "1"}, **extra)
            if response.status_code != 403:
                break
        if response.status_code == 405:
            continue
        body = assert_error(response, 400, bilingual=True)
        assert "zz_unknown_field" in body["errors"], f"POST {route} ignores an unknown field: {body}"
        checked.append(route)
    assert len(checked) >= 6, checked
