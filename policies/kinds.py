"""The kinds of parameter value and the shapes of table values: below the models and the value codec
(``policies.values``), which both need them. Import them from ``policies.models`` as before."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ParameterKind(models.TextChoices):
    RATE = "rate", _("费率（0–1）")
    AMOUNT = "amount", _("金额（元）")
    RATIO = "ratio", _("比例/倍数")
    MONTHS = "months", _("月数")
    INTEGER = "integer", _("整数")
    TABLE = "table", _("表")


DECIMAL_KINDS = (ParameterKind.RATE, ParameterKind.AMOUNT, ParameterKind.RATIO)
INTEGER_KINDS = (ParameterKind.MONTHS, ParameterKind.INTEGER)


class TableShape(models.TextChoices):
    NONE = "", _("（非表格）")
    BY_RISK_CLASS = "by_risk_class", _("按工伤风险类别（1–8）的费率")
    FLOAT_GRADES = "float_grades", _("按风险类别的浮动档次")
    GRADES = "grades", _("缴费档次及政府补贴")
    SHARES = "shares", _("分担比例（合计为 1）")
    THRESHOLDS = "thresholds", _("预警阈值（可支付月数）")
    ROUNDING = "rounding", _("金额舍入规则")
    COUNTS = "counts", _("按序号或等级的天数/月数")
