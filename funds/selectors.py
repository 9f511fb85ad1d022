"""Reads of funds. Every figure is an aggregate computed by the database (``SUM … GROUP BY``), never a
Python loop over entries.

Sign convention of the ledger: debit positive, credit negative. Income = −(sum of the income accounts'
entries); expenditure = sum of the expenditure accounts' entries; balance = sum of the bank account's
entries = income − expenditure since the first entry.
"""

from __future__ import annotations

import calendar
import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Substr, TruncMonth
from django.utils import timezone

from contributions.models import BillKind, BillTotal, PaymentAllocation
from policies.selectors import ParameterNotFound, rounding_rule
from registry import roles
from registry.jurisdiction import scope_to_user
from registry.models import Office, OfficeLevel, User

from .models import (
    EXPENDITURE_ACCOUNTS,
    INCOME_ACCOUNTS,
    Account,
    Budget,
    BudgetDirection,
    BudgetStatus,
    ExpenditureImport,
    Fund,
    FundIndicator,
    FundWarning,
    FundYear,
    FundYearStatus,
    LedgerEntry,
    LedgerTransaction,
    Notice,
    PostingRun,
    Remittance,
    SubsidyShare,
    SubsidySharing,
    WarningStatus,
)

ZERO = Decimal(0)
_ACCOUNT_LABELS = dict(Account.choices)


def _d(value: Any) -> Decimal:
    """A money aggregate as a Decimal to the fen (SQLite returns sums without their scale)."""
    return Decimal(value).quantize(Decimal("0.01")) if value is not None else Decimal("0.00")


def _flip(value: Decimal) -> Decimal:
    """−value without a negative zero (an income of nothing reads 0.00, not -0.00)."""
    return ZERO - value


def _signed(sign: int, value: Decimal) -> Decimal:
    return _flip(value) if sign < 0 else value


def _q2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


# ---------------------------------------------------------------------------------------------
# Funds and offices.


def fund_list() -> QuerySet[Fund]:
    return Fund.objects.filter(is_active=True).order_by("sort_order", "id")


def fund_get(*, uid: Any) -> Fund:
    return Fund.objects.get(uid=uid)


def fund_for_insurance(insurance_type: str) -> Fund:
    return Fund.objects.get(insurance_type=insurance_type)


def ledger_offices() -> list[Office]:
    """The columns of every breakdown: the districts in code order, then the city office (市本级)."""
    offices = list(Office.objects.filter(level=OfficeLevel.DISTRICT).order_by("code"))
    return offices + list(Office.objects.filter(level=OfficeLevel.CITY))


def year_bounds(year: int) -> tuple[datetime.date, datetime.date]:
    return datetime.date(year, 1, 1), datetime.date(year, 12, 31)


def month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


# ---------------------------------------------------------------------------------------------
# Ledger aggregates.


def account_totals(
    *,
    fund: Fund,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    by_office: bool = False,
) -> dict[Any, Decimal]:
    """Signed sums per account (or per (account, office_id)) over ``start ≤ booked_on ≤ end``."""
    qs = LedgerEntry.objects.filter(fund=fund)
    if start is not None:
        qs = qs.filter(booked_on__gte=start)
    if end is not None:
        qs = qs.filter(booked_on__lte=end)
    keys = ["account", "office_id"] if by_office else ["account"]
    rows = qs.values(*keys).annotate(total=Sum("amount")).order_by()
    if by_office:
        return {(r["account"], r["office_id"]): _d(r["total"]) for r in rows}
    return {r["account"]: _d(r["total"]) for r in rows}


def income_expenditure(
    *, fund: Fund, start: datetime.date | None, end: datetime.date | None
) -> tuple[Decimal, Decimal]:
    totals = account_totals(fund=fund, start=start, end=end)
    income = _flip(sum((v for k, v in totals.items() if k in INCOME_ACCOUNTS), ZERO))
    expenditure = sum((v for k, v in totals.items() if k in EXPENDITURE_ACCOUNTS), ZERO)
    return income, expenditure


def fund_balance(*, fund: Fund, on: datetime.date) -> Decimal:
    """累计结余: the bank balance at the end of ``on``."""
    total = LedgerEntry.objects.filter(fund=fund, account=Account.BANK, booked_on__lte=on).aggregate(s=Sum("amount"))[
        "s"
    ]
    return _d(total)


def fund_balances(*, on: datetime.date) -> dict[int, Decimal]:
    rows = (
        LedgerEntry.objects.filter(account=Account.BANK, booked_on__lte=on)
        .values("fund_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {r["fund_id"]: _d(r["total"]) for r in rows}


@dataclass(frozen=True)
class FundFigures:
    """What the nightly early warning needs of one fund, from one aggregate query over the ledger."""

    fund_id: int
    on: datetime.date
    balance: Decimal
    expenditure_12m: Decimal
    window_start: datetime.date
    income_ytd: Decimal
    expenditure_ytd: Decimal
    income_prev_ytd: Decimal
    expenditure_prev_ytd: Decimal
    entries_prev_ytd: int

    @property
    def average_monthly_expenditure(self) -> Decimal:
        return self.expenditure_12m / 12

    @property
    def balance_ytd(self) -> Decimal:
        return self.income_ytd - self.expenditure_ytd

    @property
    def balance_prev_ytd(self) -> Decimal:
        return self.income_prev_ytd - self.expenditure_prev_ytd


def twelve_month_window(on: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The last 12 months up to and including ``on``: (on − 12 months, on]."""
    return on - relativedelta(months=12) + datetime.timedelta(days=1), on


def fund_figures_query(*, on: datetime.date) -> QuerySet:
    """The one aggregate query of the nightly job: per fund, conditional sums over every entry up to ``on``."""
    window_start, _end = twelve_month_window(on)
    jan1 = datetime.date(on.year, 1, 1)
    prev_jan1 = datetime.date(on.year - 1, 1, 1)
    prev_same_day = on - relativedelta(years=1)
    income = Q(account__in=INCOME_ACCOUNTS)
    expenditure = Q(account__in=EXPENDITURE_ACCOUNTS)
    this_year = Q(booked_on__gte=jan1)
    last_year = Q(booked_on__gte=prev_jan1, booked_on__lte=prev_same_day)
    return (
        LedgerEntry.objects.filter(booked_on__lte=on)
        .values("fund_id")
        .annotate(
            balance=Sum("amount", filter=Q(account=Account.BANK)),
            expenditure_12m=Sum("amount", filter=expenditure & Q(booked_on__gte=window_start)),
            income_ytd=Sum("amount", filter=income & this_year),
            expenditure_ytd=Sum("amount", filter=expenditure & this_year),
            income_prev_ytd=Sum("amount", filter=income & last_year),
            expenditure_prev_ytd=Sum("amount", filter=expenditure & last_year),
            entries_prev_ytd=Count("id", filter=last_year),
        )
        .order_by()
    )


def fund_figures(*, on: datetime.date) -> dict[int, FundFigures]:
    window_start, _end = twelve_month_window(on)
    out = {}
    for r in fund_figures_query(on=on):
        out[r["fund_id"]] = FundFigures(
            fund_id=r["fund_id"],
            on=on,
            balance=_d(r["balance"]),
            expenditure_12m=_d(r["expenditure_12m"]),
            window_start=window_start,
            income_ytd=_flip(_d(r["income_ytd"])),
            expenditure_ytd=_d(r["expenditure_ytd"]),
            income_prev_ytd=_flip(_d(r["income_prev_ytd"])),
            expenditure_prev_ytd=_d(r["expenditure_prev_ytd"]),
            entries_prev_ytd=r["entries_prev_ytd"] or 0,
        )
    return out


@dataclass(frozen=True)
class MonthRow:
    month: datetime.date
    income: Decimal
    expenditure: Decimal
    balance_end: Decimal

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def net(self) -> Decimal:
        return self.income - self.expenditure


def fund_monthly_series(*, fund: Fund, end: datetime.date, months: int = 24) -> list[MonthRow]:
    """Income, expenditure and end-of-month balance for the ``months`` months ending with ``end``'s month."""
    first = end.replace(day=1) - relativedelta(months=months - 1)
    opening = _d(
        LedgerEntry.objects.filter(fund=fund, account=Account.BANK, booked_on__lt=first).aggregate(s=Sum("amount"))["s"]
    )
    rows = (
        LedgerEntry.objects.filter(fund=fund, booked_on__gte=first, booked_on__lte=end)
        .annotate(month=TruncMonth("booked_on"))
        .values("month")
        .annotate(
            income=Sum("amount", filter=Q(account__in=INCOME_ACCOUNTS)),
            expenditure=Sum("amount", filter=Q(account__in=EXPENDITURE_ACCOUNTS)),
            bank=Sum("amount", filter=Q(account=Account.BANK)),
        )
        .order_by("month")
    )
    by_month = {}
    for r in rows:
        month = r["month"]
        if isinstance(month, datetime.datetime):
            month = month.date()
        by_month[month] = r
    out = []
    balance = opening
    for i in range(months):
        month = first + relativedelta(months=i)
        r = by_month.get(month, {})
        balance += _d(r.get("bank"))
        out.append(
            MonthRow(
                month=month,
                income=_flip(_d(r.get("income"))),
                expenditure=_d(r.get("expenditure")),
                balance_end=balance,
            )
        )
    return out


def district_income_expenditure(*, fund: Fund, year: int) -> dict[int, tuple[Decimal, Decimal]]:
    """(income, expenditure) of the year per office id (districts and the city office)."""
    start, end = year_bounds(year)
    out: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for (account, office_id), total in account_totals(fund=fund, start=start, end=end, by_office=True).items():
        if account in INCOME_ACCOUNTS:
            out[office_id][0] -= total
        elif account in EXPENDITURE_ACCOUNTS:
            out[office_id][1] += total
    return {k: (v[0], v[1]) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
# Ledger lists (pages, admin).


def ledger_transaction_list(
    *,
    user: Any,
    fund: Fund | None = None,
    office: Office | None = None,
    kind: str = "",
    month: datetime.date | None = None,
) -> QuerySet[LedgerTransaction]:
    qs = scope_to_user(LedgerTransaction.objects.select_related("fund", "office", "created_by"), user)
    if fund is not None:
        qs = qs.filter(fund=fund)
    if office is not None:
        qs = qs.filter(office=office)
    if kind:
        qs = qs.filter(kind=kind)
    if month is not None:
        qs = qs.filter(booked_on__gte=month, booked_on__lte=month_end(month.year, month.month))
    return qs.order_by("-booked_on", "-id")


def ledger_transaction_get(*, user: Any, uid: Any) -> LedgerTransaction:
    return ledger_transaction_list(user=user).select_related("reverses").get(uid=uid)


def ledger_entries(txn: LedgerTransaction) -> QuerySet[LedgerEntry]:
    return txn.entries.order_by("id")


def posting_runs(limit: int = 20) -> list[PostingRun]:
    return list(PostingRun.objects.select_related("started_by").order_by("-started_at")[:limit])


def remittance_list(*, user: Any) -> QuerySet[Remittance]:
    return scope_to_user(Remittance.objects.select_related("fund", "transaction", "created_by"), user).order_by(
        "-booked_on", "-id"
    )


def expenditure_import_list(*, user: Any) -> QuerySet[ExpenditureImport]:
    return scope_to_user(ExpenditureImport.objects.select_related("uploaded_by"), user).order_by("-created_at")


# ---------------------------------------------------------------------------------------------
# Budget and final accounts.


def budget_list(*, fund: Fund | None = None) -> QuerySet[Budget]:
    qs = Budget.objects.select_related("fund", "drafted_by", "approved_by")
    if fund is not None:
        qs = qs.filter(fund=fund)
    return qs.order_by("-year", "fund__sort_order")


def budget_get(*, uid: Any) -> Budget:
    return budget_list().get(uid=uid)


def budget_approved(*, fund: Fund, year: int) -> Budget | None:
    return Budget.objects.filter(fund=fund, year=year, status=BudgetStatus.APPROVED).first()


def _direction(account: str) -> str:
    return BudgetDirection.INCOME if account in INCOME_ACCOUNTS else BudgetDirection.EXPENDITURE


def _deviation_pct(actual: Decimal, planned: Decimal) -> Decimal | None:
    if planned == 0:
        return None
    return _q2((actual - planned) / planned * 100)


@dataclass
class ExecutionRow:
    direction: str
    account: str
    office: Office | None
    budget_annual: Decimal
    budget_to_date: Decimal
    actual_month: Decimal
    actual_to_date: Decimal

    @property
    def account_label(self) -> str:
        return str(_ACCOUNT_LABELS.get(self.account, self.account))

    @property
    def deviation_pct(self) -> Decimal | None:
        return _deviation_pct(self.actual_to_date, self.budget_to_date)

    @property
    def execution_pct(self) -> Decimal | None:
        """Share of the annual budget already reached."""
        return _q2(self.actual_to_date / self.budget_annual * 100) if self.budget_annual else None


@dataclass
class BudgetExecution:
    budget: Budget
    month: int
    rows: list[ExecutionRow]
    totals: dict[str, ExecutionRow] = field(default_factory=dict)

    @property
    def period_label(self) -> str:
        return f"{self.budget.year}年1—{self.month}月"


def budget_execution(*, budget: Budget, month: int) -> BudgetExecution:
    """Actual vs budget to the end of ``month``: budget to date = annual × month ÷ 12 (money rule)."""
    year = budget.year
    end = month_end(year, month)
    rule = rounding_rule(on=datetime.date(year, 1, 1))
    to_date = account_totals(fund=budget.fund, start=datetime.date(year, 1, 1), end=end, by_office=True)
    in_month = account_totals(fund=budget.fund, start=datetime.date(year, month, 1), end=end, by_office=True)
    offices = {o.pk: o for o in ledger_offices()}
    lines = {(line.account, line.office_id): line for line in budget.lines.all()}
    keys = set(lines) | {k for k in to_date if k[0] != Account.BANK}
    order = {a: i for i, a in enumerate(Account.values)}
    office_order = {pk: i for i, pk in enumerate(offices)}
    rows = []
    for account, office_id in sorted(
        keys,
        key=lambda k: (_direction(k[0]) != BudgetDirection.INCOME, order.get(k[0], 99), office_order.get(k[1], 99)),
    ):
        sign = -1 if account in INCOME_ACCOUNTS else 1
        line = lines.get((account, office_id))
        annual = line.amount if line else ZERO
        rows.append(
            ExecutionRow(
                direction=_direction(account),
                account=account,
                office=offices.get(office_id),
                budget_annual=annual,
                budget_to_date=rule.apply(annual * month / 12),
                actual_month=_signed(sign, in_month.get((account, office_id), ZERO)),
                actual_to_date=_signed(sign, to_date.get((account, office_id), ZERO)),
            )
        )
    totals = {}
    for direction in (BudgetDirection.INCOME, BudgetDirection.EXPENDITURE):
        mine = [r for r in rows if r.direction == direction]
        totals[direction] = ExecutionRow(
            direction=direction,
            account="",
            office=None,
            budget_annual=sum((r.budget_annual for r in mine), ZERO),
            budget_to_date=sum((r.budget_to_date for r in mine), ZERO),
            actual_month=sum((r.actual_month for r in mine), ZERO),
            actual_to_date=sum((r.actual_to_date for r in mine), ZERO),
        )
    return BudgetExecution(budget=budget, month=month, rows=rows, totals=totals)


@dataclass
class FinalRow:
    direction: str
    account: str
    by_office: dict[int, Decimal]
    total: Decimal
    budget: Decimal | None = None

    @property
    def account_label(self) -> str:
        return str(_ACCOUNT_LABELS.get(self.account, self.account))


@dataclass
class FinalAccounts:
    """决算: the year's income and expenditure by category and district, balances at both ends."""

    fund: Fund
    year: int
    offices: list[Office]
    income_rows: list[FinalRow]
    expenditure_rows: list[FinalRow]
    income_by_office: dict[int, Decimal]
    expenditure_by_office: dict[int, Decimal]
    income_total: Decimal
    expenditure_total: Decimal
    balance_start: Decimal
    balance_end: Decimal
    fund_year: FundYear | None
    budget: Budget | None

    @property
    def surplus(self) -> Decimal:
        return self.income_total - self.expenditure_total

    @property
    def closed(self) -> bool:
        return self.fund_year is not None and self.fund_year.status == FundYearStatus.CLOSED

    def as_json(self) -> dict[str, Any]:
        def rows(items):
            return [
                {
                    "account": r.account,
                    "by_office": {str(k): str(v) for k, v in r.by_office.items()},
                    "total": str(r.total),
                }
                for r in items
            ]

        return {
            "income": rows(self.income_rows),
            "expenditure": rows(self.expenditure_rows),
            "income_total": str(self.income_total),
            "expenditure_total": str(self.expenditure_total),
            "balance_start": str(self.balance_start),
            "balance_end": str(self.balance_end),
            "offices": [o.code for o in self.offices],
        }


def final_accounts(*, fund: Fund, year: int) -> FinalAccounts:
    start, end = year_bounds(year)
    offices = ledger_offices()
    totals = account_totals(fund=fund, start=start, end=end, by_office=True)
    balance_start = _d(
        LedgerEntry.objects.filter(fund=fund, account=Account.BANK, booked_on__lt=start).aggregate(s=Sum("amount"))["s"]
    )
    budget = budget_approved(fund=fund, year=year)
    budget_by_account: dict[str, Decimal] = defaultdict(lambda: ZERO)
    if budget is not None:
        for line in budget.lines.all():
            budget_by_account[line.account] += line.amount

    def build(accounts: Iterable[str], sign: int) -> list[FinalRow]:
        out = []
        for account in accounts:
            by_office = {o.pk: _signed(sign, totals.get((account, o.pk), ZERO)) for o in offices}
            total = sum(by_office.values(), ZERO)
            if total == 0 and not any(by_office.values()) and account not in budget_by_account:
                continue
            out.append(
                FinalRow(
                    direction=_direction(account),
                    account=account,
                    by_office=by_office,
                    total=total,
                    budget=budget_by_account.get(account) if budget is not None else None,
                )
            )
        return out

    income_rows = build(INCOME_ACCOUNTS, -1)
    expenditure_rows = build(EXPENDITURE_ACCOUNTS, 1)
    income_by_office = {o.pk: sum((r.by_office[o.pk] for r in income_rows), ZERO) for o in offices}
    expenditure_by_office = {o.pk: sum((r.by_office[o.pk] for r in expenditure_rows), ZERO) for o in offices}
    income_total = sum(income_by_office.values(), ZERO)
    expenditure_total = sum(expenditure_by_office.values(), ZERO)
    return FinalAccounts(
        fund=fund,
        year=year,
        offices=offices,
        income_rows=income_rows,
        expenditure_rows=expenditure_rows,
        income_by_office=income_by_office,
        expenditure_by_office=expenditure_by_office,
        income_total=income_total,
        expenditure_total=expenditure_total,
        balance_start=balance_start,
        balance_end=balance_start + income_total - expenditure_total,
        fund_year=FundYear.objects.filter(fund=fund, year=year).select_related("closed_by").first(),
        budget=budget,
    )


def fund_year_list(*, fund: Fund) -> QuerySet[FundYear]:
    return FundYear.objects.filter(fund=fund).select_related("closed_by").order_by("-year")


def sharing_get(*, fund: Fund, year: int) -> SubsidySharing | None:
    return (
        SubsidySharing.objects.filter(fund=fund, year=year)
        .select_related("computed_by")
        .prefetch_related("shares__office")
        .first()
    )


def sharing_list(*, fund: Fund) -> QuerySet[SubsidySharing]:
    return SubsidySharing.objects.filter(fund=fund).prefetch_related("shares__office").order_by("-year")


def subsidy_share_get(*, fund: Fund, pk: Any) -> SubsidyShare | None:
    return SubsidyShare.objects.filter(pk=pk, sharing__fund=fund).select_related("office", "sharing").first()


def subsidy_shares_settled(*, fund: Fund) -> set[int]:
    """Ids of the shares of ``fund`` whose money has been posted as fiscal subsidy income."""
    return set(
        LedgerTransaction.objects.filter(
            fund=fund, source_type="funds.subsidyshare", source_id__isnull=False
        ).values_list("source_id", flat=True)
    )


def money_rounding_safe(on: datetime.date):
    try:
        return rounding_rule(on=on)
    except ParameterNotFound:
        return None


# ---------------------------------------------------------------------------------------------
# Collection rate (from contributions).


def collection_figures(*, on: datetime.date) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(billed, paid) per (insurance, district code) for bills of ``on``'s year issued by the end of ``on``,
    and what was allocated to them by then. District '' is the city office. Contributions only: a late-fee bill
    (滞纳金) is not part of what was due, so it counts neither as billed nor as paid."""
    end = timezone.make_aware(datetime.datetime.combine(on + datetime.timedelta(days=1), datetime.time()))
    periods = Q(bill__period__gte=on.year * 100 + 1, bill__period__lte=on.year * 100 + 12) & ~Q(
        bill__kind=BillKind.LATE_FEE
    )
    billed = (
        BillTotal.objects.filter(periods, bill__issued_at__lt=end)
        .annotate(district=Substr("bill__office__path", 9, 6))
        .values("insurance_type", "district")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    paid = (
        PaymentAllocation.objects.filter(periods, bill__isnull=False, bill__issued_at__lt=end, created_at__lt=end)
        .annotate(district=Substr("bill__office__path", 9, 6))
        .values("insurance_type", "district")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    out: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for r in billed:
        out[(r["insurance_type"], r["district"] or "")][0] += _d(r["total"])
    for r in paid:
        out[(r["insurance_type"], r["district"] or "")][1] += _d(r["total"])
    return {k: (v[0], v[1]) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
# Indicators, warnings, notices.


def indicator_latest(*, fund: Fund | None = None) -> QuerySet[FundIndicator]:
    """The indicators of the most recent night (for the dashboard and the API)."""
    last = FundIndicator.objects.order_by("-on").values_list("on", flat=True).first()
    qs = FundIndicator.objects.select_related("fund", "office")
    if last is None:
        return qs.none()
    qs = qs.filter(on=last)
    if fund is not None:
        qs = qs.filter(fund=fund)
    return qs.order_by("fund__sort_order", "code", "office__code")


def indicator_history(*, fund: Fund, code: str, since: datetime.date | None = None) -> QuerySet[FundIndicator]:
    qs = FundIndicator.objects.filter(fund=fund, code=code, office__level=OfficeLevel.CITY)
    if since is not None:
        qs = qs.filter(on__gte=since)
    return qs.order_by("on")


def indicator_list() -> QuerySet[FundIndicator]:
    return FundIndicator.objects.select_related("fund", "office").order_by("-on", "fund__sort_order", "code")


def warning_list(*, status: str = "", fund: Fund | None = None) -> QuerySet[FundWarning]:
    qs = FundWarning.objects.select_related("fund", "office", "acknowledged_by")
    if status:
        qs = qs.filter(status=status)
    if fund is not None:
        qs = qs.filter(fund=fund)
    return qs.order_by("-opened_on", "-id")


def warning_open_count() -> int:
    return FundWarning.objects.filter(status=WarningStatus.OPEN).count()


def warning_get(*, uid: Any) -> FundWarning:
    return warning_list().select_related("indicator").get(uid=uid)


def notice_list(*, user: Any) -> QuerySet[Notice]:
    return Notice.objects.filter(user=user).select_related("warning").order_by("-created_at", "-id")


def notice_unread_count(*, user: Any) -> int:
    return Notice.objects.filter(user=user, read_at__isnull=True).count()


def fund_officers() -> QuerySet[User]:
    """Who is told about a new warning: active staff holding the fund officer role."""
    return User.objects.filter(is_active=True, groups__name=roles.FUND_OFFICER).distinct().order_by("id")
