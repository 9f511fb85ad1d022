"""Contribution periods (缴费所属期) are months written YYYYMM, e.g. 202611."""

from __future__ import annotations

import calendar
import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _


def period_parse(value: object, *, field: str = "period", allow_future: bool = False) -> int:
    text = str(value).strip() if value is not None else ""
    if len(text) != 6 or not text.isdigit():
        raise ValidationError(
            {field: _("所属期应为 6 位年月（YYYYMM），如 202611；收到“%(value)s”。") % {"value": text}}
        )
    period = int(text)
    year, month = divmod(period, 100)
    if not (2000 <= year <= 2099 and 1 <= month <= 12):
        raise ValidationError({field: _("所属期 %(value)s 不是有效的年月。") % {"value": text}})
    if not allow_future and period > period_of(timezone.localdate()):
        raise ValidationError({field: _("所属期 %(value)s 尚未到来，不能申报或核定未来月份。") % {"value": text}})
    return period


def period_of(day: datetime.date) -> int:
    return day.year * 100 + day.month


def period_first_day(period: int) -> datetime.date:
    return datetime.date(period // 100, period % 100, 1)


def period_last_day(period: int) -> datetime.date:
    year, month = divmod(period, 100)
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def period_add(period: int, months: int) -> int:
    year, month = divmod(period, 100)
    index = year * 12 + (month - 1) + months
    return (index // 12) * 100 + index % 12 + 1


def period_label(period: int) -> str:
    return f"{period // 100}年{period % 100:02d}月"
