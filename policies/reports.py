"""The unification report (二(一)3): each district's own value before unification beside the unified
city value after it, the difference, what sample persons and employers pay or receive before and
after, and where the clean-up of each district document stands.

Reads only; every figure comes from the one resolver. The sample amounts are estimates for the
report (the bill run in contributions is the authority on what is actually charged).
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from registry.selectors import office_districts
from registry.spreadsheets import workbook_neutralise

from . import codes as c
from .models import PolicyDocument
from .selectors import (
    ParameterNotFound,
    ResolvedParameter,
    RoundingRule,
    display_value,
    district_documents,
    parameter_catalogue,
    parameter_value,
    parameter_values,
)

# The demo data's unification date; the page lets the user pick any pair of dates.
DEFAULT_BEFORE = datetime.date(2017, 6, 30)
DEFAULT_AFTER = datetime.date(2017, 7, 1)


@dataclass(frozen=True)
class DistrictCell:
    district_code: str
    before: ResolvedParameter | None
    difference: Decimal | int | None
    differs: bool

    @property
    def own(self) -> bool:
        return self.before is not None and self.before.is_district_specific

    @property
    def text(self) -> str:
        return display_value(self.before) if self.before else "—"

    @property
    def difference_text(self) -> str:
        if self.difference is None:
            return _("不同") if self.differs else ""
        if self.difference == 0:
            return "0"
        sign = "+" if self.difference > 0 else ""
        return f"{sign}{_plain(self.difference)}"


@dataclass(frozen=True)
class ComparisonRow:
    code: str
    name: str
    unit: str
    city: ResolvedParameter | None
    cells: list[DistrictCell]

    @property
    def city_text(self) -> str:
        return display_value(self.city) if self.city else "—"

    @property
    def has_demo(self) -> bool:
        return bool(
            (self.city and self.city.is_demo) or any(cell.before and cell.before.is_demo for cell in self.cells)
        )


@dataclass(frozen=True)
class SampleCell:
    district_code: str
    before: Decimal | None
    after: Decimal | None

    @property
    def difference(self) -> Decimal | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


@dataclass(frozen=True)
class SampleRow:
    key: str
    label: str
    unit: str
    cells: list[SampleCell]


@dataclass(frozen=True)
class DocumentRow:
    document: PolicyDocument
    decision_label: str
    decision_status: str


@dataclass(frozen=True)
class UnificationReport:
    before: datetime.date
    after: datetime.date
    districts: list[tuple[str, str]]
    rows: list[ComparisonRow]
    samples: list[SampleRow]
    documents: list[DocumentRow]


def _plain(value: Decimal | int) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value != value.to_integral_value() else format(value.quantize(1), "f")
    return str(value)


def _difference(city: ResolvedParameter | None, old: ResolvedParameter | None) -> tuple[Decimal | int | None, bool]:
    if city is None or old is None:
        return None, city is not None or old is not None
    if isinstance(city.value, (Decimal, int)) and isinstance(old.value, (Decimal, int)):
        diff = city.value - old.value
        return diff, diff != 0
    return None, city.value != old.value


# ---------------------------------------------------------------------------------------------
# Sample persons and employers.


def _base(wage: Decimal, p: dict[str, ResolvedParameter]) -> Decimal:
    average = p[c.WAGE_AVERAGE_MONTHLY].value
    floor = average * p[c.BASE_FLOOR_RATIO].value
    ceiling = average * p[c.BASE_CEILING_RATIO].value
    return min(max(wage, floor), ceiling)


def _rule(p: dict[str, ResolvedParameter]) -> RoundingRule:
    value = p[c.MONEY_ROUNDING].value
    return RoundingRule(places=value["places"], mode=value["mode"])


_EMPLOYEE_BASE = (c.WAGE_AVERAGE_MONTHLY, c.BASE_FLOOR_RATIO, c.BASE_CEILING_RATIO, c.MONEY_ROUNDING)
_EMPLOYER_RATES = (
    c.RATE_EMP_PENSION_EMPLOYER,
    c.RATE_EMP_MEDICAL_EMPLOYER,
    c.RATE_UNEMPLOYMENT_EMPLOYER,
    c.RATE_MATERNITY_EMPLOYER,
)
_INDIVIDUAL_RATES = (
    c.RATE_EMP_PENSION_INDIVIDUAL,
    c.RATE_EMP_MEDICAL_INDIVIDUAL,
    c.RATE_UNEMPLOYMENT_INDIVIDUAL,
    c.RATE_MATERNITY_INDIVIDUAL,
)


def _employer_monthly(wage: Decimal, risk_class: str) -> Callable[[dict[str, ResolvedParameter]], Decimal]:
    def compute(p: dict[str, ResolvedParameter]) -> Decimal:
        base = _base(wage, p)
        rate = sum((p[code].value for code in _EMPLOYER_RATES), Decimal(0))
        rate += p[c.RATE_WORK_INJURY_BENCHMARK].value[risk_class]
        return _rule(p).apply(base * rate)

    return compute


def _individual_monthly(wage: Decimal) -> Callable[[dict[str, ResolvedParameter]], Decimal]:
    def compute(p: dict[str, ResolvedParameter]) -> Decimal:
        base = _base(wage, p)
        rate = sum((p[code].value for code in _INDIVIDUAL_RATES), Decimal(0))
        return _rule(p).apply(base * rate)

    return compute


def _flexible_monthly(p: dict[str, ResolvedParameter]) -> Decimal:
    base = p[c.WAGE_AVERAGE_MONTHLY].value * p[c.BASE_FLOOR_RATIO].value
    return _rule(p).apply(base * (p[c.RATE_FLEX_EMP_PENSION].value + p[c.RATE_FLEX_EMP_MEDICAL].value))


def _single(code: str) -> Callable[[dict[str, ResolvedParameter]], Decimal]:
    return lambda p: _rule(p).apply(p[code].value)


def _unemployment_benefit(p: dict[str, ResolvedParameter]) -> Decimal:
    return _rule(p).apply(p[c.WAGE_MINIMUM_MONTHLY].value * p[c.BENEFIT_UNEMPLOYMENT_RATIO_OF_MIN_WAGE].value)


def _land_farmer_individual(p: dict[str, ResolvedParameter]) -> Decimal:
    return _rule(p).apply(p[c.LAND_FARMER_FUNDING_PER_PERSON].value * p[c.LAND_FARMER_SHARES].value["individual"])


@dataclass(frozen=True)
class SampleCase:
    key: str
    label: str
    unit: str
    codes: tuple[str, ...]
    compute: Callable[[dict[str, ResolvedParameter]], Decimal]


SAMPLES: tuple[SampleCase, ...] = (
    SampleCase(
        "employer_5000",
        gettext_lazy("参保单位：职工月工资 5,000 元，工伤风险二类，单位月缴费"),
        gettext_lazy("元/月"),
        (*_EMPLOYEE_BASE, *_EMPLOYER_RATES, c.RATE_WORK_INJURY_BENCHMARK),
        _employer_monthly(Decimal(5000), "2"),
    ),
    SampleCase(
        "employee_5000",
        gettext_lazy("职工：月工资 5,000 元，个人月缴费"),
        gettext_lazy("元/月"),
        (*_EMPLOYEE_BASE, *_INDIVIDUAL_RATES),
        _individual_monthly(Decimal(5000)),
    ),
    SampleCase(
        "employee_30000",
        gettext_lazy("职工：月工资 30,000 元（超过上限按上限），个人月缴费"),
        gettext_lazy("元/月"),
        (*_EMPLOYEE_BASE, *_INDIVIDUAL_RATES),
        _individual_monthly(Decimal(30000)),
    ),
    SampleCase(
        "flexible_floor",
        gettext_lazy("灵活就业人员：按缴费基数下限，养老和医疗月缴费"),
        gettext_lazy("元/月"),
        (*_EMPLOYEE_BASE, c.RATE_FLEX_EMP_PENSION, c.RATE_FLEX_EMP_MEDICAL),
        _flexible_monthly,
    ),
    SampleCase(
        "res_medical_individual",
        gettext_lazy("城乡居民医保参保人：个人年缴费"),
        gettext_lazy("元/年"),
        (c.RES_MEDICAL_INDIVIDUAL, c.MONEY_ROUNDING),
        _single(c.RES_MEDICAL_INDIVIDUAL),
    ),
    SampleCase(
        "res_medical_subsidy",
        gettext_lazy("城乡居民医保参保人：人均财政补助"),
        gettext_lazy("元/年"),
        (c.RES_MEDICAL_SUBSIDY, c.MONEY_ROUNDING),
        _single(c.RES_MEDICAL_SUBSIDY),
    ),
    SampleCase(
        "res_pension_basic",
        gettext_lazy("城乡居民养老金领取人：基础养老金"),
        gettext_lazy("元/月"),
        (c.BENEFIT_RES_PENSION_BASIC_MONTHLY, c.MONEY_ROUNDING),
        _single(c.BENEFIT_RES_PENSION_BASIC_MONTHLY),
    ),
    SampleCase(
        "unemployment_benefit",
        gettext_lazy("失业人员：失业保险金"),
        gettext_lazy("元/月"),
        (c.WAGE_MINIMUM_MONTHLY, c.BENEFIT_UNEMPLOYMENT_RATIO_OF_MIN_WAGE, c.MONEY_ROUNDING),
        _unemployment_benefit,
    ),
    SampleCase(
        "land_farmer_benefit",
        gettext_lazy("被征地农民：基本生活保障金"),
        gettext_lazy("元/月"),
        (c.LAND_FARMER_BENEFIT_MONTHLY, c.MONEY_ROUNDING),
        _single(c.LAND_FARMER_BENEFIT_MONTHLY),
    ),
    SampleCase(
        "land_farmer_individual_share",
        gettext_lazy("被征地农民：人均筹资中个人承担部分"),
        gettext_lazy("元/人"),
        (c.LAND_FARMER_FUNDING_PER_PERSON, c.LAND_FARMER_SHARES, c.MONEY_ROUNDING),
        _land_farmer_individual,
    ),
)


def _sample_amount(sample: SampleCase, *, on: datetime.date, district_code: str) -> Decimal | None:
    try:
        params = parameter_values(sample.codes, on=on, district_code=district_code)
    except ParameterNotFound:
        return None
    return sample.compute(params)


# ---------------------------------------------------------------------------------------------
# The report.


def _resolve(code: str, *, on: datetime.date, district_code: str | None) -> ResolvedParameter | None:
    try:
        return parameter_value(code, on=on, district_code=district_code)
    except ParameterNotFound:
        return None


def unification_report(
    *,
    before: datetime.date = DEFAULT_BEFORE,
    after: datetime.date = DEFAULT_AFTER,
    only_differences: bool = True,
) -> UnificationReport:
    """Districts' values on ``before`` against the unified city values on ``after``.

    With ``only_differences`` a parameter is listed when some district had its own value or a
    value different from the unified one.
    """
    districts = [(o.code, o.short_name or o.name) for o in office_districts()]
    rows: list[ComparisonRow] = []
    for parameter in parameter_catalogue():
        city = _resolve(parameter.code, on=after, district_code=None)
        cells = []
        for code, _name in districts:
            old = _resolve(parameter.code, on=before, district_code=code)
            difference, differs = _difference(city, old)
            cells.append(DistrictCell(district_code=code, before=old, difference=difference, differs=differs))
        if only_differences and not any(cell.differs or cell.own for cell in cells):
            continue
        rows.append(
            ComparisonRow(code=parameter.code, name=parameter.name, unit=parameter.unit, city=city, cells=cells)
        )
    samples = [
        SampleRow(
            key=sample.key,
            label=str(sample.label),
            unit=str(sample.unit),
            cells=[
                SampleCell(
                    district_code=code,
                    before=_sample_amount(sample, on=before, district_code=code),
                    after=_sample_amount(sample, on=after, district_code=code),
                )
                for code, _name in districts
            ],
        )
        for sample in SAMPLES
    ]
    documents = []
    for document in district_documents().prefetch_related("decisions"):
        latest = max(document.decisions.all(), key=lambda d: (d.proposed_at, d.pk), default=None)
        documents.append(
            DocumentRow(
                document=document,
                decision_label=latest.get_decision_display() if latest else "",
                decision_status=latest.get_status_display() if latest else str(_("尚未提出")),
            )
        )
    return UnificationReport(
        before=before, after=after, districts=districts, rows=rows, samples=samples, documents=documents
    )


def unification_report_xlsx(report: UnificationReport) -> bytes:
    """The report as an Excel workbook: comparison, samples, district documents."""
    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    ws.title = _("参数对比")
    _comparison_sheet(ws, report, bold)

    ws = wb.create_sheet(_("示例测算"))
    header = [_("示例"), _("单位")]
    for _code, name in report.districts:
        header += [_("%(d)s 统一前") % {"d": name}, _("%(d)s 统一后") % {"d": name}, _("%(d)s 差额") % {"d": name}]
    ws.append(header)
    for cell in ws[1]:
        cell.font = bold
    for sample in report.samples:
        line = [sample.label, sample.unit]
        for cell in sample.cells:
            line += [cell.before, cell.after, cell.difference]
        ws.append(line)
    ws.freeze_panes = "C2"
    _widths(ws, {"A": 50})

    ws = wb.create_sheet(_("区级文件清理"))
    ws.append(
        [_("文号"), _("标题"), _("区"), _("状态"), _("失效日期"), _("最近处理意见"), _("决定状态"), _("演示数据")]
    )
    for cell in ws[1]:
        cell.font = bold
    for row in report.documents:
        doc = row.document
        ws.append(
            [
                doc.number,
                doc.title,
                doc.district.short_name if doc.district_id else "",
                doc.get_status_display(),
                doc.repealed_on.isoformat() if doc.repealed_on else "",
                row.decision_label,
                row.decision_status,
                _("是") if doc.is_demo else "",
            ]
        )
    _widths(ws, {"A": 26, "B": 50})

    out = io.BytesIO()
    workbook_neutralise(wb)  # titles and opinions typed by people never run as formulas
    wb.save(out)
    return out.getvalue()


def _comparison_sheet(ws, report: UnificationReport, bold: Font) -> None:
    """Per parameter the unified value and each district's former value, its source and the difference; rows
    that hold demo values are shaded."""
    demo_fill = PatternFill("solid", fgColor="FFF8C5")
    ws.append([_("统一前日期"), report.before.isoformat(), _("统一后日期"), report.after.isoformat()])
    header = [_("参数代码"), _("参数名称"), _("单位"), _("市区统一值"), _("依据文件")]
    for _code, name in report.districts:
        header += [_("%(d)s 原值") % {"d": name}, _("%(d)s 原值来源") % {"d": name}, _("%(d)s 差额") % {"d": name}]
    header.append(_("含演示数据"))
    ws.append([])
    ws.append(header)
    for cell in ws[3]:
        cell.font = bold
    for row in report.rows:
        line = [
            row.code,
            row.name,
            row.unit,
            _cell_value(row.city),
            row.city.document_number if row.city else "",
        ]
        for cell in row.cells:
            source = ""
            if cell.before is not None:
                source = (_("区自定") if cell.own else _("市区统一")) + " " + cell.before.document_number
            line += [
                _cell_value(cell.before),
                source,
                cell.difference if cell.difference is not None else cell.difference_text,
            ]
        line.append(_("是") if row.has_demo else "")
        ws.append(line)
        if row.has_demo:
            for cell in ws[ws.max_row]:
                cell.fill = demo_fill
    ws.freeze_panes = "C4"
    _widths(ws, {"A": 34, "B": 30, "D": 18, "E": 30})


def _cell_value(resolved: ResolvedParameter | None):
    if resolved is None:
        return ""
    if isinstance(resolved.value, (Decimal, int)):
        return resolved.value
    return display_value(resolved)


def _widths(ws, widths: dict[str, int]) -> None:
    for column, width in widths.items():
        ws.column_dimensions[column].width = width
