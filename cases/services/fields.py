"""Reading an item field's typed text back (``field_*``: full-width digits and separators accepted), for the
handlers of ``counter_items``; the fields themselves are ``effects.FieldSpec``."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_FULL_WIDTH = str.maketrans("０１２３４５６７８９．，－　", "0123456789.,- ")


def field_text(value: Any, field: str, label: Any, *, max_length: int = 60, required: bool = True) -> str:
    text = " ".join(str(value or "").translate(_FULL_WIDTH).split())
    if required and not text:
        raise ValidationError({field: [_("请填写%(label)s。") % {"label": label}]})
    if len(text) > max_length:
        raise ValidationError({field: [_("%(label)s不能超过 %(n)d 个字。") % {"label": label, "n": max_length}]})
    return text


def field_decimal(value: Any, field: str, label: Any, *, places: int = 2) -> Decimal:
    """A positive amount as typed (full-width digits and thousands separators accepted)."""
    text = str(value or "").translate(_FULL_WIDTH).replace(",", "").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationError({field: [_("%(label)s应为金额，如 6500.00。") % {"label": label}]}) from None
    if not amount.is_finite() or amount <= 0 or amount >= Decimal("1e9"):
        raise ValidationError({field: [_("%(label)s应大于 0 且小于 10 亿。") % {"label": label}]})
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise ValidationError({field: [_("%(label)s最多 %(n)d 位小数。") % {"label": label, "n": places}]})
    return amount


def field_choice(value: Any, field: str, label: Any, choices: tuple[tuple[str, Any], ...]) -> str:
    text = str(value or "").translate(_FULL_WIDTH).strip()
    if text not in dict(choices):
        raise ValidationError({field: [_("请选择%(label)s。") % {"label": label}]})
    return text


def field_date(value: Any, field: str, label: Any) -> datetime.date:
    if isinstance(value, datetime.date):
        return value
    text = str(value or "").translate(_FULL_WIDTH).strip()
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ValidationError({field: [_("%(label)s格式应为 YYYY-MM-DD。") % {"label": label}]}) from None


def field_period(value: Any, field: str, label: Any) -> int:
    """A month as YYYYMM from "2025-03", "2025.03", "202503" or "2025年3月"."""
    text = str(value or "").translate(_FULL_WIDTH).strip()
    match = re.fullmatch(r"(\d{4})\s*(?:[-./年]\s*)?(\d{1,2})\s*月?", text)
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1950 <= int(match.group(1)) <= 2099:
        raise ValidationError({field: [_("%(label)s格式应为 YYYY-MM，如 2019-01。") % {"label": label}]})
    return int(match.group(1)) * 100 + int(match.group(2))
