"""The layout of the four files a district delivers (docs/legacy-import.md): columns, the names each column may
carry in a legacy export, and the downloadable templates. Only shapes; every line is checked in SQL
(services/load.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from consolidation.models import FileKind


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...]
    required: bool
    note: str
    example: str


# The monthly history: one line per person and month, three columns per insurance (base, employer's and person's
# amount paid), headed by the insurance's short name: 养老缴费基数, 养老单位缴费, 养老个人缴费 …
HISTORY_HEADERS: dict[str, str] = {
    "emp_pension": "养老",
    "emp_medical": "医疗",
    "unemployment": "失业",
    "work_injury": "工伤",
    "maternity": "生育",
    "res_pension": "居民养老",
    "res_medical": "居民医疗",
    "land_farmer": "被征地农民",
}
_HISTORY_EXAMPLE = {
    "emp_pension": ("4000.00", "640.00", "320.00"),
    "emp_medical": ("4000.00", "240.00", "80.00"),
    "unemployment": ("4000.00", "20.00", "20.00"),
    "work_injury": ("4000.00", "16.00", ""),
    "maternity": ("4000.00", "12.00", ""),
}


def _insurance_columns(insurance: str) -> tuple[Column, ...]:
    name = HISTORY_HEADERS[insurance]
    base, employer, individual = _HISTORY_EXAMPLE.get(insurance, ("", "", ""))
    return (
        Column(f"{insurance}_base", f"{name}缴费基数", (f"{name}基数", f"{insurance}_base"), False, "元", base),
        Column(
            f"{insurance}_employer",
            f"{name}单位缴费",
            (f"{name}单位实缴", f"{insurance}_employer"),
            False,
            "元，空为 0",
            employer,
        ),
        Column(
            f"{insurance}_individual",
            f"{name}个人缴费",
            (f"{name}个人实缴", f"{insurance}_individual"),
            False,
            "元，空为 0",
            individual,
        ),
    )


def history_insurances(columns: dict[str, int]) -> list[str]:
    """The insurances whose columns a history file has (any of the three)."""
    return [i for i in HISTORY_HEADERS if any(f"{i}_{part}" in columns for part in ("base", "employer", "individual"))]


COLUMNS: dict[str, tuple[Column, ...]] = {
    FileKind.EMPLOYERS: (
        Column(
            "code",
            "统一社会信用代码",
            ("单位代码", "社会信用代码", "信用代码", "credit_code"),
            False,
            "18 位统一社会信用代码；没有时可只填组织机构代码",
            "91331003MA2H7K5Q8L",
        ),
        Column(
            "org_code",
            "组织机构代码",
            ("机构代码", "org_code"),
            False,
            "9 位（可带连字符，如 MA2H7K5Q-8）；按统一社会信用代码第 9–17 位匹配已登记单位",
            "",
        ),
        Column("name", "单位名称", ("名称", "name"), True, "", "台州市示例机械有限公司"),
        Column(
            "employer_type",
            "单位类型",
            ("type", "employer_type"),
            False,
            "企业、机关事业单位、个体工商户、其他；空为企业",
            "企业",
        ),
        Column("industry", "行业", ("所属行业", "industry"), False, "", "通用设备制造业"),
        Column("risk_class", "工伤风险类别", ("行业风险类别", "risk_class"), False, "1–8，空为 1", "4"),
        Column(
            "office",
            "所属机构代码",
            ("经办机构代码", "office"),
            False,
            "街道/乡镇或社区代码；空或不在本区时为本区",
            "331003001",
        ),
    ),
    FileKind.PERSONS: (
        Column(
            "id_number",
            "公民身份号码",
            ("身份证号码", "身份证号", "证件号码", "id_number"),
            True,
            "18 位或 15 位旧号码（自动升位）",
            "331003198003050015",
        ),
        Column("name", "姓名", ("name",), True, "", "王小明"),
        Column("sex", "性别", ("sex",), False, "男/女；号码有效时以号码为准", "男"),
        Column("birth_date", "出生日期", ("birth_date",), False, "号码有效时以号码为准", "1980-03-05"),
        Column(
            "household_type",
            "户籍类型",
            ("户口性质", "户籍性质", "household_type"),
            False,
            "城镇/农村，空为城镇",
            "城镇",
        ),
        Column("phone", "联系电话", ("电话", "手机号码", "phone"), False, "", "13805760000"),
        Column("address", "地址", ("联系地址", "居住地址", "address"), False, "", "浙江省台州市黄岩区劳动路 1 号"),
        Column("office", "所属机构代码", ("经办机构代码", "office"), False, "空或不在本区时为本区", "331003001"),
        Column("card_number", "社会保障卡号", ("社保卡号", "card_number"), False, "", ""),
        Column(
            "value_date",
            "最后修改日期",
            ("更新日期", "修改日期", "value_date"),
            False,
            "来源系统中该人员信息最后修改的日期，核对冲突时显示",
            "2024-06-30",
        ),
    ),
    FileKind.ENROLLMENTS: (
        Column(
            "id_number",
            "公民身份号码",
            ("身份证号码", "身份证号", "证件号码", "id_number"),
            True,
            "",
            "331003198003050015",
        ),
        Column("insurance", "险种", ("险种类型", "险种代码", "insurance"), True, "险种名称或代码（见下表）", "110"),
        Column(
            "employer_code",
            "单位代码",
            ("统一社会信用代码", "组织机构代码", "employer_code"),
            False,
            "职工险种必填（灵活就业除外）",
            "91331003MA2H7K5Q8L",
        ),
        Column("start_date", "参保开始日期", ("开始日期", "参保日期", "start_date"), True, "", "2010-01-01"),
        Column("end_date", "参保终止日期", ("终止日期", "停保日期", "end_date"), False, "空为持续参保", ""),
        Column("flexible", "灵活就业", ("是否灵活就业", "flexible"), False, "是/否", "否"),
    ),
    FileKind.HISTORY: (
        Column(
            "id_number",
            "公民身份号码",
            ("身份证号码", "身份证号", "证件号码", "id_number"),
            True,
            "",
            "331003198003050015",
        ),
        Column(
            "employer_code",
            "单位代码",
            ("统一社会信用代码", "组织机构代码", "employer_code"),
            False,
            "灵活就业、城乡居民为空",
            "91331003MA2H7K5Q8L",
        ),
        Column("period", "所属期", ("费款所属期", "缴费年月", "period"), True, "YYYYMM，如 201901", "201901"),
        *(column for insurance in HISTORY_HEADERS for column in _insurance_columns(insurance)),
        Column(
            "total",
            "缴费合计",
            ("合计", "实缴合计", "total"),
            False,
            "有此列时须等于各险种单位缴费与个人缴费之和",
            "1348.00",
        ),
    ),
}

# Insurance names and codes a legacy export may use, to our types. The numeric codes are the usual 险种类型
# codes (人社部信息标准 AAE140: 110 企业职工养老, 120 机关事业养老, 170 城乡居民养老, 210 失业, 310 职工医疗,
# 390 城乡居民医疗, 410 工伤, 510 生育) — demo value: each district's own code table is to be confirmed.
INSURANCE_ALIASES: dict[str, tuple[str, ...]] = {
    "emp_pension": (
        "110",
        "120",
        "职工基本养老保险",
        "企业职工基本养老保险",
        "机关事业单位养老保险",
        "基本养老保险",
        "养老保险",
        "养老",
    ),
    "emp_medical": ("310", "职工基本医疗保险", "基本医疗保险", "医疗保险", "医疗"),
    "unemployment": ("210", "失业保险", "失业"),
    "work_injury": ("410", "工伤保险", "工伤"),
    "maternity": ("510", "生育保险", "生育"),
    "res_pension": ("170", "城乡居民基本养老保险", "城乡居民养老保险", "居民养老保险", "居民养老"),
    "res_medical": ("390", "城乡居民基本医疗保险", "城乡居民医疗保险", "居民医疗保险", "居民医保"),
    "land_farmer": ("被征地农民基本生活保障", "被征地农民保障", "被征地农民"),
}


def _clean(value: str) -> str:
    return (value or "").strip().lstrip("\ufeff").replace(" ", "").replace("\u3000", "")


class LayoutError(Exception):
    """The header does not fit the layout: one message for the district."""


def header_columns(kind: str, header: list[str]) -> dict[str, int]:
    """Position of each layout column in ``header`` (0-based); LayoutError when a required one is missing."""
    cleaned = [_clean(h) for h in header]
    found: dict[str, int] = {}
    for column in COLUMNS[kind]:
        names = {column.header, *column.aliases}
        for index, name in enumerate(cleaned):
            if name in names or name.lower() in names:
                found.setdefault(column.key, index)
                break
    missing = [c.header for c in COLUMNS[kind] if c.required and c.key not in found]
    if kind == FileKind.EMPLOYERS and "code" not in found and "org_code" not in found:
        missing.insert(0, _("统一社会信用代码（或组织机构代码）"))
    if kind == FileKind.HISTORY and not history_insurances(found):
        missing.append(_("至少一个险种的缴费基数、单位缴费、个人缴费（如 养老缴费基数）"))
    if missing:
        shown = "、".join(h for h in cleaned if h) or _("（空）")
        expected = ",".join(c.header for c in COLUMNS[kind])
        raise LayoutError(
            _("文件缺少列：%(missing)s。列名行应为：%(expected)s；文件的列名行是：%(shown)s。")
            % {"missing": "、".join(missing), "expected": expected, "shown": shown[:300]}
        )
    return found


def template_csv(kind: str) -> bytes:
    """The empty file of ``kind`` with one example line, UTF-8 with BOM (Excel opens it as Chinese)."""
    columns = COLUMNS[kind]
    lines = [",".join(c.header for c in columns), ",".join(c.example for c in columns)]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")
