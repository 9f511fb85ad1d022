"""Helpers shared by the funds services (not public: import the services from ``funds.services``)."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from policies.selectors import ParameterNotFound, RoundingRule, rounding_rule
from registry.exceptions import PermissionDeniedError
from registry.models import Office, OfficeLevel

from ..models import Fund, FundYear, FundYearStatus


def require_perm(acting_user: Any, perm: str, message: str) -> None:
    if acting_user is None or not acting_user.has_perm(perm):
        raise PermissionDeniedError(message)


def today() -> datetime.date:
    return timezone.localdate()


def city_office() -> Office:
    return Office.objects.get(level=OfficeLevel.CITY)


def money_rule(on: datetime.date, field: str = "amount") -> RoundingRule:
    try:
        return rounding_rule(on=on)
    except ParameterNotFound as exc:
        raise ValidationError({field: exc.messages}) from None


def parse_money(raw: Any, *, field: str, on: datetime.date, label: str = "") -> Decimal:
    """A Decimal amount to the money unit of the rounding rule in force; refuses text, NaN and extra places."""
    what = label or _("金额")
    if isinstance(raw, bool) or raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ValidationError({field: _("请填写%(what)s。") % {"what": what}})
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValidationError(
            {field: _("%(what)s“%(raw)s”不是数字。") % {"what": what, "raw": str(raw)[:40]}}
        ) from None
    if not value.is_finite():
        raise ValidationError({field: _("%(what)s“%(raw)s”不是数字。") % {"what": what, "raw": str(raw)[:40]}})
    rule = money_rule(on, field)
    if value != rule.apply(value):
        raise ValidationError(
            {
                field: _("%(what)s最多 %(places)s 位小数，收到 %(raw)s。")
                % {"what": what, "places": rule.places, "raw": raw}
            }
        )
    return value


def check_fund(fund: Any, field: str = "fund") -> Fund:
    if not isinstance(fund, Fund):
        raise ValidationError({field: _("请选择基金。")})
    if not fund.is_active:
        raise ValidationError({field: _("基金“%(fund)s”已停用。") % {"fund": fund.name}})
    return fund


def check_ledger_office(office: Any, field: str = "office") -> Office:
    if not isinstance(office, Office):
        raise ValidationError({field: _("请选择收支所属的区（或市本级）。")})
    if office.level not in (OfficeLevel.CITY, OfficeLevel.DISTRICT):
        raise ValidationError(
            {field: _("收支按区记账：“%(office)s”不是区或市本级，请选择它所在的区。") % {"office": office.name}}
        )
    return office


def check_date(value: Any, field: str) -> datetime.date:
    if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
        raise ValidationError({field: _("请填写日期（YYYY-MM-DD）。")})
    return value


def closed_year(fund: Fund, year: int) -> bool:
    return FundYear.objects.filter(fund=fund, year=year, status=FundYearStatus.CLOSED).exists()


def check_open_year(fund: Fund, on: datetime.date, field: str = "booked_on") -> None:
    if closed_year(fund, on.year):
        raise ValidationError(
            {
                field: _(
                    "“%(fund)s”%(year)s 年度已结账（决算），不能再记入该年度的分录；更正请以本年度日期记冲销或调整凭证。"
                )
                % {"fund": fund.name, "year": on.year}
            }
        )
