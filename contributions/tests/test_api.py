"""API v1 of contributions: declarations, payments (idempotent), bills, arrears, bill runs, records."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contributions.models import (
    Bill,
    BillRun,
    BillRunStatus,
    Declaration,
    DeclarationLine,
    Payment,
    PaymentAllocation,
)
from contributions.tests.factories import (
    bill_employer,
    declare,
    employ,
    huangyan_employer,
    huangyan_parameters_2025,
    pay,
)
from registry import roles
from registry.tests.factories import PersonFactory, UserFactory, office, township_of
from registry.tests.helpers import assert_error, client_for

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


@pytest.fixture
def params(db):
    huangyan_parameters_2025()


@pytest.fixture
def clerk(params):
    return UserFactory(username="hy_api_clerk", office=office("331003"))


@pytest.fixture
def reviewer(params):
    return UserFactory(username="hy_api_reviewer", office=office("331003"), roles=[roles.REVIEWER])


@pytest.fixture
def agency(params):
    """The collecting agency's service user (city level, SYSTEM role)."""
    return UserFactory(username="tax_bureau", office=office("331000"), roles=[roles.SYSTEM], is_system=True)


@pytest.fixture
def staff(params):
    employer = huangyan_employer()
    return employer, [employ(employer) for _ in range(3)]


# --- declarations ----------------------------------------------------------------------------


def declaration_body(employer, lines, period="202503"):
    return {
        "employer": str(employer.uid),
        "period": period,
        "lines": [
            {"person": str(p.uid), "base": b, **({"confirm_below_floor": True} if confirm else {})}
            for p, b, *confirm in lines
        ],
    }


def test_declaration_create_then_correct(clerk, staff):
    employer, (a, b, c) = staff
    client = client_for(clerk)
    # A base below the floor is refused unless its line confirms it (issue 14: a truncated 8000 reads 80).
    refused = client.post(
        "/api/v1/declarations/",
        declaration_body(employer, [(a, "5000.00"), (b, 2000), (c, "25000")]),
        format="json",
    )
    assert_error(refused, 400, "lines", "第 2 行")
    assert "低于本期下限 3600" in refused.json()["errors"]["lines"][0]
    assert not Declaration.objects.exists()
    response = client.post(
        "/api/v1/declarations/",
        declaration_body(employer, [(a, "5000.00"), (b, 2000, True), (c, "25000")]),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["line_count"] == 3 and body["clamped_count"] == 2
    lines = {line["person"]: line for line in body["lines"]}
    assert lines[str(a.uid)]["base"] == "5000.00" and lines[str(a.uid)]["clamp_label"] == "未调整"
    assert lines[str(b.uid)]["declared_base"] == "2000.00"
    assert lines[str(b.uid)]["base"] == "3600.00"
    assert lines[str(b.uid)]["clamp"] == "floor"
    assert lines[str(b.uid)]["clamp_label"] == "低于下限，按下限"
    assert lines[str(c.uid)]["base"] == "18000.00" and lines[str(c.uid)]["clamp_label"] == "高于上限，按上限"
    assert a.id_number not in response.content.decode()
    # The same month again corrects (200), per person.
    again = client.post("/api/v1/declarations/", declaration_body(employer, [(a, "5500")]), format="json")
    assert again.status_code == 200, again.content
    assert again.json()["uid"] == body["uid"]
    assert DeclarationLine.objects.get(person=a).base == Y("5500.00")
    assert DeclarationLine.objects.count() == 3
    detail = client.get(f"/api/v1/declarations/{body['uid']}/")
    assert detail.status_code == 200 and len(detail.json()["lines"]) == 3
    listed = client.get("/api/v1/declarations/", {"period": 202503, "employer": str(employer.uid)})
    assert [d["uid"] for d in listed.json()["results"]] == [body["uid"]]
    assert "lines" not in listed.json()["results"][0]


@pytest.mark.parametrize(
    ("make_body", "field", "contains"),
    [
        (lambda e, p, s: declaration_body(e, [(p, "0")]), "lines", "第 1 行：缴费基数必须大于 0"),
        (lambda e, p, s: declaration_body(e, [(p, "-100")]), "lines", "必须大于 0"),
        (lambda e, p, s: declaration_body(e, [(p, "五千")]), "lines", "第 1 行：缴费基数“五千”不是数字"),
        (lambda e, p, s: declaration_body(e, [(p, "5000.123")]), "lines", "最多两位小数"),
        (lambda e, p, s: declaration_body(e, [(p, "5000"), (s, "5000")]), "lines", "第 2 行"),
        (lambda e, p, s: declaration_body(e, [(p, "5000")], period="209901"), "period", "尚未到来"),
        (lambda e, p, s: declaration_body(e, [(p, "5000")], period="2025-03"), "period", "YYYYMM"),
        (lambda e, p, s: declaration_body(e, [(p, "5000")], period="202513"), "period", "不是有效的年月"),
        (lambda e, p, s: declaration_body(e, []), "lines", "至少要有一行"),
        (lambda e, p, s: declaration_body(e, [(p, "1e30")]), "lines.0.base", "位数过多"),
        (lambda e, p, s: declaration_body(e, [(p, "10000000000000")]), "lines.0.base", "位数过多"),
        (lambda e, p, s: declaration_body(e, [(p, "NaN")]), "lines", "不是数字"),
        (lambda e, p, s: {**declaration_body(e, [(p, "5000")]), "employer": "0" * 8}, "employer", "编号格式无效"),
        (
            lambda e, p, s: {**declaration_body(e, [(p, "5000")]), "employer": "00000000-0000-4000-8000-000000000000"},
            "employer",
            "不存在或不在您的辖区内",
        ),
        (lambda e, p, s: {**declaration_body(e, [(p, "5000")]), "extra": 1}, "extra", "未知字段"),
        (lambda e, p, s: {**declaration_body(e, []), "lines": [{"person": "x", "base": "1"}]}, "lines.0.person", ""),
        (
            lambda e, p, s: {**declaration_body(e, []), "lines": [{"person": str(p.uid), "base": True}]},
            "lines.0.base",
            "",
        ),
        (lambda e, p, s: {**declaration_body(e, []), "lines": "all"}, "lines.non_field_errors", ""),
    ],
)
def test_bad_declarations_are_refused_naming_the_field_and_nothing_is_written(clerk, staff, make_body, field, contains):
    employer, (person, *_rest) = staff
    stranger = PersonFactory(residence_office=township_of("331003"))  # not enrolled with the employer
    response = client_for(clerk).post("/api/v1/declarations/", make_body(employer, person, stranger), format="json")
    assert_error(response, 400, field, contains)
    assert Declaration.objects.count() == 0
    assert DeclarationLine.objects.count() == 0


def test_declaring_a_person_not_enrolled_with_the_employer_names_the_line(clerk, staff):
    employer, (person, *_rest) = staff
    stranger = PersonFactory(residence_office=township_of("331003"), name="路人甲")
    luqiao = PersonFactory(residence_office=township_of("331004"))
    response = client_for(clerk).post(
        "/api/v1/declarations/",
        declaration_body(employer, [(person, "5000"), (stranger, "5000"), (luqiao, "5000")]),
        format="json",
    )
    body = assert_error(response, 400, "lines")
    assert body["errors"]["lines"][0].startswith("第 2 行：路人甲")
    assert "未在本单位参加职工保险" in body["errors"]["lines"][0]
    assert body["errors"]["lines"][1].startswith("第 3 行：参保人员不存在或不在您的辖区内")
    assert Declaration.objects.count() == 0


def test_declaration_for_another_districts_employer_is_refused(clerk, params):
    luqiao_employer = huangyan_employer(office=township_of("331004"))
    person = employ(luqiao_employer)
    response = client_for(clerk).post(
        "/api/v1/declarations/", declaration_body(luqiao_employer, [(person, "5000")]), format="json"
    )
    assert_error(response, 400, "employer", "不在您的辖区内")
    assert Declaration.objects.count() == 0


def test_declaration_after_billing_is_refused(reviewer, staff):
    employer, (person, *_rest) = staff
    declare(employer, 202503, {person: "4000"}, reviewer)
    bill_employer(employer, 202503, reviewer)
    response = client_for(reviewer).post(
        "/api/v1/declarations/", declaration_body(employer, [(person, "5000")]), format="json"
    )
    assert_error(response, 400, "period", "补缴或退费")


# --- payments --------------------------------------------------------------------------------


@pytest.fixture
def billed(reviewer, staff):
    employer, persons = staff
    declare(employer, 202503, {persons[0]: "5000"}, reviewer)
    return bill_employer(employer, 202503, reviewer)


def payment_body(bill, **overrides):
    body = {
        "agency_reference": "TAX-2025-0001",
        "employer": str(bill.employer.uid),
        "amount": "1000.00",
        "paid_on": "2025-04-10",
    }
    body.update(overrides)
    return body


def test_payment_is_recorded_once_per_agency_reference(agency, billed):
    client = client_for(agency)
    first = client.post("/api/v1/payments/", payment_body(billed), format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["amount"] == "1000.00"
    assert sum(Y(a["amount"]) for a in body["allocations"]) == Y("1000.00")
    assert {a["bill"] for a in body["allocations"]} == {str(billed.uid)}
    assert body["allocations"][0]["insurance_type"] == "emp_pension"
    again = client.post("/api/v1/payments/", payment_body(billed), format="json")
    assert again.status_code == 200, again.content
    assert again.json()["uid"] == body["uid"]
    assert Payment.objects.count() == 1
    assert PaymentAllocation.objects.count() == len(body["allocations"])
    # A number for the amount is the same amount.
    assert client.post("/api/v1/payments/", payment_body(billed, amount=1000), format="json").status_code == 200


def test_overpayment_goes_to_credit(agency, billed):
    response = client_for(agency).post(
        "/api/v1/payments/", payment_body(billed, amount=str(billed.total + 10)), format="json"
    )
    assert response.status_code == 201
    credit = [a for a in response.json()["allocations"] if a["bill"] is None]
    assert [Y(a["amount"]) for a in credit] == [Y("10.00")]


@pytest.mark.parametrize(
    ("overrides", "field", "contains"),
    [
        ({"amount": "2000.00"}, "agency_reference", "已登记为另一笔到账"),
        ({"employer": "00000000-0000-4000-8000-000000000000"}, "employer", "不存在或不在您的辖区内"),
        ({"amount": "-5.00", "agency_reference": "NEW-1"}, "amount", "必须大于 0"),
        ({"amount": "0", "agency_reference": "NEW-2"}, "amount", "必须大于 0"),
        ({"amount": "abc", "agency_reference": "NEW-3"}, "amount", "不是数字"),
        ({"amount": "1.001", "agency_reference": "NEW-4"}, "amount", "两位小数"),
        ({"amount": "1e30", "agency_reference": "NEW-10"}, "amount", "位数过多"),
        ({"amount": "Infinity", "agency_reference": "NEW-11"}, "amount", "必须大于 0"),
        ({"amount": None, "agency_reference": "NEW-5"}, "amount", ""),
        ({"paid_on": "2025-02-30", "agency_reference": "NEW-6"}, "paid_on", ""),
        ({"agency_reference": "   "}, "agency_reference", ""),
        ({"employer": None, "agency_reference": "NEW-7"}, "payer", "一个单位或一个个人"),
        ({"channel": "fax", "agency_reference": "NEW-8"}, "channel", ""),
    ],
)
def test_bad_payments_are_refused_and_nothing_is_written(agency, billed, overrides, field, contains):
    client = client_for(agency)
    assert client.post("/api/v1/payments/", payment_body(billed), format="json").status_code == 201
    before = (Payment.objects.count(), PaymentAllocation.objects.count())
    response = client.post("/api/v1/payments/", payment_body(billed, **overrides), format="json")
    assert_error(response, 400, field, contains)
    assert (Payment.objects.count(), PaymentAllocation.objects.count()) == before


def test_payment_for_both_an_employer_and_a_person_is_refused(agency, billed):
    person = billed.lines.first().person
    response = client_for(agency).post(
        "/api/v1/payments/", payment_body(billed, person=str(person.uid), agency_reference="NEW-9"), format="json"
    )
    assert_error(response, 400, "payer")
    assert Payment.objects.count() == 0


def test_payments_list_and_retrieve(reviewer, billed):
    payment = pay(billed, "100.00", D(2025, 4, 1), reviewer)
    client = client_for(reviewer)
    listed = client.get("/api/v1/payments/")
    assert [p["uid"] for p in listed.json()["results"]] == [str(payment.uid)]
    detail = client.get(f"/api/v1/payments/{payment.uid}/")
    assert detail.status_code == 200
    assert detail.json()["allocations"][0]["bill_period"] == 202503


# --- bills and arrears -----------------------------------------------------------------------


def test_bill_detail_has_totals_per_insurance_lines_allocations_and_late_fee(reviewer, billed):
    pay(billed, "1000.00", D(2025, 4, 20), reviewer)
    response = client_for(reviewer).get(f"/api/v1/bills/{billed.uid}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total"] == str(billed.total)
    assert body["paid_amount"] == "1000.00"
    assert Y(body["open_amount"]) == billed.total - Y("1000.00")
    totals = {t["insurance_type"]: t for t in body["totals"]}
    assert body["totals"][0]["insurance_type"] == "emp_pension"
    assert totals["emp_pension"]["paid"] == "1000.00"
    assert totals["emp_medical"]["paid"] == "0.00"
    assert sum(Y(t["amount"]) for t in body["totals"]) == billed.total
    assert len(body["lines"]) == 15
    assert {line["base_source"] for line in body["lines"]} == {"declared", "floor"}
    assert body["allocations"][0]["agency_reference"]
    assert body["late_fee"]["days"] > 0 and Y(body["late_fee"]["amount"]) > 0


def test_bill_list_filters(reviewer, billed, staff):
    client = client_for(reviewer)
    employer, persons = staff

    def uids(**params):
        response = client.get("/api/v1/bills/", params)
        assert response.status_code == 200, response.content
        return [b["uid"] for b in response.json()["results"]]

    assert uids() == [str(billed.uid)]
    assert uids(period=202503, kind="regular", employer=str(employer.uid)) == [str(billed.uid)]
    assert uids(period=202504) == []
    assert uids(person=str(persons[0].uid)) == []  # employees' months are on the employer's bill
    assert_error(client.get("/api/v1/bills/", {"kind": "gold"}), 400, "kind")
    assert_error(client.get("/api/v1/bills/", {"period": "abc"}), 400, "period")


def test_arrears_list(reviewer, billed):
    client = client_for(reviewer)
    assert client.get("/api/v1/arrears/", {"on": "2025-04-15"}).json()["results"] == []
    body = client.get("/api/v1/arrears/", {"on": "2025-05-01"}).json()
    [row] = body["results"]
    assert row["uid"] == str(billed.uid)
    assert row["overdue_days"] == 16
    expected = (billed.total * Y("0.0005") * 16).quantize(Y("0.01"))
    assert Y(row["late_fee"]) == expected
    assert_error(client.get("/api/v1/arrears/", {"on": "tomorrow"}), 400, "on")
    assert_error(client.get("/api/v1/arrears/", {"kind": "gold"}), 400, "kind")
    # An empty value is "not given", as for every list filter (documented as allowEmptyValue).
    assert client.get("/api/v1/arrears/", {"on": "", "kind": ""}).status_code == 200


# --- bill runs -------------------------------------------------------------------------------


def test_bill_run_start_returns_202_and_progress(reviewer, staff, django_capture_on_commit_callbacks):
    client = client_for(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/bill-runs/", {"period": "202503", "scope": "district", "office": "331003"}, format="json"
        )
    assert response.status_code == 202, response.content
    uid = response.json()["uid"]
    detail = client.get(f"/api/v1/bill-runs/{uid}/").json()
    assert detail["status"] == BillRunStatus.DONE
    assert detail["done"] == detail["total"] >= 1
    assert detail["progress_percent"] == 100
    assert detail["bills_created"] == 1
    assert Bill.objects.filter(employer=staff[0], period=202503).exists()
    assert [r["uid"] for r in client.get("/api/v1/bill-runs/").json()["results"]] == [uid]


@pytest.mark.parametrize(
    ("body", "field", "contains"),
    [
        ({"period": "209912", "scope": "district", "office": "331003"}, "period", "尚未到来"),
        ({"period": "202503", "scope": "district"}, "office", "按区核定时必须选择一个区"),
        ({"period": "202503", "scope": "district", "office": "331004"}, "office", "不在您的辖区内"),
        ({"period": "202503", "scope": "city"}, "office", "不在您的辖区内"),
        ({"period": "202503", "scope": "employer"}, "employer", "必须选择参保单位"),
        ({"period": "202503", "scope": "galaxy"}, "scope", ""),
        ({"scope": "district", "office": "331003"}, "period", ""),
    ],
)
def test_bad_bill_runs_are_refused(reviewer, body, field, contains):
    response = client_for(reviewer).post("/api/v1/bill-runs/", body, format="json")
    assert_error(response, 400, field, contains)
    assert BillRun.objects.count() == 0


def test_a_second_active_run_of_a_period_is_refused(reviewer):
    client = client_for(reviewer)
    first = client.post(
        "/api/v1/bill-runs/", {"period": "202503", "scope": "district", "office": "331003"}, format="json"
    )
    assert first.status_code == 202  # not executed: the on-commit hook never fires inside the test
    second = client.post(
        "/api/v1/bill-runs/", {"period": "202503", "scope": "district", "office": "331003"}, format="json"
    )
    assert_error(second, 400, "period", "正在进行")
    assert BillRun.objects.count() == 1


def test_counter_clerk_cannot_start_a_run_and_the_agency_cannot_declare_runs(clerk, agency):
    body = {"period": "202503", "scope": "district", "office": "331003"}
    assert_error(client_for(clerk).post("/api/v1/bill-runs/", body, format="json"), 403)
    assert_error(client_for(agency).post("/api/v1/bill-runs/", body, format="json"), 403)
    auditor = UserFactory(office=office("331003"), roles=[roles.AUDITOR])
    assert client_for(auditor).get("/api/v1/bills/").status_code == 200
    assert_error(client_for(auditor).post("/api/v1/payments/", {}, format="json"), 403)


# --- personal record -------------------------------------------------------------------------


def test_contribution_record(reviewer, billed):
    person = DeclarationLine.objects.get().person
    pay(billed, str(billed.total), D(2025, 4, 1), reviewer)
    response = client_for(reviewer).get(f"/api/v1/contribution-records/{person.uid}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["person"] == str(person.uid)
    summary = {s["insurance_type"]: s for s in body["summary"]}
    assert summary["emp_pension"]["months"] == 1
    assert summary["emp_pension"]["employer_paid"] == "800.00"
    pension = next(r for r in body["rows"] if r["insurance_type"] == "emp_pension")
    assert pension["base"] == "5000.00" and pension["counted"] and pension["status_label"] == "已缴清"
    assert pension["employer"] == str(billed.employer.uid)
    assert person.id_number not in response.content.decode()


# --- jurisdiction ----------------------------------------------------------------------------


def test_huangyan_user_gets_404_for_luqiao_records(params):
    luqiao_reviewer = UserFactory(office=office("331004"), roles=[roles.REVIEWER])
    employer = huangyan_employer(office=township_of("331004"))
    person = employ(employer)
    declaration = declare(employer, 202503, {person: "5000"}, luqiao_reviewer)
    bill = bill_employer(employer, 202503, luqiao_reviewer)
    payment = pay(bill, "10.00", D(2025, 4, 1), luqiao_reviewer)
    run = BillRun.objects.get()
    huangyan = UserFactory(office=office("331003"), roles=[roles.REVIEWER, roles.AUDITOR])
    client = client_for(huangyan)
    for url in (
        f"/api/v1/bills/{bill.uid}/",
        f"/api/v1/payments/{payment.uid}/",
        f"/api/v1/declarations/{declaration.uid}/",
        f"/api/v1/bill-runs/{run.uid}/",
        f"/api/v1/contribution-records/{person.uid}/",
    ):
        assert_error(client.get(url), 404)
    for url in ("/api/v1/bills/", "/api/v1/payments/", "/api/v1/declarations/", "/api/v1/bill-runs/"):
        assert client.get(url).json()["results"] == [], url
    assert client.get("/api/v1/arrears/", {"on": "2026-01-01"}).json()["results"] == []
    # …while 路桥 itself sees them.
    assert client_for(luqiao_reviewer).get(f"/api/v1/bills/{bill.uid}/").status_code == 200
    # A payment for the 路桥 employer reported by a 黄岩 account: unknown payer.
    response = client.post(
        "/api/v1/payments/",
        {"agency_reference": "X-1", "employer": str(employer.uid), "amount": "1.00", "paid_on": "2025-04-01"},
        format="json",
    )
    assert_error(response, 403)  # a reviewer does not report payments
    agency_of_huangyan = UserFactory(office=office("331003"), roles=[roles.SYSTEM])
    response = client_for(agency_of_huangyan).post(
        "/api/v1/payments/",
        {"agency_reference": "X-1", "employer": str(employer.uid), "amount": "1.00", "paid_on": "2025-04-01"},
        format="json",
    )
    assert_error(response, 400, "employer", "不存在或不在您的辖区内")


# --- query counts ----------------------------------------------------------------------------


def _make_billed_employers(n, reviewer, period=202503):
    for _ in range(n):
        employer = huangyan_employer()
        person = employ(employer)
        declare(employer, period, {person: "5000"}, reviewer)
        bill = bill_employer(employer, period, reviewer)
        pay(bill, "100.00", D(2025, 4, 1), reviewer)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/bills/", {}),
        ("/api/v1/payments/", {}),
        ("/api/v1/declarations/", {}),
        ("/api/v1/bill-runs/", {}),
        ("/api/v1/arrears/", {"on": "2025-06-01"}),
    ],
)
def test_list_query_counts_do_not_grow_with_rows(reviewer, url, params):
    city = UserFactory(office=office("331000"), roles=[roles.CITY_ADMIN])
    client = client_for(city)
    _make_billed_employers(1, reviewer)
    client.get(url, params)  # warm caches (permissions, parameter snapshot)

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, params)
        assert response.status_code == 200, response.content
        return len(ctx.captured_queries), len(response.json()["results"])

    small, rows_small = count()
    _make_billed_employers(4, reviewer)
    large, rows_large = count()
    assert rows_large > rows_small >= 1
    assert large == small, (url, small, large)


# --- schema ----------------------------------------------------------------------------------


def test_openapi_schema_documents_every_route_in_chinese():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    expected = {
        ("/api/v1/declarations/", "post"): "提交或更正缴费基数申报",
        ("/api/v1/declarations/", "get"): "缴费基数申报列表",
        ("/api/v1/declarations/{uid}/", "get"): "缴费基数申报详情",
        ("/api/v1/bills/", "get"): "账单列表",
        ("/api/v1/bills/{uid}/", "get"): "账单详情",
        ("/api/v1/payments/", "post"): "报送到账（征收机构）",
        ("/api/v1/payments/{uid}/", "get"): "到账记录详情",
        ("/api/v1/arrears/", "get"): "欠费列表",
        ("/api/v1/bill-runs/", "post"): "发起核定",
        ("/api/v1/bill-runs/{uid}/", "get"): "核定批次进度",
        ("/api/v1/contribution-records/{uid}/", "get"): "个人权益记录",
    }
    for (path, method), summary in expected.items():
        assert paths[path][method]["summary"] == summary, (path, method)
    assert "202" in paths["/api/v1/bill-runs/"]["post"]["responses"]
    assert {"200", "201"} <= set(paths["/api/v1/payments/"]["post"]["responses"])
    assert "cursor" in {p["name"] for p in paths["/api/v1/bills/"]["get"]["parameters"]}
