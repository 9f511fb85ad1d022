"""Yearly fund budgets (预算): drafted from last year's actuals and the growth rates a fund officer enters,
approved by a different user."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.audit import audited_save

from ..models import (
    EXPENDITURE_ACCOUNTS,
    INCOME_ACCOUNTS,
    Account,
    Budget,
    BudgetDirection,
    BudgetLine,
    BudgetStatus,
    Fund,
)
from ..selectors import account_totals, ledger_offices, year_bounds
from .common import check_fund, money_rule, require_perm

BUDGET_ACCOUNTS = INCOME_ACCOUNTS + EXPENDITURE_ACCOUNTS
_LABELS = dict(Account.choices)


def _growth(raw: Mapping[str, Any] | None) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    errors = []
    for account, value in (raw or {}).items():
        if account not in BUDGET_ACCOUNTS:
            errors.append(_("未知的收支科目“%(a)s”。") % {"a": account})
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            rate = Decimal(str(value).strip().rstrip("%"))
            if str(value).strip().endswith("%"):
                rate = rate / 100
        except (InvalidOperation, ValueError):
            errors.append(_("“%(a)s”的增长率“%(v)s”不是数字。") % {"a": _LABELS[account], "v": value})
            continue
        if not rate.is_finite() or rate < -1 or rate > 10:
            errors.append(
                _("“%(a)s”的增长率须在 -100%% 到 1000%% 之间，收到 %(v)s。") % {"a": _LABELS[account], "v": value}
            )
            continue
        if rate != rate.quantize(Decimal("0.000001")):
            errors.append(_("“%(a)s”的增长率最多 6 位小数。") % {"a": _LABELS[account]})
            continue
        out[account] = rate
    if errors:
        raise ValidationError({"growth": errors})
    return out


@transaction.atomic
def budget_draft(
    *,
    fund: Fund,
    year: int,
    growth: Mapping[str, Any] | None,
    acting_user: Any,
    note: str = "",
) -> Budget:
    """Draft (or redraft) the fund's budget for ``year``: each line = last year's actual of that category in that
    district × (1 + growth rate of the category), rounded by the money rule. An approved budget is final."""
    require_perm(acting_user, "funds.add_budget", _("您的角色无权编制基金预算。"))
    check_fund(fund)
    if not isinstance(year, int) or not 2000 <= year <= 2099:
        raise ValidationError({"year": _("预算年度“%(y)s”无效。") % {"y": year}})
    rates = _growth(growth)
    existing = Budget.objects.select_for_update().filter(fund=fund, year=year).first()
    if existing is not None and existing.status == BudgetStatus.APPROVED:
        raise ValidationError(
            {"year": _("“%(fund)s”%(year)s 年度预算已批准，不能重新编制。") % {"fund": fund.name, "year": year}}
        )
    base_year = year - 1
    lines = _budget_lines(fund, year, rates)
    if not lines:
        raise ValidationError(
            {
                "year": _("“%(fund)s”%(base)s 年度没有实际收支，无法按上年实际编制 %(year)s 年度预算。")
                % {"fund": fund.name, "base": base_year, "year": year}
            }
        )
    budget = existing or Budget(fund=fund, year=year)
    budget.status = BudgetStatus.DRAFT
    budget.base_year = base_year
    budget.growth = {k: str(v) for k, v in rates.items()}
    budget.note = (note or "").strip()
    budget.drafted_by = acting_user
    budget.drafted_at = timezone.now()
    audited_save(budget, acting_user=acting_user, reason=_("编制预算"))
    budget.lines.all().delete()
    for line in lines:
        line.budget = budget
        line.full_clean()
    BudgetLine.objects.bulk_create(lines)
    return budget


def _budget_lines(fund: Fund, year: int, rates: Mapping[str, Decimal]) -> list[BudgetLine]:
    """One line per budget account and district that had actuals in the year before (not saved yet)."""
    start, end = year_bounds(year - 1)
    actuals = account_totals(fund=fund, start=start, end=end, by_office=True)
    offices = {o.pk: o for o in ledger_offices()}
    rule = money_rule(datetime.date(year, 1, 1), "year")
    lines = []
    for (account, office_id), total in sorted(actuals.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if account not in BUDGET_ACCOUNTS or office_id not in offices:
            continue
        actual = Decimal(0) - total if account in INCOME_ACCOUNTS else total
        rate = rates.get(account, Decimal(0))
        amount = max(rule.apply(actual * (1 + rate)), Decimal(0))
        lines.append(
            BudgetLine(
                direction=BudgetDirection.INCOME if account in INCOME_ACCOUNTS else BudgetDirection.EXPENDITURE,
                account=account,
                office=offices[office_id],
                base_actual=actual,
                growth_rate=rate,
                amount=amount,
            )
        )
    return lines


@transaction.atomic
def budget_approve(*, budget: Budget, acting_user: Any, note: str = "") -> Budget:
    """Approve a draft budget. The author may not approve his own budget."""
    require_perm(acting_user, "funds.approve_budget", _("您的角色无权批准基金预算。"))
    budget = Budget.objects.select_for_update().select_related("fund").get(pk=budget.pk)
    if budget.status != BudgetStatus.DRAFT:
        raise ValidationError({"status": _("该预算已批准，不能重复批准。")})
    if budget.drafted_by_id == acting_user.pk:
        raise ValidationError({"approved_by": _("预算编制人不能批准自己编制的预算，须由另一位有审批权限的人员批准。")})
    if not budget.lines.exists():
        raise ValidationError({"lines": _("预算没有明细，不能批准。")})
    budget.status = BudgetStatus.APPROVED
    budget.approved_by = acting_user
    budget.approved_at = timezone.now()
    budget.approval_note = (note or "").strip()[:200]
    audited_save(budget, acting_user=acting_user, reason=_("批准预算"))
    return budget
