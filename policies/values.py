"""Typing of parameter values: parse what a person typed (or an xlsx cell held) into the stored form,
check it against the parameter's kind and table shape, and turn stored values into Python values.

Pure functions, no database: used by the services, the admin forms and the xlsx import alike.
Tables are stored as JSON with decimals as strings (JSON has no decimal type; floats would lose cents).
"""

from __future__ import annotations

import decimal
import itertools
import json
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .kinds import DECIMAL_KINDS, INTEGER_KINDS, ParameterKind, TableShape

ROUNDING_MODES = (
    decimal.ROUND_HALF_UP,
    decimal.ROUND_HALF_EVEN,
    decimal.ROUND_HALF_DOWN,
    decimal.ROUND_UP,
    decimal.ROUND_DOWN,
    decimal.ROUND_CEILING,
    decimal.ROUND_FLOOR,
)
RISK_CLASSES = tuple(str(n) for n in range(1, 9))
THRESHOLD_KEYS = ("alarm_below", "warn_below", "excess_above")
# Places allowed per kind: money to the fen, rates and ratios to a millionth (0.0005 per day fits).
_PLACES = {ParameterKind.RATE: 6, ParameterKind.AMOUNT: 2, ParameterKind.RATIO: 6}


class ParameterLike(Protocol):
    code: str
    name: str
    kind: str
    shape: str
    table_keys: list
    min_value: Decimal | None
    max_value: Decimal | None


def _label(parameter: ParameterLike) -> str:
    return f"“{parameter.name}”（{parameter.code}）"


def _fail(parameter: ParameterLike, message: str, *, where: str = "", **params: Any) -> ValidationError:
    # ``where`` (e.g. "类别 3：") may hold user text, so it is never %-formatted.
    head = _("参数%(label)s：") % {"label": _label(parameter)}
    return ValidationError({"value": head + where + (message % params if params else message.replace("%%", "%"))})


def canonical_decimal(value: Decimal) -> str:
    """The shortest plain string of a decimal ("0.0020" → "0.002", "1E+2" → "100")."""
    text = format(value.normalize(), "f")
    return text


def parse_decimal(raw: Any) -> Decimal | None:
    """A Decimal from an int, Decimal, float (via its repr) or string ("14%" → 0.14); None when not a number."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        text = raw.strip().replace(",", "").replace("，", "")
        percent = text.endswith("%")
        if percent:
            text = text[:-1].strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            return None
        if percent:
            value = value / 100
    else:
        return None
    if not value.is_finite():
        return None
    return value


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _check_decimal(parameter: ParameterLike, kind: str, value: Decimal, *, where: str = "") -> Decimal:
    if kind == ParameterKind.RATE and not (Decimal(0) <= value <= Decimal(1)):
        raise _fail(parameter, _("费率必须在 0 到 1 之间（如 0.14 或 14%%），收到 %(v)s。"), where=where, v=value)
    if kind in (ParameterKind.AMOUNT, ParameterKind.RATIO) and value < 0:
        raise _fail(parameter, _("取值不能为负数，收到 %(v)s。"), where=where, v=value)
    places = _PLACES.get(kind, 6)
    if _places(value) > places:
        raise _fail(parameter, _("最多保留 %(n)s 位小数，收到 %(v)s。"), where=where, n=places, v=value)
    return value


def _check_bounds(parameter: ParameterLike, value: Decimal | int) -> None:
    if parameter.min_value is not None and value < parameter.min_value:
        raise _fail(parameter, _("取值不能低于 %(min)s，收到 %(v)s。"), min=parameter.min_value, v=value)
    if parameter.max_value is not None and value > parameter.max_value:
        raise _fail(parameter, _("取值不能高于 %(max)s，收到 %(v)s。"), max=parameter.max_value, v=value)


def _need_decimal(parameter: ParameterLike, kind: str, raw: Any, *, where: str = "") -> Decimal:
    value = parse_decimal(raw)
    if value is None:
        raise _fail(
            parameter,
            _("类型为“%(kind)s”，请填写数字，收到“%(raw)s”。"),
            where=where,
            kind=ParameterKind(kind).label,
            raw=str(raw)[:60],
        )
    return _check_decimal(parameter, kind, value, where=where)


def _need_int(parameter: ParameterLike, raw: Any, *, where: str = "") -> int:
    value = parse_decimal(raw)
    if value is None or value != value.to_integral_value():
        raise _fail(parameter, _("请填写整数，收到“%(raw)s”。"), where=where, raw=str(raw)[:60])
    return int(value)


def _load_table(parameter: ParameterLike, raw: Any) -> Any:
    if isinstance(raw, (dict, list)):
        return raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw, parse_float=Decimal)
        except ValueError:
            data = None
        if isinstance(data, (dict, list)):
            return data
        if data is not None:
            raise _fail(parameter, _("类型为表格，不能填写单个数值；请填写 JSON 对象或列表。"))
    raise _fail(
        parameter,
        _('类型为表格，请填写 JSON（如 {"1": "0.002"}），收到“%(raw)s”。'),
        raw=str(raw)[:60],
    )


def _table_by_risk_class(parameter: ParameterLike, data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        raise _fail(parameter, _('应为按风险类别 1–8 的对象，如 {"1": "0.002", …}。'))
    data = {str(k).strip(): v for k, v in data.items()}
    if sorted(data) != sorted(RISK_CLASSES):
        raise _fail(parameter, _("必须恰好包含风险类别 1 至 8，收到 %(keys)s。"), keys=", ".join(sorted(data)))
    return {
        k: canonical_decimal(_need_decimal(parameter, ParameterKind.RATE, data[k], where=_("类别 %s：") % k))
        for k in RISK_CLASSES
    }


def _table_float_grades(parameter: ParameterLike, data: Any) -> dict[str, list[str]]:
    if not isinstance(data, dict):
        raise _fail(parameter, _('应为按风险类别 1–8 的浮动档次列表，如 {"1": ["1", "1.2", "1.5"], …}。'))
    data = {str(k).strip(): v for k, v in data.items()}
    if sorted(data) != sorted(RISK_CLASSES):
        raise _fail(parameter, _("必须恰好包含风险类别 1 至 8，收到 %(keys)s。"), keys=", ".join(sorted(data)))
    out: dict[str, list[str]] = {}
    for k in RISK_CLASSES:
        grades = data[k]
        if not isinstance(grades, list) or not grades:
            raise _fail(parameter, _("类别 %(k)s 的浮动档次应为非空列表。"), k=k)
        values = sorted({_need_decimal(parameter, ParameterKind.RATIO, g, where=_("类别 %s：") % k) for g in grades})
        if Decimal(1) not in values:
            raise _fail(parameter, _("类别 %(k)s 的浮动档次必须包含基准档 1。"), k=k)
        if values[0] <= 0 or values[-1] > 3:
            raise _fail(parameter, _("类别 %(k)s 的浮动档次必须大于 0 且不超过 3 倍。"), k=k)
        out[k] = [canonical_decimal(v) for v in values]
    return out


def _table_grades(parameter: ParameterLike, data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not data:
        raise _fail(parameter, _('应为档次列表，如 [{"grade": 1, "amount": "100", "subsidy": "30"}, …]。'))
    rows = []
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict) or set(item) != {"grade", "amount", "subsidy"}:
            raise _fail(parameter, _("第 %(n)s 项必须恰好包含 grade、amount、subsidy。"), n=index)
        grade = _need_int(parameter, item["grade"], where=_("第 %s 项档次：") % index)
        if grade < 1:
            raise _fail(parameter, _("第 %(n)s 项档次必须从 1 起。"), n=index)
        amount = _need_decimal(parameter, ParameterKind.AMOUNT, item["amount"], where=_("第 %s 档缴费额：") % grade)
        subsidy = _need_decimal(parameter, ParameterKind.AMOUNT, item["subsidy"], where=_("第 %s 档补贴：") % grade)
        if amount <= 0:
            raise _fail(parameter, _("第 %(g)s 档缴费额必须大于 0。"), g=grade)
        rows.append((grade, amount, subsidy))
    rows.sort()
    grades = [g for g, _a, _s in rows]
    if len(set(grades)) != len(grades):
        raise _fail(parameter, _("档次编号不能重复。"))
    amounts = [a for _g, a, _s in rows]
    if any(b <= a for a, b in itertools.pairwise(amounts)):
        raise _fail(parameter, _("缴费额必须随档次递增。"))
    return [{"grade": g, "amount": canonical_decimal(a), "subsidy": canonical_decimal(s)} for g, a, s in rows]


def _table_shares(parameter: ParameterLike, data: Any) -> dict[str, str]:
    if not isinstance(data, dict) or not data:
        raise _fail(parameter, _('应为各方分担比例的对象，如 {"government": "0.3", …}。'))
    data = {str(k).strip(): v for k, v in data.items()}
    expected = [str(k) for k in (parameter.table_keys or [])]
    if expected and sorted(data) != sorted(expected):
        raise _fail(
            parameter,
            _("必须恰好包含 %(expected)s，收到 %(keys)s。"),
            expected="、".join(expected),
            keys="、".join(data),
        )
    shares = {k: _need_decimal(parameter, ParameterKind.RATE, v, where=f"{k}：") for k, v in data.items()}
    total = sum(shares.values(), Decimal(0))
    if total != 1:
        raise _fail(parameter, _("各方比例合计必须为 1，现为 %(total)s。"), total=total)
    order = expected or sorted(shares)
    return {k: canonical_decimal(shares[k]) for k in order}


def _table_thresholds(parameter: ParameterLike, data: Any) -> dict[str, str]:
    """alarm_below ≤ warn_below < excess_above months, and optionally high_above between warn_below and
    excess_above (the medical fund's "high" band, 人社部发〔2009〕67号)."""
    keys = sorted(data) if isinstance(data, dict) else []
    if keys not in (sorted(THRESHOLD_KEYS), sorted((*THRESHOLD_KEYS, "high_above"))):
        raise _fail(
            parameter, _("必须恰好包含 alarm_below、warn_below、excess_above（可支付月数），可另加 high_above。")
        )
    present = [k for k in (*THRESHOLD_KEYS, "high_above") if k in data]
    values = {k: _need_decimal(parameter, ParameterKind.RATIO, data[k], where=f"{k}：") for k in present}
    if not values["alarm_below"] <= values["warn_below"] < values["excess_above"]:
        raise _fail(parameter, _("阈值须满足 alarm_below ≤ warn_below < excess_above。"))
    if "high_above" in values and not values["warn_below"] <= values["high_above"] <= values["excess_above"]:
        raise _fail(parameter, _("阈值须满足 warn_below ≤ high_above ≤ excess_above。"))
    return {k: canonical_decimal(values[k]) for k in present}


def _table_rounding(parameter: ParameterLike, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or sorted(data) != ["mode", "places"]:
        raise _fail(parameter, _("必须恰好包含 places（小数位数）和 mode（舍入方式）。"))
    places = _need_int(parameter, data["places"], where="places：")
    if not 0 <= places <= 4:
        raise _fail(parameter, _("小数位数必须在 0 到 4 之间。"))
    mode = str(data["mode"]).strip().upper()
    if mode not in ROUNDING_MODES:
        raise _fail(parameter, _("舍入方式必须是 %(modes)s 之一。"), modes="、".join(ROUNDING_MODES))
    return {"places": places, "mode": mode}


def _table_counts(parameter: ParameterLike, data: Any) -> dict[str, int]:
    """Whole numbers (days, months) by key — the birth order of maternity leave, the disability grade of the
    work-injury subsidy; the keys are the parameter's ``table_keys``."""
    if not isinstance(data, dict) or not data:
        raise _fail(parameter, _('应为按序号或等级的整数对象，如 {"1": 27, "2": 25, …}。'))
    data = {str(k).strip(): v for k, v in data.items()}
    expected = [str(k) for k in (parameter.table_keys or [])]
    if expected and sorted(data) != sorted(expected):
        raise _fail(
            parameter,
            _("必须恰好包含 %(expected)s，收到 %(keys)s。"),
            expected="、".join(expected),
            keys="、".join(data),
        )
    values = {k: _need_int(parameter, v, where=f"{k}：") for k, v in data.items()}
    if any(v < 0 for v in values.values()):
        raise _fail(parameter, _("天数或月数不能为负数。"))
    return {k: values[k] for k in (expected or sorted(values))}


_SHAPES = {
    TableShape.BY_RISK_CLASS: _table_by_risk_class,
    TableShape.FLOAT_GRADES: _table_float_grades,
    TableShape.GRADES: _table_grades,
    TableShape.SHARES: _table_shares,
    TableShape.THRESHOLDS: _table_thresholds,
    TableShape.ROUNDING: _table_rounding,
    TableShape.COUNTS: _table_counts,
}


def coerce_value(parameter: ParameterLike, raw: Any) -> Decimal | int | dict | list:
    """The stored form of ``raw`` for this parameter, or a ValidationError on field ``value`` naming the problem."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _fail(parameter, _("请填写取值。"))
    kind = parameter.kind
    if kind in DECIMAL_KINDS:
        if isinstance(raw, (dict, list)):
            raise _fail(parameter, _("类型为“%(kind)s”，不能填写表格。"), kind=ParameterKind(kind).label)
        value = _need_decimal(parameter, kind, raw)
        _check_bounds(parameter, value)
        return value
    if kind in INTEGER_KINDS:
        if isinstance(raw, (dict, list)):
            raise _fail(parameter, _("类型为“%(kind)s”，不能填写表格。"), kind=ParameterKind(kind).label)
        value = _need_int(parameter, raw)
        if kind == ParameterKind.MONTHS and value < 0:
            raise _fail(parameter, _("月数不能为负数。"))
        _check_bounds(parameter, value)
        return value
    if kind == ParameterKind.TABLE:
        if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
            raise _fail(parameter, _("类型为表格，不能填写单个数值。"))
        check = _SHAPES.get(parameter.shape)
        if check is None:
            raise _fail(parameter, _("表格结构“%(shape)s”未定义。"), shape=parameter.shape)
        return check(parameter, _load_table(parameter, raw))
    raise _fail(parameter, _("未知的参数类型“%(kind)s”。"), kind=kind)


def to_python(kind: str, shape: str, stored: Any) -> Any:
    """The runtime value: Decimal for rate/amount/ratio, int for months/integer, a fresh dict/list for tables."""
    if kind in DECIMAL_KINDS:
        return stored
    if kind in INTEGER_KINDS:
        return stored
    if shape == TableShape.BY_RISK_CLASS or shape == TableShape.SHARES or shape == TableShape.THRESHOLDS:
        return {k: Decimal(v) for k, v in stored.items()}
    if shape == TableShape.FLOAT_GRADES:
        return {k: [Decimal(v) for v in grades] for k, grades in stored.items()}
    if shape == TableShape.GRADES:
        return [{"grade": r["grade"], "amount": Decimal(r["amount"]), "subsidy": Decimal(r["subsidy"])} for r in stored]
    if shape == TableShape.ROUNDING:
        return {"places": stored["places"], "mode": stored["mode"]}
    if shape == TableShape.COUNTS:
        return {k: int(v) for k, v in stored.items()}
    return json.loads(json.dumps(stored))


def to_text(kind: str, stored: Any) -> str:
    """How a value is written in forms, exports and pages (JSON for tables, so it can be imported back)."""
    if stored is None:
        return ""
    if kind in DECIMAL_KINDS:
        return canonical_decimal(stored)
    if kind in INTEGER_KINDS:
        return str(stored)
    return json.dumps(stored, ensure_ascii=False)


def to_jsonable(value: Any) -> Any:
    """Decimals as strings, recursively (API responses, snapshots recorded by other apps)."""
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value
