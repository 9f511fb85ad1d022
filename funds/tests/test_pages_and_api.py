"""Pages and API of funds: what each role may see and do, bad input shown as a message (never a 500)."""

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from funds import services
from funds.models import Budget, BudgetStatus, FundWarning, LedgerTransaction, Notice, Remittance, WarningStatus
from funds.tests.factories import expense, fund, income, make_user, set_thresholds
from registry import roles
from registry.tests.helpers import page_client_for

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


@pytest.fixture
def users():
    return {
        "officer": make_user("fo_pages", "331000", roles.FUND_OFFICER),
        "admin": make_user("ca_pages", "331000", roles.CITY_ADMIN),
        "auditor": make_user("au_pages", "331000", roles.AUDITOR),
        "clerk": make_user("clerk_pages", "331003", roles.COUNTER_CLERK),
    }


@pytest.fixture
def ledger():
    f = fund("emp_medical")
    income(f, "331002", D(2024, 3, 1), "1000000.00")
    for month in range(1, 13):
        expense(f, "331003", D(2024, month, 10), "50000.00")
    income(f, "331004", D(2025, 1, 5), "300000.00")
    expense(f, "331003", D(2025, 1, 10), "60000.00")
    return f


@pytest.fixture
def warning(ledger):
    set_thresholds("emp_medical", "3", "9", "15")
    services.fund_warning_run(on=D(2024, 12, 31))  # 400,000 ÷ 50,000 = 8 months: below 9, a warning
    return FundWarning.objects.get(fund=ledger, code="months_covered")


def test_dashboard_draws_charts_with_the_shipped_library(users, warning):
    response = page_client_for(users["officer"]).get(reverse("funds_dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/vendor/chartjs/chart.umd.min.js" in html and "/static/funds/charts.js" in html
    assert 'id="funds-overview-data"' in html and "职工基本医疗保险统筹基金" in html
    # Every script and stylesheet is served from our own /static/ (government intranets have no CDN);
    # matched on src/href, not on the page text, where a random CSRF token may spell "cdn".
    external = re.findall(r'(?:src|href)="((?:https?:)?//[^"]*)"', html)
    assert external == []
    detail = page_client_for(users["auditor"]).get(
        reverse("funds_fund_detail", kwargs={"uid": fund("emp_medical").uid})
    )
    assert detail.status_code == 200 and 'id="funds-fund-data"' in detail.content.decode()
    assert page_client_for(users["clerk"]).get(reverse("funds_dashboard")).status_code == 403
    assert Client().get(reverse("funds_dashboard")).status_code == 302


def test_every_page_renders_for_the_fund_officer(users, warning):
    f = fund("emp_medical")
    c = page_client_for(users["officer"])
    txn = LedgerTransaction.objects.filter(fund=f).first()
    urls = [
        reverse("funds_ledger") + "?fund=emp_medical&office=331003&month=2024-03",
        reverse("funds_ledger") + "?month=bad",
        reverse("funds_ledger_post"),
        reverse("funds_transaction_detail", kwargs={"uid": txn.uid}),
        reverse("funds_budget_list"),
        reverse("funds_final_accounts", kwargs={"uid": f.uid}) + "?year=2024",
        reverse("funds_fund_years", kwargs={"uid": f.uid}),
        reverse("funds_warning_list") + "?status=all",
        reverse("funds_notice_list"),
        reverse("funds_remittance_list"),
        reverse("funds_expenditure_import"),
    ]
    urls.append(reverse("funds_warning_detail", kwargs={"uid": warning.uid}))
    for url in urls:
        assert c.get(url).status_code == 200, url
    xlsx = c.get(reverse("funds_final_accounts_xlsx", kwargs={"uid": f.uid}) + "?year=2024")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert load_workbook(io.BytesIO(xlsx.content)).active["A1"].value == "职工基本医疗保险统筹基金 2024 年度决算"
    pdf = c.get(reverse("funds_final_accounts_pdf", kwargs={"uid": f.uid}) + "?year=2024")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_manual_posting_and_reversal_pages(users, ledger):
    c = page_client_for(users["officer"])
    bad = c.post(
        reverse("funds_ledger_post"),
        {
            "fund": ledger.pk,
            "office": ledger.transactions.first().office_id,
            "account": "interest_income",
            "amount": "12.345",
            "booked_on": "2025-02-01",
            "document_number": "利-1",
        },
    )
    assert bad.status_code == 200 and "最多 2 位小数" in bad.content.decode()
    before = LedgerTransaction.objects.count()
    ok = c.post(
        reverse("funds_ledger_post"),
        {
            "fund": ledger.pk,
            "office": ledger.transactions.first().office_id,
            "account": "interest_income",
            "amount": "12.34",
            "booked_on": "2025-02-01",
            "document_number": "利-1",
        },
    )
    assert ok.status_code == 302 and LedgerTransaction.objects.count() == before + 1
    txn = LedgerTransaction.objects.latest("id")
    url = reverse("funds_transaction_reverse", kwargs={"uid": txn.uid})
    refused = c.post(url, {"reason": ""}, follow=True)
    assert "冲销必须填写原因" in refused.content.decode() and LedgerTransaction.objects.count() == before + 1
    assert c.post(url, {"reason": "利息重复登记"}).status_code == 302
    assert LedgerTransaction.objects.filter(reverses=txn).exists()
    assert page_client_for(users["auditor"]).post(url, {"reason": "x"}).status_code == 403


def test_budget_pages_refuse_the_author_as_approver(users, ledger):
    both = make_user("fo_ca_pages", "331000", roles.FUND_OFFICER, roles.CITY_ADMIN)
    c = page_client_for(both)
    response = c.post(
        reverse("funds_budget_list"), {"fund": ledger.pk, "year": 2025, "growth_benefit_expenditure": "10%"}
    )
    assert response.status_code == 302
    budget = Budget.objects.get(fund=ledger, year=2025)
    approve = reverse("funds_budget_approve", kwargs={"uid": budget.uid})
    page = c.post(approve, {"note": ""}, follow=True)
    assert "编制人不能批准自己编制的预算" in page.content.decode()
    assert Budget.objects.get(pk=budget.pk).status == BudgetStatus.DRAFT
    page_client_for(users["admin"]).post(approve, {"note": "同意"})
    assert Budget.objects.get(pk=budget.pk).status == BudgetStatus.APPROVED
    for name in ("funds_budget_detail", "funds_budget_execution"):
        assert c.get(reverse(name, kwargs={"uid": budget.uid}) + "?month=3").status_code == 200
    for name in ("funds_budget_xlsx", "funds_budget_execution_xlsx", "funds_budget_pdf", "funds_budget_execution_pdf"):
        assert c.get(reverse(name, kwargs={"uid": budget.uid})).status_code == 200
    bad = c.post(reverse("funds_budget_list"), {"fund": ledger.pk, "year": 2025})
    assert "已批准，不能重新编制" in bad.content.decode()
    assert (
        page_client_for(users["auditor"])
        .post(reverse("funds_budget_list"), {"fund": ledger.pk, "year": 2026})
        .status_code
        == 403
    )


def test_year_close_page_shows_why_it_refuses(users, ledger):
    c = page_client_for(users["officer"])
    url = reverse("funds_fund_years", kwargs={"uid": ledger.uid})
    page = c.post(url, {"close": "1", "year": str(datetime.date.today().year)})
    assert page.status_code == 200 and "尚未结束，不能结账" in page.content.decode()
    assert c.post(url, {"close": "1", "year": "2024"}).status_code == 302


def test_acknowledging_a_warning_on_its_page(users, ledger):
    set_thresholds("emp_medical", "3", "9", "15")  # 8 months: below 9 → warning
    services.fund_warning_run(on=D(2024, 12, 31))
    warning = FundWarning.objects.get(code="months_covered")
    assert Notice.objects.filter(user=users["officer"], warning=warning).exists()
    c = page_client_for(users["officer"])
    url = reverse("funds_warning_detail", kwargs={"uid": warning.uid})
    assert "请填写处理意见" in c.post(url, {"comment": " "}).content.decode()
    assert c.post(url, {"comment": "已安排调剂"}).status_code == 302
    assert FundWarning.objects.get(pk=warning.pk).status == WarningStatus.ACKNOWLEDGED
    notice = Notice.objects.get(user=users["officer"], warning=warning)
    read = c.post(reverse("funds_notice_read", kwargs={"uid": notice.uid}))
    assert read.status_code == 302 and read["Location"] == url
    assert Notice.objects.get(pk=notice.pk).read_at is not None
    # Someone else's notice is not there.
    assert (
        page_client_for(users["admin"]).post(reverse("funds_notice_read", kwargs={"uid": notice.uid})).status_code
        == 404
    )


def test_remittance_and_expenditure_import_pages(users):
    c = page_client_for(users["officer"])
    missing = c.post(reverse("funds_remittance_list"), {"direction": "up", "amount": "100", "booked_on": "2025-06-30"})
    assert "请填写上解或下拨依据的文件号" in missing.content.decode() and not Remittance.objects.exists()
    scan = SimpleUploadedFile("doc.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    ok = c.post(
        reverse("funds_remittance_list"),
        {
            "direction": "up",
            "amount": "100.00",
            "booked_on": "2025-06-30",
            "document_number": "财社〔2025〕8号",
            "attachment": scan,
        },
    )
    assert ok.status_code == 302 and Remittance.objects.get().attachment.name.endswith(".pdf")
    bad = SimpleUploadedFile(
        "x.csv", "基金,区划代码,月份,金额\nemp_medical,331002,202501,abc\n".encode(), content_type="text/csv"
    )
    page = c.post(reverse("funds_expenditure_import"), {"file": bad})
    assert "第 2 行" in page.content.decode() and "不是数字" in page.content.decode()
    good = SimpleUploadedFile(
        "y.csv", "基金,区划代码,月份,金额\nemp_medical,331002,202501,99.50\n".encode(), content_type="text/csv"
    )
    assert c.post(reverse("funds_expenditure_import"), {"file": good}).status_code == 302
    assert c.get(reverse("funds_expenditure_template")).content.decode("utf-8-sig").startswith("基金,区划代码")


def test_api_reads_balances_indicators_and_warnings_by_role(users, warning):
    api = page_client_for(users["auditor"])
    balances = api.get("/api/v1/fund-balances/")
    assert balances.status_code == 200
    rows = {r["insurance_type"]: r for r in balances.json()["results"]}
    # 1,000,000 − 12 × 50,000 + 300,000 − 60,000
    assert len(rows) == 8 and rows["emp_medical"]["balance"] == "640000.00"
    assert rows["emp_medical"]["open_warnings"] == 1
    medical = fund("emp_medical")
    one = api.get(f"/api/v1/fund-balances/{medical.uid}/").json()
    assert one["months_covered"] == "8.0000" and one["months_covered_level"] == "warn"
    indicators = api.get("/api/v1/fund-indicators/?fund=emp_medical&code=months_covered").json()
    assert indicators["results"][0]["value"] == "8.0000"
    bad = api.get("/api/v1/fund-indicators/?on=not-a-date")
    assert bad.status_code == 400 and "on" in bad.json()["errors"]
    warnings = api.get("/api/v1/fund-warnings/?status=open").json()["results"]
    assert [w["code"] for w in warnings] == ["months_covered"] and warnings[0]["threshold"]["warn_below"] == "9"
    assert api.get(f"/api/v1/fund-warnings/{warnings[0]['uid']}/").status_code == 200
    assert page_client_for(users["clerk"]).get("/api/v1/fund-balances/").status_code == 403
    assert api.post("/api/v1/fund-warnings/", {}).status_code in (403, 405)
