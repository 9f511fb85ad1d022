"""Problems of payment-file lines: a code and a detail stored on the line (``PaymentFileLine.problem_code`` /
``problem_detail``, written by the set-based checks in SQL), the message made when it is shown. Below the
models (``PaymentFileLine.problem_text``) and the file layout, so both may use it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from registry.identifiers import id_number_mask

_PROBLEMS = {
    "cell": lambda p: p[0],
    "reference_missing": lambda p: _("流水号为空。"),
    "reference_long": lambda p: _("流水号“%(ref)s…”超过 64 个字符。") % {"ref": p[0][:64]},
    "payer_type": lambda p: _("缴费方类型“%(value)s”无法识别：应为“单位”或“个人”。") % {"value": p[0]},
    "payer_code_format": lambda p: (
        (
            _("统一社会信用代码“%(code)s”格式不正确：应为 18 位数字或大写字母（不含 I、O、Z、S、V）。")
            if p[0] == "employer"
            else _("公民身份号码“%(code)s”格式不正确：应为 18 位数字，最后一位可以是 X。")
        )
        % {"code": _masked(p)}
    ),
    "amount_format": lambda p: _("金额“%(value)s”不是数字。") % {"value": p[0]},
    "amount_not_positive": lambda p: _("金额 %(value)s 不是正数：到账金额必须大于 0。") % {"value": p[0]},
    "amount_decimals": lambda p: _("金额 %(value)s 超过两位小数（最小单位为分）。") % {"value": p[0]},
    "amount_too_large": lambda p: _("金额 %(value)s 位数过多（最多 12 位整数）。") % {"value": p[0]},
    "period": lambda p: _("所属期“%(value)s”不是有效的年月（应为 YYYYMM，如 202510）。") % {"value": p[0]},
    "paid_on": lambda p: _("到账日期“%(value)s”无法识别（应为 YYYY-MM-DD）。") % {"value": p[0]},
    "paid_on_future": lambda p: _("到账日期 %(value)s 晚于今天。") % {"value": p[0]},
    "duplicate_in_file": lambda p: (
        _(
            "流水号 %(ref)s 在本文件中出现 %(n)s 次（首次在第 %(first)s 行），且缴费方或金额不同；同一流水号只能是一笔到账。"
        )
        % {"ref": p[0], "first": p[1], "n": p[2]}
    ),
    "reference_conflict": lambda p: (
        _("流水号 %(ref)s 已登记为另一笔到账（金额 %(amount)s），与本行的缴费方或金额不一致，请核实。")
        % {"ref": p[0], "amount": _money_text(p[1])}
    ),
    "unknown_payer": lambda p: (
        (
            _("统一社会信用代码 %(code)s 在参保登记中没有对应的单位。")
            if p[0] == "employer"
            else _("公民身份号码 %(code)s 在参保登记中没有对应的人员。")
        )
        % {"code": _masked(p)}
    ),
    "out_of_jurisdiction": lambda p: _("缴费方 %(code)s 不在您的辖区内。") % {"code": _masked(p)},
}
PROBLEM_CODES = tuple(_PROBLEMS)


def _money_text(value: str) -> str:
    try:
        return f"{Decimal(value):.2f}"
    except InvalidOperation:
        return value


def _masked(parts: list[str]) -> str:
    payer_type, code = (parts + ["", ""])[:2]
    return id_number_mask(code) if payer_type == "person" and len(code) == 18 else code


def problem_text(code: str, detail: str) -> str:
    render = _PROBLEMS.get(code)
    if render is None:
        return code
    parts = (detail or "").split("|")
    return str(render(parts + [""] * 3))


def line_problem_text(line_no: int, code: str, detail: str) -> str:
    return _("第 %(line)s 行：%(problem)s") % {"line": line_no, "problem": problem_text(code, detail)}
