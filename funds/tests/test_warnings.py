"""Early warning on a constructed ledger, compared with figures computed by hand.

The ledger of the medical pooled fund (thresholds set to alarm < 3, warn < 6, excess > 15 months):

* 2024-03-10 income I (椒江), 2024-03-20 benefit 500,000.00 (黄岩) — last year's first half;
* benefit 100,000.00 on the 20th of every month from 2024-07 to 2025-06 (椒江) — the 12 months before 2025-06-30;
* 2025-02-15 income 400,000.00 (路桥).

On 2025-06-30: balance B = I − 500,000 − 1,200,000 + 400,000; average monthly expenditure = 1,200,000 ÷ 12 =
100,000; months covered = B ÷ 100,000. Choosing I = B + 1,300,000 gives any wanted B.
"""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from contributions.tests.factories import bill_employer, declare, employ, pay
from funds import services
from funds.models import (
    Budget,
    BudgetLine,
    BudgetStatus,
    FundIndicator,
    FundWarning,
    IndicatorCode,
    Level,
    Notice,
    WarningStatus,
)
from funds.services.warnings import is_new_or_escalated, months_covered_level
from funds.tests.factories import (
    drop_parameter,
    expense,
    fund,
    huangyan_parameters,
    income,
    make_user,
    office,
    set_table,
    set_thresholds,
)
from policies.selectors import parameter_value
from registry import roles
from registry.exceptions import PermissionDeniedError
from registry.tests.factories import EmployerFactory, UserFactory, township_of

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal
ON = D(2025, 6, 30)


def build_ledger(balance: Decimal):
    f = fund("emp_medical")
    income(f, "331002", D(2024, 3, 10), balance + Y("1300000"))
    expense(f, "331003", D(2024, 3, 20), "500000")
    for i in range(12):
        month = D(2024 + (6 + i) // 12, (6 + i) % 12 + 1, 20)
        expense(f, "331002", month, "100000")
    income(f, "331004", D(2025, 2, 15), "400000")
    return f


def indicator(code, on=ON, fund_=None):
    return FundIndicator.objects.get(fund=fund_ or fund("emp_medical"), code=code, on=on, office__level=1)


@pytest.fixture
def thresholds():
    set_thresholds("emp_medical", "3", "6", "15")


@pytest.fixture
def officers():
    return [
        make_user("fund_a", "331000", roles.FUND_OFFICER, email="a@example.org"),
        make_user("fund_b", "331000", roles.FUND_OFFICER, email="b@example.org"),
    ]


@pytest.mark.parametrize(
    ("balance", "months", "level"),
    [
        ("299990.00", "2.9999", Level.ALARM),
        ("300000.00", "3", Level.WARN),  # exactly 3.0: not below the alarm line
        ("599990.00", "5.9999", Level.WARN),
        ("600000.00", "6", Level.NORMAL),  # exactly 6.0: not below the warning line
        ("1500000.00", "15", Level.NORMAL),
        ("1500010.00", "15.0001", Level.EXCESS),
    ],
)
def test_months_covered_against_the_thresholds(thresholds, balance, months, level):
    build_ledger(Y(balance))
    services.fund_warning_run(on=ON)
    row = indicator(IndicatorCode.MONTHS_COVERED)
    assert row.value == Y(months)
    assert row.level == level
    assert row.details["balance"] == balance and row.details["expenditure_12m"] == "1200000.00"
    assert row.details["window"] == ["2024-07-01", "2025-06-30"]
    assert row.threshold["alarm_below"] == "3" and row.threshold["warn_below"] == "6"


@pytest.mark.parametrize(
    ("balance", "months", "level"),
    [
        # 2.99999 months shows as 3.0000 but is below the alarm line: the level is of the unrounded quotient.
        ("299999.00", "3", Level.ALARM),
        ("900000.00", "9", Level.NORMAL),  # exactly 9: still reasonable (6 to 9)
        ("900010.00", "9.0001", Level.HIGH),  # over 9 to 15: high
        ("1500000.00", "15", Level.HIGH),
        ("1500010.00", "15.0001", Level.EXCESS),  # over 15: excess
    ],
)
def test_months_covered_in_the_medical_funds_five_bands(balance, months, level):
    """The reference's medical bands (人社部发〔2009〕67号): below 3 alarm, 3 to under 6 warn, 6 to 9 reasonable,
    over 9 to 15 high, over 15 excess; every band is a parameter of the fund."""
    set_table(
        "fund.warning.months.emp_medical",
        {"alarm_below": "3", "warn_below": "6", "high_above": "9", "excess_above": "15"},
    )
    build_ledger(Y(balance))
    services.fund_warning_run(on=ON)
    row = indicator(IndicatorCode.MONTHS_COVERED)
    assert (row.value, row.level) == (Y(months), level)
    assert row.threshold["high_above"] == "9"


def test_the_loaded_medical_thresholds_have_the_high_band():
    assert parameter_value("fund.warning.months.emp_medical", on=ON).value == {
        "alarm_below": Y("3"),
        "warn_below": Y("6"),
        "high_above": Y("9"),
        "excess_above": Y("15"),
    }


def test_the_level_function_at_its_edges():
    t = {"alarm_below": Y(3), "warn_below": Y(6), "excess_above": Y(15)}
    assert [months_covered_level(Y(v), t) for v in ("2.99", "3", "5.99", "6", "15", "15.01", "-1")] == [
        Level.ALARM,
        Level.WARN,
        Level.WARN,
        Level.NORMAL,
        Level.NORMAL,
        Level.EXCESS,
        Level.ALARM,
    ]


def test_current_balance_and_trend(thresholds):
    build_ledger(Y("800000"))  # I = 2,100,000
    services.fund_warning_run(on=ON)
    current = indicator(IndicatorCode.CURRENT_BALANCE)
    # 2025-01-01 … 06-30: income 400,000; benefits Jan–Jun 6 × 100,000.
    assert (current.value, current.level) == (Y("-200000"), Level.WARN)
    assert "当期收不抵支 200000.00 元" in current.explanation
    trend = indicator(IndicatorCode.BALANCE_TREND)
    # Last year to 2024-06-30: 2,100,000 − 500,000 = 1,600,000; change −1,800,000.
    assert trend.value == Y("-1800000") and trend.details["previous_same_period"] == "1600000.00"


def test_budget_deviation(thresholds):
    f = build_ledger(Y("800000"))
    author = make_user("fo_author", "331000", roles.FUND_OFFICER)
    approver = make_user("ca_approver", "331000", roles.CITY_ADMIN)
    budget = Budget.objects.create(
        fund=f,
        year=2025,
        status=BudgetStatus.APPROVED,
        base_year=2024,
        drafted_by=author,
        drafted_at=timezone.now(),
        approved_by=approver,
        approved_at=timezone.now(),
    )
    BudgetLine.objects.create(
        budget=budget, direction="income", account="contribution_income", office=office("331004"), amount=Y("730000")
    )
    BudgetLine.objects.create(
        budget=budget,
        direction="expenditure",
        account="benefit_expenditure",
        office=office("331002"),
        amount=Y("1460000"),
    )
    services.fund_warning_run(on=ON)
    # 181 of 365 days: income to date 730,000 × 181/365 = 362,000.00; actual 400,000 → +10.50 % (> 10 %).
    inc = indicator(IndicatorCode.BUDGET_INCOME_DEVIATION)
    assert inc.details["budget_to_date"] == "362000.00"
    assert (inc.value, inc.level) == (Y("0.1050"), Level.WARN)
    # Expenditure to date 1,460,000 × 181/365 = 724,000.00; actual 600,000 → −17.13 %.
    exp = indicator(IndicatorCode.BUDGET_EXPENDITURE_DEVIATION)
    assert exp.details["budget_to_date"] == "724000.00"
    assert (exp.value, exp.level) == (Y("-0.1713"), Level.WARN)


def test_collection_rate_per_district():
    """This year's January bill of one 黄岩 employee at base 5000: pension 16 % + 8 % = 1200.00, medical
    10 % = 500.00; 1000.00 paid goes to the pension first (the allocations happen now, so ``on`` is today)."""
    today = timezone.localdate()
    huangyan_parameters(today.year)
    user = UserFactory(username="hy_collect", office=office("331003"), roles=[])
    employer = EmployerFactory(office=township_of("331003"), risk_class=2)
    person = employ(employer)
    period = today.year * 100 + 1
    declare(employer, period, {person: "5000"}, user)
    bill = bill_employer(employer, period, user)
    pay(bill, Y("1000.00"), today, user)
    services.fund_warning_run(on=today)
    pension = FundIndicator.objects.get(
        fund=fund("emp_pension"), code=IndicatorCode.COLLECTION_RATE, office__code="331003"
    )
    assert pension.details["billed"] == "1200.00" and pension.details["paid"] == "1000.00"
    # 1000 ÷ 1200 = 0.8333 below the 0.9 of fund.warning.collection_rate.
    assert (pension.value, pension.level) == (Y("0.8333"), Level.WARN)
    medical = FundIndicator.objects.get(
        fund=fund("emp_medical"), code=IndicatorCode.COLLECTION_RATE, office__code="331003"
    )
    assert medical.details["billed"] == "500.00"
    assert (medical.value, medical.level) == (Y("0"), Level.WARN)
    assert not FundIndicator.objects.filter(code=IndicatorCode.COLLECTION_RATE, office__code="331002").exists()
    # A full payment of the rest brings every insurance to 1.
    pay(bill, bill.total - Y("1000.00"), today, user)
    services.fund_warning_run(on=today)
    pension.refresh_from_db()
    assert (pension.value, pension.level) == (Y("1"), Level.NORMAL)


def test_new_warning_notifies_officers_once_and_a_rerun_changes_nothing(
    thresholds, officers, django_capture_on_commit_callbacks
):
    build_ledger(Y("450000"))  # 4.5 months: warning
    with django_capture_on_commit_callbacks(execute=True):
        first = services.fund_warning_run(on=ON)
    warning = FundWarning.objects.get(code=IndicatorCode.MONTHS_COVERED)
    assert (warning.level, warning.value, warning.status) == (Level.WARN, Y("4.5"), WarningStatus.OPEN)
    assert warning.threshold["warn_below"] == "6"
    assert "4.5 个月" in warning.explanation and "低于 6 个月的预警线" in warning.explanation
    assert Notice.objects.filter(warning=warning).count() == 2
    assert any("可支付月数" in m.subject for m in mail.outbox)
    assert {r for m in mail.outbox for r in m.to} == {"a@example.org", "b@example.org"}
    snapshot = sorted(FundIndicator.objects.values_list("id", "value", "level", "computed_at"))
    counts = (FundWarning.objects.count(), Notice.objects.count(), len(mail.outbox))

    with django_capture_on_commit_callbacks(execute=True):
        again = services.fund_warning_run(on=ON)
    assert again.warnings_created == 0 and first.warnings_created == counts[0]
    assert sorted(FundIndicator.objects.values_list("id", "value", "level", "computed_at")) == snapshot
    assert (FundWarning.objects.count(), Notice.objects.count(), len(mail.outbox)) == counts

    # The next night at the same level: no new warning.
    services.fund_warning_run(on=D(2025, 7, 1))
    assert FundWarning.objects.filter(code=IndicatorCode.MONTHS_COVERED).count() == 1
    # Escalation: a 250,000 benefit on 07-02 leaves 200,000 against 1,450,000 spent in the 12 months.
    expense(fund("emp_medical"), "331003", D(2025, 7, 2), "250000")
    services.fund_warning_run(on=D(2025, 7, 2))
    escalated = FundWarning.objects.get(code=IndicatorCode.MONTHS_COVERED, opened_on=D(2025, 7, 2))
    # 200,000 ÷ (1,450,000 ÷ 12) = 1.6552 months.
    assert (escalated.level, escalated.previous_level, escalated.value) == (Level.ALARM, Level.WARN, Y("1.6552"))


def test_escalation_rules():
    assert is_new_or_escalated(Level.WARN, Level.NORMAL)
    assert is_new_or_escalated(Level.WARN, None)
    assert is_new_or_escalated(Level.ALARM, Level.WARN)
    assert is_new_or_escalated(Level.EXCESS, Level.WARN)
    assert not is_new_or_escalated(Level.WARN, Level.ALARM)
    assert not is_new_or_escalated(Level.WARN, Level.WARN)
    assert not is_new_or_escalated(Level.NORMAL, Level.ALARM)
    assert not is_new_or_escalated(Level.NOT_ASSESSED, None)


def test_a_warning_stays_open_until_acknowledged_with_a_comment(thresholds, officers):
    build_ledger(Y("100000"))
    services.fund_warning_run(on=ON)
    warning = FundWarning.objects.get(code=IndicatorCode.MONTHS_COVERED)
    assert warning.level == Level.ALARM
    with pytest.raises(ValidationError) as exc:
        services.warning_acknowledge(warning=warning, comment="  ", acting_user=officers[0])
    assert "请填写处理意见" in str(exc.value)
    done = services.warning_acknowledge(warning=warning, comment="已报请市财政安排补助资金。", acting_user=officers[0])
    assert (done.status, done.acknowledged_by) == (WarningStatus.ACKNOWLEDGED, officers[0])
    with pytest.raises(ValidationError, match="已于"):
        services.warning_acknowledge(warning=warning, comment="再次", acting_user=officers[1])
    clerk = make_user("nobody_clerk", "331003", roles.COUNTER_CLERK)
    with pytest.raises(PermissionDeniedError):
        services.warning_acknowledge(warning=warning, comment="x", acting_user=clerk)


def test_a_missing_threshold_leaves_the_fund_not_assessed(thresholds):
    build_ledger(Y("450000"))
    drop_parameter("fund.warning.months.emp_medical")
    result = services.fund_warning_run(on=ON)
    row = indicator(IndicatorCode.MONTHS_COVERED)
    assert (row.value, row.level) == (None, Level.NOT_ASSESSED)
    assert "fund.warning.months.emp_medical" in row.explanation
    assert "fund.warning.months.emp_medical" in result.not_assessed["职工基本医疗保险统筹基金"]
    assert "职工基本医疗保险统筹基金" not in result.assessed
    assert not FundWarning.objects.filter(code=IndicatorCode.MONTHS_COVERED).exists()
    # The other indicators of that fund are still computed.
    assert indicator(IndicatorCode.CURRENT_BALANCE).level == Level.WARN


def test_the_nightly_task_and_its_beat_schedule_after_migrate(thresholds):
    from funds.tasks import fund_warning_run

    build_ledger(Y("900000"))
    outcome = fund_warning_run.delay("2025-06-30").get()
    assert outcome["on"] == "2025-06-30" and outcome["indicators"] >= 8
    assert indicator(IndicatorCode.MONTHS_COVERED).value == Y("9")
    nightly = PeriodicTask.objects.get(task="funds.fund_warning_run")
    assert (nightly.enabled, nightly.crontab.hour, nightly.crontab.minute, str(nightly.crontab.timezone)) == (
        True,
        "2",
        "0",
        "Asia/Shanghai",
    )
    posting = PeriodicTask.objects.get(task="funds.contribution_income_post")
    assert posting.enabled and posting.crontab.hour == "1"
