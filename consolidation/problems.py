"""Why a line was not imported: a code and a detail stored with the line (``RejectedLine``), the message made when
it is shown (in the user's language)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from registry.identifiers import id_number_mask


def _id_problem(detail: str) -> str:
    code, _sep, arg = detail.partition(":")
    if code == "id_characters":
        return _("只能由数字组成，最后一位可以是 X")
    if code == "id_length":
        return _("应为 18 位（或 15 位旧号码），现为 %(n)s 位") % {"n": arg}
    if code == "id_birth_date":
        return _("其中的出生日期不存在或不可能")
    if code == "id_check_digit":
        return _("校验位错误，最后一位应为 %(expected)s") % {"expected": arg}
    return detail


def _masked(value: str) -> str:
    return id_number_mask(value) if len(value) >= 15 else value


PROBLEMS = {
    "name_missing": lambda p: _("名称或姓名为空。"),
    "name_long": lambda p: _("姓名超过 50 个字符。"),
    "employer_code": lambda p: _("没有有效的统一社会信用代码或组织机构代码（“%(code)s”）。") % {"code": p[0] or p[1]},
    "employer_type": lambda p: (
        _("单位类型“%(value)s”无法识别（企业、机关事业单位、个体工商户、其他）。") % {"value": p[0]}
    ),
    "risk_class": lambda p: _("工伤风险类别“%(value)s”应为 1 到 8。") % {"value": p[0]},
    "employer_no_match": lambda p: (
        _("只有组织机构代码 %(code)s，登记中没有含此代码的统一社会信用代码：请补充统一社会信用代码后重新报送。")
        % {"code": p[0]}
    ),
    "id_missing": lambda p: _("没有公民身份号码，也没有出生日期和性别，无法核对身份。"),
    "id_unusable": lambda p: (
        _("公民身份号码“%(id)s”无效（%(why)s），且没有出生日期和性别，无法核对身份。")
        % {"id": _masked(p[0]), "why": _id_problem(p[1])}
    ),
    "id_invalid": lambda p: (
        _("公民身份号码“%(id)s”无效（%(why)s），登记中也找不到可能是同一人的人员：请更正号码后重新报送。")
        % {"id": _masked(p[0]), "why": _id_problem(p[1])}
    ),
    "separate": lambda p: _("经核对不是已登记的人员，且公民身份号码无效，不能登记：请更正号码后重新报送。"),
    "household_type": lambda p: _("户籍类型“%(value)s”无法识别（城镇或农村）。") % {"value": p[0]},
    "person_missing": lambda p: _("公民身份号码为空。"),
    "person_rejected": lambda p: _("该人员在人员文件中的行未通过检查（见人员文件的错误行）。"),
    "person_not_imported": lambda p: _("该人员未导入（见人员文件的未导入行），本行随之未导入。"),
    "unknown_person": lambda p: (
        _("公民身份号码“%(id)s”既不在本批人员文件中，也不在参保登记中。") % {"id": _masked(p[0])}
    ),
    "insurance": lambda p: _("险种“%(value)s”无法识别。") % {"value": p[1]},
    "start_date": lambda p: _("参保开始日期“%(value)s”无法识别。") % {"value": p[2]},
    "start_future": lambda p: _("参保开始日期 %(value)s 晚于今天。") % {"value": p[2]},
    "end_date": lambda p: _("参保终止日期“%(value)s”无法识别。") % {"value": p[3]},
    "end_before_start": lambda p: _("参保终止日期 %(end)s 早于开始日期 %(start)s。") % {"end": p[3], "start": p[2]},
    "employer_rejected": lambda p: _("该单位在单位文件中的行未通过检查（见单位文件的错误行）。"),
    "unknown_employer": lambda p: _("单位代码既不在本批单位文件中，也不在参保登记中。"),
    "flexible_insurance": lambda p: _("灵活就业人员只能参加职工基本养老保险和职工基本医疗保险。"),
    "flexible_with_employer": lambda p: _("灵活就业参保不填写单位代码。"),
    "employer_required": lambda p: _("职工险种须填写单位代码（灵活就业除外）。"),
    "employer_not_allowed": lambda p: _("城乡居民险种和被征地农民保障不填写单位代码。"),
    "overlap_in_file": lambda p: _("与本文件中同一人员同一险种的另一条登记期间重叠。"),
    "period": lambda p: _("所属期“%(value)s”不是有效的年月（YYYYMM）。") % {"value": p[2]},
    "period_future": lambda p: _("所属期 %(value)s 晚于本月。") % {"value": p[2]},
    "base": lambda p: (
        _("%(insurance)s缴费基数“%(value)s”不是金额（元，最多两位小数，不能为负；填了该险种的缴费时必填）。")
        % {"insurance": p[1], "value": p[3]}
    ),
    "employer_amount": lambda p: (
        _("%(insurance)s单位缴费“%(value)s”不是金额（元，最多两位小数，不能为负）。")
        % {"insurance": p[1], "value": p[4]}
    ),
    "individual_amount": lambda p: (
        _("%(insurance)s个人缴费“%(value)s”不是金额（元，最多两位小数，不能为负）。")
        % {"insurance": p[1], "value": p[5]}
    ),
    "no_insurance": lambda p: _("本行没有任何险种的缴费基数或金额。"),
    "total": lambda p: _("缴费合计“%(value)s”不是金额。") % {"value": p[6]},
    "amount_sum": lambda p: (
        _("金额对不上：各险种单位缴费 %(e)s + 个人缴费 %(i)s ≠ 缴费合计 %(t)s。") % {"e": p[4], "i": p[5], "t": p[6]}
    ),
    "duplicate_in_file": lambda p: (
        _("同一人员和所属期在本文件中重复（首次在第 %(first)s 行），只导入一次。") % {"first": p[0]}
    ),
    "differs_from_loaded": lambda p: (
        _("本区此前已导入同一人员和所属期的缴费，金额不同（已导入 %(amount)s 元）：历史记录不改写，请核实。")
        % {"amount": p[0]}
    ),
}


def problem_text(code: str, detail: str) -> str:
    render = PROBLEMS.get(code)
    if render is None:
        return code
    parts = (detail or "").split("|")
    return str(render(parts + [""] * 8))


def line_problem_text(line_no: int, code: str, detail: str) -> str:
    return _("第 %(line)s 行：%(problem)s") % {"line": line_no, "problem": problem_text(code, detail)}
