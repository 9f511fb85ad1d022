import re

import pytest

from policies.models import ParameterValue, PolicyDocument

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, clerk):
    client.force_login(clerk)
    return client


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_values_filter_by_code_date_and_district(api):
    all_versions = results(api.get("/api/v1/parameters/", {"code": "rate.emp_pension.employer"}))
    on_2021 = results(api.get("/api/v1/parameters/", {"code": "rate.emp_pension.employer", "on": "2021-06-01"}))
    luqiao = results(
        api.get("/api/v1/parameters/", {"code": "res_medical.individual", "on": "2017-12-01", "district": "331004"})
    )
    only_district = results(api.get("/api/v1/parameters/", {"code": "res_medical.individual", "scope": "331004"}))

    assert len(all_versions) == 2
    assert [(r["value"], r["valid_from"], r["document"]) for r in on_2021] == [
        ("0.14", "2017-01-01", "台人社发〔2017〕演示1号")
    ]
    assert sorted((r["district"] or "", r["value"]) for r in luqiao) == [("", "180"), ("331004", "160")]
    assert [r["district"] for r in only_district] == ["331004"]


def test_a_value_is_read_by_its_opaque_id(api):
    value = ParameterValue.objects.get(parameter__code="rate.work_injury.benchmark")
    body = api.get(f"/api/v1/parameters/{value.uid}/").json()
    assert body["value"]["8"] == "0.019" and body["code"] == "rate.work_injury.benchmark"
    assert api.get("/api/v1/parameters/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_resolve_returns_the_value_in_force_for_a_district(api):
    before = api.get(
        "/api/v1/parameters/resolve/",
        {"code": "res_medical.individual,late_fee.daily_rate", "on": "2017-12-31", "district": "331004001"},
    ).json()
    after = api.get(
        "/api/v1/parameters/resolve/", {"code": "res_medical.individual", "on": "2018-01-01", "district": "331004"}
    ).json()
    everything = api.get("/api/v1/parameters/resolve/", {"on": "2024-06-01"}).json()

    assert before["district"] == "331004"
    assert [(r["code"], r["value"], r["scope_district_code"]) for r in before["results"]] == [
        ("res_medical.individual", "160", "331004"),
        ("late_fee.daily_rate", "0.0005", None),
    ]
    assert (after["results"][0]["value"], after["results"][0]["scope_district_code"]) == ("180", None)
    assert len(everything["results"]) >= 40 and all("value_id" in r for r in everything["results"])


@pytest.mark.parametrize(
    ("params", "field", "expected"),
    [
        ({"code": "no.such.code"}, "code", "未知的参数代码"),
        ({"code": "res_medical.waiting_months", "on": "2020-01-01"}, "code", "没有生效的市区统一取值"),
        ({"on": "2024-13-45"}, "on", ""),
        ({"district": "999999"}, "district", "未知的区代码"),
    ],
)
def test_resolve_bad_input_is_a_400_naming_the_field(api, params, field, expected):
    response = api.get("/api/v1/parameters/resolve/", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert expected in body["errors"][field][0]
    assert body["errors_en"][field][0] and not re.search(r"[\u4e00-\u9fff]", body["errors_en"][field][0]), body


def test_bad_filters_are_a_400(api):
    assert api.get("/api/v1/parameters/", {"on": "yesterday"}).status_code == 400
    response = api.get("/api/v1/parameters/", {"district": "123"})
    assert response.status_code == 400 and "未知的区代码" in response.json()["errors"]["district"][0]


def test_the_catalogue_is_read_by_code(api):
    body = api.get("/api/v1/parameter-codes/rate.work_injury.benchmark/").json()
    assert (body["kind"], body["shape"]) == ("table", "by_risk_class")
    fund_codes = {p["code"] for p in results(api.get("/api/v1/parameter-codes/", {"category": "fund"}))}
    assert {"fund.warning.months.emp_pension", "sharing.subsidy_rule"} <= fund_codes
    assert all(code.startswith(("fund.", "sharing.")) for code in fund_codes)


def test_documents_are_searchable_and_read_by_opaque_id(api):
    found = results(api.get("/api/v1/policy-documents/", {"q": "127号"}))
    assert [d["number"] for d in found] == ["台政办发〔2016〕127号"]
    assert "text" not in found[0]
    detail = api.get(f"/api/v1/policy-documents/{found[0]['uid']}/").json()
    assert "政策统一化" in detail["text"]
    district = results(api.get("/api/v1/policy-documents/", {"level": "district", "district": "331003"}))
    assert {d["number"] for d in district} == {"黄政办发〔2014〕演示1号", "黄人社发〔2016〕演示2号"}
    assert results(api.get("/api/v1/policy-decisions/")) == []


def test_the_api_is_read_only(api):
    document = PolicyDocument.objects.first()
    assert api.post("/api/v1/parameters/", {}).status_code in (403, 405)
    assert api.patch(f"/api/v1/policy-documents/{document.uid}/", {}).status_code in (403, 405)
    assert api.delete(f"/api/v1/policy-documents/{document.uid}/").status_code in (403, 405)


def test_anonymous_and_roleless_callers_are_refused(client, nobody):
    assert client.get("/api/v1/parameters/").status_code in (401, 403)
    client.force_login(nobody)
    assert client.get("/api/v1/parameters/").status_code == 403


def test_the_schema_documents_the_endpoints(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/parameters/resolve/" in paths and "/api/v1/policy-documents/{uid}/" in paths
