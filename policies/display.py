"""Parameter values as people read them: a table value (grades, rates by risk class, thresholds, sharing rules,
rounding, days or months by key) as a small table with Chinese headings, never as raw JSON; a single value as
text. Used by the policies pages (and any page showing a parameter through the ``param_value`` tag)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from registry.models import Office, OfficeLevel

from .kinds import TableShape
from .values import canonical_decimal


@dataclass(frozen=True)
class ValueTable:
    headers: list[str]
    rows: list[list[str]]


def _percent(value: Any) -> str:
    return f"{canonical_decimal(Decimal(value) * 100)}%"


_SHARE_NAMES = {"government": "政府", "collective": "村集体", "individual": "个人", "city": "市本级"}
_THRESHOLD_NAMES = {
    "alarm_below": "低于此值报警",
    "warn_below": "低于此值预警",
    "excess_above": "高于此值提示结余过多",
}
_ROUNDING_NAMES = {
    "ROUND_HALF_UP": "四舍五入",
    "ROUND_DOWN": "舍去",
    "ROUND_HALF_EVEN": "四舍六入五成双",
    "ROUND_UP": "进位",
}


def _share_name(key: str) -> str:
    if key in _SHARE_NAMES:
        return _(_SHARE_NAMES[key])
    office = Office.objects.filter(code=key, level=OfficeLevel.DISTRICT).first()
    return office.short_name or office.name if office else key


def value_table(shape: str, value: Any, unit: str = "") -> ValueTable | None:
    """The table of a table value by its shape (None for a single value or an unknown shape)."""
    if shape == TableShape.GRADES:
        return ValueTable(
            [_("档次"), _("年缴费额（元）"), _("政府补贴（元）")],
            [
                [str(r["grade"]), canonical_decimal(Decimal(r["amount"])), canonical_decimal(Decimal(r["subsidy"]))]
                for r in value
            ],
        )
    if shape == TableShape.BY_RISK_CLASS:
        return ValueTable([_("风险类别"), _("基准费率")], [[f"{k} 类", _percent(v)] for k, v in value.items()])
    if shape == TableShape.FLOAT_GRADES:
        return ValueTable(
            [_("风险类别"), _("浮动档次（倍）")],
            [[f"{k} 类", "、".join(canonical_decimal(Decimal(g)) for g in grades)] for k, grades in value.items()],
        )
    if shape == TableShape.SHARES:
        return ValueTable([_("分担方"), _("比例")], [[_share_name(k), _percent(v)] for k, v in value.items()])
    if shape == TableShape.THRESHOLDS:
        return ValueTable(
            [_("阈值"), _("可支付月数")],
            [[_(_THRESHOLD_NAMES.get(k, k)), canonical_decimal(Decimal(v))] for k, v in value.items()],
        )
    if shape == TableShape.ROUNDING:
        mode = str(value.get("mode", ""))
        return ValueTable(
            [_("保留小数位"), _("舍入方式")], [[str(value.get("places", "")), _(_ROUNDING_NAMES.get(mode, mode))]]
        )
    if shape == TableShape.COUNTS:
        return ValueTable([_("序号/等级"), unit or _("数值")], [[str(k), str(v)] for k, v in value.items()])
    return None
