"""Year close (决算) and the two-level sharing (两级分担) of a year's gap.

**Sharing rule** (``sharing.subsidy_rule``: ratios {"city", "331002", "331003", "331004"} summing to 1) and
**method** (``sharing.subsidy_method``), both in force on 31 December of the year:

* 1 — fixed ratios: each district pays gap × its ratio; the city pays the rest (gap × its ratio, plus the
  rounding remainder of at most a few fen).
* 2 — by cause: the city pays gap × its ratio; the districts' part (the rest of the gap) is split in
  proportion to the deficit each district caused (its expenditure − its income that year; a district with
  a surplus caused none). When no district has a deficit (the gap arose at the city level), the districts'
  part is split by their fixed ratios. Rounding remainder again to the city.

The computation and everything it used (ratios, parameter versions, each district's income, expenditure
and deficit) are recorded on ``SubsidySharing`` and its ``SubsidyShare`` lines.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from policies.selectors import ParameterNotFound, RoundingRule, parameter_value
from registry.audit import audited_save, recorded_user
from registry.models import Office, OfficeLevel

from .. import codes
from ..models import Fund, FundYear, FundYearStatus, SharingMethod, SubsidyShare, SubsidySharing
from ..selectors import district_income_expenditure, final_accounts, income_expenditure, year_bounds
from .common import check_fund, city_office, money_rule, require_perm, today
from .posting import contribution_income_post

CITY = "city"
_RATIO_PLACES = Decimal("0.000000001")
METHODS = {codes.SHARING_METHOD_FIXED: SharingMethod.FIXED, codes.SHARING_METHOD_BY_CAUSE: SharingMethod.BY_CAUSE}


@dataclass(frozen=True)
class ShareLine:
    party: str
    ratio: Decimal
    amount: Decimal
    caused: Decimal | None = None


def sharing_split(
    *,
    gap: Decimal,
    method: str,
    rule: Mapping[str, Decimal],
    district_deficits: Mapping[str, Decimal] | None = None,
    rounding: RoundingRule,
) -> list[ShareLine]:
    """Split ``gap`` between the city and the districts (pure arithmetic; see the module docstring)."""
    if gap <= 0:
        raise ValidationError({"gap": _("收支没有缺口，无需分担。")})
    if CITY not in rule:
        raise ValidationError({"rule": _("分担比例缺少市级（city）。")})
    districts = sorted(k for k in rule if k != CITY)
    if not districts:
        raise ValidationError({"rule": _("分担比例没有任何区。")})
    deficits = {d: max(Decimal((district_deficits or {}).get(d, 0)), Decimal(0)) for d in districts}
    if method == SharingMethod.FIXED:
        ratios = {d: Decimal(rule[d]) for d in districts}
        caused = dict.fromkeys(districts)
    elif method == SharingMethod.BY_CAUSE:
        districts_part = Decimal(1) - Decimal(rule[CITY])
        total_deficit = sum(deficits.values(), Decimal(0))
        if total_deficit > 0:
            ratios = {d: districts_part * deficits[d] / total_deficit for d in districts}
        else:
            fixed_total = sum((Decimal(rule[d]) for d in districts), Decimal(0))
            ratios = {
                d: (districts_part * Decimal(rule[d]) / fixed_total) if fixed_total else Decimal(0) for d in districts
            }
        caused = dict(deficits)
    else:
        raise ValidationError({"method": _("未知的分担方式“%(m)s”。") % {"m": method}})
    lines = [
        ShareLine(
            party=d, ratio=ratios[d].quantize(_RATIO_PLACES), amount=rounding.apply(gap * ratios[d]), caused=caused[d]
        )
        for d in districts
    ]
    city_amount = gap - sum((line.amount for line in lines), Decimal(0))
    city_ratio = Decimal(1) - sum((ratios[d] for d in districts), Decimal(0))
    return [ShareLine(party=CITY, ratio=city_ratio.quantize(_RATIO_PLACES), amount=city_amount), *lines]


@transaction.atomic
def subsidy_sharing_compute(*, fund: Fund, year: int, acting_user: Any) -> SubsidySharing | None:
    """Record how the ``year``'s gap of ``fund`` is covered by the city and each district (None: no gap)."""
    check_fund(fund)
    if SubsidySharing.objects.filter(fund=fund, year=year).exists():
        raise ValidationError(
            {"year": _("“%(fund)s”%(year)s 年度的缺口分担已经计算。") % {"fund": fund.name, "year": year}}
        )
    start, end = year_bounds(year)
    income, expenditure = income_expenditure(fund=fund, start=start, end=end)
    gap = expenditure - income
    if gap <= 0:
        return None
    rule_value, method_value, method, rule = _sharing_rule(end)
    offices = {o.code: o for o in Office.objects.filter(level=OfficeLevel.DISTRICT)}
    if missing := [k for k in rule if k != CITY and k not in offices]:
        raise ValidationError({"rule": _("分担比例中的区划代码 %(codes)s 不存在。") % {"codes": "、".join(missing)}})
    by_office = district_income_expenditure(fund=fund, year=year)
    net = {code: by_office.get(o.pk, (Decimal(0), Decimal(0))) for code, o in offices.items()}
    deficits = {code: exp - inc for code, (inc, exp) in net.items()}
    city = city_office()
    rounding = money_rule(end, "year")
    lines = sharing_split(gap=gap, method=method, rule=rule, district_deficits=deficits, rounding=rounding)
    basis = {
        "rule_code": codes.SHARING_SUBSIDY_RULE,
        "rule_value_id": rule_value.value_id,
        "rule_document": rule_value.document_number,
        "method_code": codes.SHARING_SUBSIDY_METHOD,
        "method_value_id": method_value.value_id,
        "method_value": method_value.value,
        "rounding": {"places": rounding.places, "mode": rounding.mode, "remainder_to": CITY},
        **_sharing_net_basis(net, by_office.get(city.pk, (Decimal(0), Decimal(0)))),
    }
    parties = {CITY: city, **offices}
    figures = {"year": year, "exp": expenditure, "inc": income, "gap": gap, "doc": rule_value.document_number}
    sharing = SubsidySharing(
        fund=fund,
        year=year,
        income=income,
        expenditure=expenditure,
        gap=gap,
        method=method,
        rule={k: str(v) for k, v in rule.items()},
        basis=basis,
        explanation=_sharing_explanation(method)
        % {**figures, "parts": "；".join(f"{parties[line.party].name} {line.amount} 元" for line in lines)},
        computed_by=recorded_user(acting_user),
    )
    audited_save(sharing, acting_user=acting_user)
    for line in lines:
        share = SubsidyShare(
            sharing=sharing,
            party=line.party,
            office=parties[line.party],
            ratio=line.ratio,
            caused=line.caused,
            amount=line.amount,
        )
        audited_save(share, acting_user=acting_user)
    return sharing


def _sharing_rule(end: datetime.date) -> tuple[Any, Any, str, dict[str, Decimal]]:
    """(rule value, method value, method, ratios by party) of the sharing parameters in force on ``end``."""
    try:
        rule_value = parameter_value(codes.SHARING_SUBSIDY_RULE, on=end)
        method_value = parameter_value(codes.SHARING_SUBSIDY_METHOD, on=end)
    except ParameterNotFound as exc:
        raise ValidationError({"rule": exc.messages}) from None
    method = METHODS.get(method_value.value)
    if method is None:
        raise ValidationError(
            {
                "method": _("参数 %(code)s 的取值 %(v)s 无效（1 为固定比例，2 为按缺口成因）。")
                % {"code": codes.SHARING_SUBSIDY_METHOD, "v": method_value.value}
            }
        )
    return rule_value, method_value, method, {k: Decimal(v) for k, v in rule_value.value.items()}


def _sharing_net_basis(net: dict[str, tuple[Decimal, Decimal]], city: tuple[Decimal, Decimal]) -> dict[str, Any]:
    """The districts' and the city level's own income, expenditure and deficit, as the basis records them."""
    city_inc, city_exp = city
    return {
        "districts": {
            code: {"income": str(inc), "expenditure": str(exp), "deficit": str(exp - inc)}
            for code, (inc, exp) in sorted(net.items())
        },
        "city_level": {"income": str(city_inc), "expenditure": str(city_exp), "deficit": str(city_exp - city_inc)},
    }


def _sharing_explanation(method: str) -> str:
    if method == SharingMethod.FIXED:
        return _(
            "%(year)s 年度支出 %(exp)s 元，收入 %(inc)s 元，缺口 %(gap)s 元，按固定比例分担：%(parts)s（依据 %(doc)s）。"
        )
    return _(
        "%(year)s 年度支出 %(exp)s 元，收入 %(inc)s 元，缺口 %(gap)s 元；市级按比例承担，其余由各区按各自形成的缺口分担：%(parts)s（依据 %(doc)s）。"
    )


@transaction.atomic
def fund_year_close(*, fund: Fund, year: int, acting_user: Any) -> FundYear:
    """Close ``year`` of ``fund``: post what contributions still owe the ledger for the year, store the final
    accounts, compute the sharing of a gap. Afterwards no entry may be dated in that year."""
    require_perm(acting_user, "funds.close_fundyear", _("您的角色无权办理基金年度结账。"))
    check_fund(fund)
    if not isinstance(year, int) or year < 2000:
        raise ValidationError({"year": _("年度“%(y)s”无效。") % {"y": year}})
    if today() <= datetime.date(year, 12, 31):
        raise ValidationError({"year": _("%(year)s 年度尚未结束，不能结账。") % {"year": year}})
    fund_year = FundYear.objects.select_for_update().filter(fund=fund, year=year).first()
    if fund_year is not None and fund_year.status == FundYearStatus.CLOSED:
        raise ValidationError({"year": _("“%(fund)s”%(year)s 年度已经结账。") % {"fund": fund.name, "year": year}})
    next_jan1 = timezone.make_aware(datetime.datetime(year + 1, 1, 1))
    contribution_income_post(up_to=next_jan1, acting_user=acting_user, city_wide=True)
    accounts = final_accounts(fund=fund, year=year)
    fund_year = fund_year or FundYear(fund=fund, year=year)
    fund_year.status = FundYearStatus.CLOSED
    fund_year.balance_start = accounts.balance_start
    fund_year.income = accounts.income_total
    fund_year.expenditure = accounts.expenditure_total
    fund_year.balance_end = accounts.balance_end
    fund_year.final_accounts = accounts.as_json()
    fund_year.closed_at = timezone.now()
    fund_year.closed_by = recorded_user(acting_user)
    audited_save(fund_year, acting_user=acting_user, reason=_("年度结账"))
    if accounts.expenditure_total > accounts.income_total:
        subsidy_sharing_compute(fund=fund, year=year, acting_user=acting_user)
    return fund_year
