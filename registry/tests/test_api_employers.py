"""API v1 /employers/: jurisdiction, credit code validation, filters, errors, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import roles, selectors
from registry.models import Employer
from registry.tests.factories import EmployerFactory, UserFactory, make_credit_code, office, township_of
from registry.tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/employers/"


def payload(**overrides) -> dict:
    data = {
        "credit_code": make_credit_code(area="331003"),
        "name": "台州黄岩模具有限公司",
        "employer_type": "enterprise",
        "office": township_of("331003").code,
        "industry": "制造业",
        "risk_class": 3,
    }
    data.update(overrides)
    return data


def with_wrong_check_character(code: str) -> str:
    return code[:-1] + ("1" if code[-1] != "1" else "2")


@pytest.fixture
def huangyan_colleague(db):
    return UserFactory(username="hy_colleague", office=office("331003"))


@pytest.fixture
def huangyan_employer(db):
    return EmployerFactory(office=township_of("331003"), name="黄岩精工有限公司")


@pytest.fixture
def luqiao_employer(db):
    return EmployerFactory(office=township_of("331004"), name="路桥精工有限公司")


def test_create_normalises_the_credit_code_and_records_history(huangyan_clerk):
    data = payload()
    response = client_for(huangyan_clerk).post(
        URL, {**data, "credit_code": f" {data['credit_code'].lower()} "}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["credit_code"] == data["credit_code"]
    assert body["office"] == data["office"]
    assert body["risk_class"] == 3
    assert body["status"] == "active"
    employer = Employer.objects.get(uid=body["uid"])
    assert employer.name_pinyin.startswith("taizhouhuangyan")
    record = employer.history.get()
    assert (record.history_user, record.history_office) == (huangyan_clerk, huangyan_clerk.office)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"credit_code": with_wrong_check_character(make_credit_code(n=11))}, "credit_code", "校验位错误"),
        ({"credit_code": "91331003MA2AB123"}, "credit_code", "应为 18 位"),
        ({"credit_code": "91331003MA2AB1234I"}, "credit_code", "除 I、O、Z、S、V 以外"),
        ({"credit_code": ""}, "credit_code", ""),
        ({"credit_code": 913310030000000011}, "credit_code", ""),
        ({"office": "331099"}, "office", "未知的经办机构代码“331099”"),
        ({"office": "331004"}, "office", "不在您的辖区内"),
        ({"office": "331002001"}, "office", "不在您的辖区内"),
        ({"employer_type": "charity"}, "employer_type", "charity"),
        ({"risk_class": 9}, "risk_class", ""),
        ({"risk_class": 0}, "risk_class", ""),
        ({"risk_class": "high"}, "risk_class", ""),
        ({"risk_class": 2.5}, "risk_class", ""),
        ({"status": "bankrupt"}, "status", ""),
        ({"name": ""}, "name", ""),
        ({"name": ["x"]}, "name", ""),
        ({"name_pinyin": "x"}, "name_pinyin", "未知字段"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(huangyan_clerk, overrides, field, reason):
    response = client_for(huangyan_clerk).post(URL, payload(**overrides), format="json")
    body = assert_error(response, 400, field, reason)
    assert body["code"] == "validation_error"
    assert Employer.objects.count() == 0


def test_blank_name_after_trimming_is_refused(huangyan_clerk):
    response = client_for(huangyan_clerk).post(URL, payload(name="   "), format="json")
    assert_error(response, 400, "name")
    assert Employer.objects.count() == 0


def test_duplicate_credit_code_is_refused(huangyan_clerk, luqiao_employer):
    response = client_for(huangyan_clerk).post(URL, payload(credit_code=luqiao_employer.credit_code), format="json")
    assert_error(response, 400, "credit_code", "已登记")
    assert "路桥" not in response.content.decode()
    assert Employer.objects.count() == 1


def test_non_json_body_is_a_parse_error(huangyan_clerk):
    response = client_for(huangyan_clerk).post(URL, data='{"name": ', content_type="application/json")
    assert assert_error(response, 400)["code"] == "parse_error"
    assert Employer.objects.count() == 0


def test_list_and_retrieve_stay_in_jurisdiction(huangyan_clerk, huangyan_employer, luqiao_employer):
    client = client_for(huangyan_clerk)
    listed = client.get(URL)
    assert [r["uid"] for r in listed.json()["results"]] == [str(huangyan_employer.uid)]
    assert luqiao_employer.credit_code not in listed.content.decode()
    assert client.get(f"{URL}{huangyan_employer.uid}/").json()["credit_code"] == huangyan_employer.credit_code
    assert_error(client.get(f"{URL}{luqiao_employer.uid}/"), 404)


def test_filters(huangyan_clerk, huangyan_employer, luqiao_employer):
    township_two = EmployerFactory(office=office("331003002"), name="黄岩塑料厂", status="closed")
    client = client_for(huangyan_clerk)

    def uids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return {r["uid"] for r in response.json()["results"]}

    assert uids(office="331003") == {str(huangyan_employer.uid), str(township_two.uid)}
    assert uids(office="331003002") == {str(township_two.uid)}
    assert uids(office="331004") == set()
    assert uids(name="塑料") == {str(township_two.uid)}
    assert uids(credit_code=huangyan_employer.credit_code) == {str(huangyan_employer.uid)}
    assert uids(credit_code=luqiao_employer.credit_code) == set()
    assert uids(status="closed") == {str(township_two.uid)}
    assert_error(client.get(URL, {"status": "bankrupt"}), 400, "status")


def test_patch_by_owner_and_colleague_but_not_other_district(huangyan_clerk, huangyan_colleague, luqiao_clerk):
    created = client_for(huangyan_clerk).post(URL, payload(), format="json").json()
    url = f"{URL}{created['uid']}/"
    assert client_for(huangyan_clerk).patch(url, {"risk_class": 5}, format="json").status_code == 200
    colleague = client_for(huangyan_colleague).patch(url, {"status": "suspended"}, format="json")
    assert colleague.status_code == 200, colleague.content
    assert_error(client_for(luqiao_clerk).patch(url, {"status": "closed"}, format="json"), 404)
    employer = Employer.objects.get(uid=created["uid"])
    assert (employer.risk_class, employer.status) == (5, "suspended")
    entry = selectors.object_history(employer)[0]
    assert entry.office == huangyan_colleague.office.name
    assert [(c.field, c.old, c.new) for c in entry.changes] == [("status", "正常参保", "暂停缴费")]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"credit_code": make_credit_code(n=99)}, "credit_code", "未知字段"),
        ({"office": "331004001"}, "office", "不在您的辖区内"),
        ({"risk_class": 10}, "risk_class", ""),
        ({"employer_type": 1}, "employer_type", ""),
        ({"name": ""}, "name", ""),
    ],
)
def test_bad_patch_changes_nothing(huangyan_clerk, huangyan_employer, change, field, reason):
    before = Employer.objects.values().get(pk=huangyan_employer.pk)
    response = client_for(huangyan_clerk).patch(f"{URL}{huangyan_employer.uid}/", change, format="json")
    assert_error(response, 400, field, reason)
    assert Employer.objects.values().get(pk=huangyan_employer.pk) == before


def test_read_only_roles_may_not_write(huangyan_employer):
    fund_officer = UserFactory(office=office("331003"), roles=[roles.FUND_OFFICER])
    client = client_for(fund_officer)
    assert client.get(URL).status_code == 200
    assert_error(client.post(URL, payload(), format="json"), 403)
    assert_error(client.patch(f"{URL}{huangyan_employer.uid}/", {"risk_class": 4}, format="json"), 403)


def test_list_does_a_constant_number_of_queries(huangyan_clerk):
    def count() -> tuple[int, int]:
        client = client_for(type(huangyan_clerk).objects.get(pk=huangyan_clerk.pk))
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL)
        assert response.status_code == 200
        return len(ctx.captured_queries), len(response.json()["results"])

    EmployerFactory.create_batch(3)
    few, rows = count()
    assert rows == 3
    EmployerFactory.create_batch(27)
    many, rows = count()
    assert rows == 30
    assert many == few
