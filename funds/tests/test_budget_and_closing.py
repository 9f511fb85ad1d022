"""Budget (drafted from actuals, approved by someone else), execution, final accounts, year close and the
two-level sharing of a gap (fixed ratios and by cause), all against hand-computed figures."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from openpyxl import load_workbook

from funds import reports, selectors, services
from funds.models import (
    Account,
    Budget,
    BudgetStatus,
    FundYear,
    FundYearStatus,
    LedgerTransaction,
    SharingMethod,
    SubsidySharing,
)
from funds.services.common import money_rule
from funds.tests.factories import expense, fund, income, make_user, set_scalar
from registry import roles
from registry.exceptions import PermissionDeniedError

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal
RULE = {"city": Y("0.5"), "331002": Y("0.2"), "331003": Y("0.15"), "331004": Y("0.15")}


@pytest.fixture
def people():
    return {
        "officer": make_user("fo_1", "331000", roles.FUND_OFFICER),
        "both": make_user("fo_admin", "331000", roles.FUND_OFFICER, roles.CITY_ADMIN),
        "admin": make_user("ca_1", "331000", roles.CITY_ADMIN),
    }


@pytest.fixture
def actuals_2024():
    f = fund("emp_medical")
    income(f, "331002", D(2024, 2, 1), "1000000.00")
    income(f, "331003", D(2024, 5, 1), "500000.50")
    expense(f, "331002", D(2024, 6, 1), "800000.00")
    income(f, "331000", D(2024, 12, 21), "12345.67", account=Account.INTEREST_INCOME)
    return f


def test_budget_is_drafted_from_last_years_actuals_and_growth(people, actuals_2024):
    budget = services.budget_draft(
        fund=actuals_2024,
        year=2025,
        growth={"contribution_income": "0.05", "benefit_expenditure": "3%"},
        acting_user=people["both"],
    )
    lines = {
        (line.account, line.office.code): (line.base_actual, line.growth_rate, line.amount)
        for line in budget.lines.all()
    }
    assert lines == {
        ("contribution_income", "331002"): (Y("1000000.00"), Y("0.05"), Y("1050000.00")),
        ("contribution_income", "331003"): (Y("500000.50"), Y("0.05"), Y("525000.53")),  # 525000.525 half up
        ("benefit_expenditure", "331002"): (Y("800000.00"), Y("0.03"), Y("824000.00")),
        ("interest_income", "331000"): (Y("12345.67"), Y("0"), Y("12345.67")),
    }
    assert (budget.status, budget.base_year, budget.drafted_by) == (BudgetStatus.DRAFT, 2024, people["both"])


def test_a_budget_approved_by_its_author_is_refused(people, actuals_2024):
    budget = services.budget_draft(fund=actuals_2024, year=2025, growth={}, acting_user=people["both"])
    with pytest.raises(ValidationError) as exc:
        services.budget_approve(budget=budget, acting_user=people["both"])
    assert "编制人不能批准自己编制的预算" in exc.value.message_dict["approved_by"][0]
    budget.refresh_from_db()
    assert budget.status == BudgetStatus.DRAFT and budget.approved_by is None
    with pytest.raises(PermissionDeniedError):
        services.budget_approve(budget=budget, acting_user=people["officer"])
    approved = services.budget_approve(budget=budget, acting_user=people["admin"], note="同意")
    assert (approved.status, approved.approved_by) == (BudgetStatus.APPROVED, people["admin"])
    with pytest.raises(ValidationError) as exc:
        services.budget_draft(fund=actuals_2024, year=2025, growth={}, acting_user=people["officer"])
    assert "已批准，不能重新编制" in exc.value.message_dict["year"][0]
    with pytest.raises(ValidationError, match="不能重复批准"):
        services.budget_approve(budget=approved, acting_user=people["admin"])


def test_bad_growth_and_no_actuals_are_refused(people, actuals_2024):
    with pytest.raises(ValidationError) as exc:
        services.budget_draft(
            fund=actuals_2024,
            year=2025,
            growth={"benefit_expenditure": "很多", "cash": "1"},
            acting_user=people["officer"],
        )
    messages = exc.value.message_dict["growth"]
    assert any("社会保险待遇支出" in m and "不是数字" in m for m in messages) and any(
        "未知的收支科目" in m for m in messages
    )
    with pytest.raises(ValidationError) as exc:
        services.budget_draft(fund=fund("maternity"), year=2025, growth={}, acting_user=people["officer"])
    assert "没有实际收支" in exc.value.message_dict["year"][0]
    assert not Budget.objects.exists()


def test_budget_execution_and_exports(people, actuals_2024):
    budget = services.budget_draft(
        fund=actuals_2024, year=2025, growth={"contribution_income": "0.2"}, acting_user=people["officer"]
    )
    services.budget_approve(budget=budget, acting_user=people["admin"])
    income(actuals_2024, "331002", D(2025, 1, 15), "100000.00")
    income(actuals_2024, "331002", D(2025, 3, 15), "500000.00")
    expense(actuals_2024, "331002", D(2025, 3, 20), "150000.00")
    execution = selectors.budget_execution(budget=budget, month=3)
    row = next(r for r in execution.rows if r.account == "contribution_income" and r.office.code == "331002")
    # Annual 1,200,000.00; to March 300,000.00; actual 600,000 → +100 %; March alone 500,000.
    assert (row.budget_annual, row.budget_to_date, row.actual_to_date, row.actual_month) == (
        Y("1200000.00"),
        Y("300000.00"),
        Y("600000.00"),
        Y("500000.00"),
    )
    assert row.deviation_pct == Y("100.00") and row.execution_pct == Y("50.00")
    spent = next(r for r in execution.rows if r.account == "benefit_expenditure")
    assert (spent.budget_to_date, spent.actual_to_date, spent.deviation_pct) == (
        Y("200000.00"),
        Y("150000.00"),
        Y("-25.00"),
    )
    assert execution.totals["income"].actual_to_date == Y("600000.00")

    for report in (reports.budget_report(budget), reports.execution_report(execution)):
        sheet = load_workbook(io.BytesIO(reports.report_xlsx(report))).active
        assert sheet["A1"].value == report.title
        assert reports.report_pdf(report).startswith(b"%PDF")


def test_final_accounts_by_district(actuals_2024):
    accounts = selectors.final_accounts(fund=actuals_2024, year=2024)
    assert (accounts.income_total, accounts.expenditure_total, accounts.balance_start, accounts.balance_end) == (
        Y("1512346.17"),
        Y("800000.00"),
        Y("0.00"),
        Y("712346.17"),
    )
    by = {o.code: accounts.income_by_office[o.pk] for o in accounts.offices}
    assert by == {"331002": Y("1000000.00"), "331003": Y("500000.50"), "331004": Y("0.00"), "331000": Y("12345.67")}
    sheet = load_workbook(io.BytesIO(reports.report_xlsx(reports.final_accounts_report(accounts)))).active
    assert [c.value for c in sheet[4]] == ["科目", "椒江区", "黄岩区", "路桥区", "市本级", "合计（元）"]
    assert next(c.value for c in sheet[5]) == "社会保险费收入"


# ---------------------------------------------------------------------------------------------
# Sharing.


def test_sharing_by_fixed_ratios():
    lines = services.sharing_split(
        gap=Y("1000000.01"), method=SharingMethod.FIXED, rule=RULE, rounding=money_rule(D(2024, 12, 31))
    )
    assert {line.party: line.amount for line in lines} == {
        "331002": Y("200000.00"),  # 200000.002
        "331003": Y("150000.00"),  # 150000.0015
        "331004": Y("150000.00"),
        "city": Y("500000.01"),  # the rest, rounding remainder included
    }
    assert sum(line.amount for line in lines) == Y("1000000.01")


def test_sharing_by_cause():
    deficits = {"331002": Y("300000"), "331003": Y("-100000"), "331004": Y("100000")}
    lines = services.sharing_split(
        gap=Y("900000.00"),
        method=SharingMethod.BY_CAUSE,
        rule=RULE,
        district_deficits=deficits,
        rounding=money_rule(D(2024, 12, 31)),
    )
    shares = {line.party: (line.amount, line.caused) for line in lines}
    # The city its 50 %; the districts' 450,000 by the deficit each caused: 300 : 0 : 100.
    assert shares == {
        "city": (Y("450000.00"), None),
        "331002": (Y("337500.00"), Y("300000")),
        "331003": (Y("0.00"), Y("0")),
        "331004": (Y("112500.00"), Y("100000")),
    }
    none_caused = services.sharing_split(
        gap=Y("100.00"),
        method=SharingMethod.BY_CAUSE,
        rule=RULE,
        district_deficits={"331002": Y("-5")},
        rounding=money_rule(D(2024, 12, 31)),
    )
    assert {line.party: line.amount for line in none_caused} == {
        "city": Y("50.00"),
        "331002": Y("20.00"),
        "331003": Y("15.00"),
        "331004": Y("15.00"),
    }
    with pytest.raises(ValidationError):
        services.sharing_split(gap=Y("0"), method=SharingMethod.FIXED, rule=RULE, rounding=money_rule(D(2024, 12, 31)))


@pytest.fixture
def gap_2024():
    """Income 250,000, expenditure 450,000: gap 200,000. 椒江 −200,000, 黄岩 +100,000, 路桥 −100,000."""
    f = fund("unemployment")
    set_scalar("sharing.subsidy_method", 1)
    income(f, "331002", D(2024, 3, 1), "100000")
    expense(f, "331002", D(2024, 4, 1), "300000")
    income(f, "331003", D(2024, 5, 1), "150000")
    expense(f, "331003", D(2024, 6, 1), "50000")
    expense(f, "331004", D(2024, 7, 1), "100000")
    return f


def test_year_close_stores_the_final_accounts_shares_the_gap_and_refuses_later_entries(people, gap_2024):
    with pytest.raises(PermissionDeniedError):
        services.fund_year_close(
            fund=gap_2024, year=2024, acting_user=make_user("clerk_x", "331003", roles.COUNTER_CLERK)
        )
    year = services.fund_year_close(fund=gap_2024, year=2024, acting_user=people["officer"])
    assert (year.status, year.income, year.expenditure, year.balance_end) == (
        FundYearStatus.CLOSED,
        Y("250000.00"),
        Y("450000.00"),
        Y("-200000.00"),
    )
    assert year.final_accounts["expenditure_total"] == "450000.00"
    sharing = SubsidySharing.objects.get(fund=gap_2024, year=2024)
    assert (sharing.gap, sharing.method) == (Y("200000.00"), SharingMethod.FIXED)
    assert {s.party: s.amount for s in sharing.shares.all()} == {
        "city": Y("100000.00"),
        "331002": Y("40000.00"),
        "331003": Y("30000.00"),
        "331004": Y("30000.00"),
    }
    assert sharing.basis["districts"]["331002"]["deficit"] == "200000.00"
    assert "缺口 200000.00 元" in sharing.explanation
    with pytest.raises(ValidationError) as exc:
        expense(gap_2024, "331002", D(2024, 12, 31), "1")
    assert "2024 年度已结账" in exc.value.message_dict["booked_on"][0]
    with pytest.raises(ValidationError, match="已经结账"):
        services.fund_year_close(fund=gap_2024, year=2024, acting_user=people["officer"])
    with pytest.raises(ValidationError, match="尚未结束"):
        services.fund_year_close(fund=gap_2024, year=datetime.date.today().year, acting_user=people["officer"])

    # The city's share arrives: fiscal subsidy income of the city, once.
    city_share = sharing.shares.get(party="city")
    txn = services.subsidy_share_settle(
        share=city_share, booked_on=D(2025, 3, 1), document_number="台财社〔2025〕9号", acting_user=people["officer"]
    )
    assert sorted((e.account, e.amount) for e in txn.entries.all()) == [
        (Account.BANK, Y("100000.00")),
        (Account.SUBSIDY_CITY, Y("-100000.00")),
    ]
    with pytest.raises(ValidationError, match="已经入账"):
        services.subsidy_share_settle(
            share=city_share, booked_on=D(2025, 3, 1), document_number="x", acting_user=people["officer"]
        )


def test_year_close_by_cause_when_the_rule_in_force_says_so(people, gap_2024):
    set_scalar("sharing.subsidy_method", 2)
    services.fund_year_close(fund=gap_2024, year=2024, acting_user=people["officer"])
    sharing = SubsidySharing.objects.get(fund=gap_2024, year=2024)
    # City 50 % = 100,000; districts' 100,000 by deficit 200,000 : 0 : 100,000.
    assert sharing.method == SharingMethod.BY_CAUSE
    assert {s.party: s.amount for s in sharing.shares.all()} == {
        "city": Y("100000.00"),
        "331002": Y("66666.67"),
        "331003": Y("0.00"),
        "331004": Y("33333.33"),
    }


def test_a_year_without_a_gap_is_closed_without_sharing(people):
    f = fund("work_injury")
    income(f, "331003", D(2024, 3, 1), "10")
    services.fund_year_close(fund=f, year=2024, acting_user=people["officer"])
    assert FundYear.objects.get(fund=f, year=2024).status == FundYearStatus.CLOSED
    assert not SubsidySharing.objects.exists()
    assert LedgerTransaction.objects.count() == 1
