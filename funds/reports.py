"""Budget, budget execution and final accounts as tables, written to xlsx (openpyxl) or PDF (ReportLab).

The Chinese PDF font is ``registry.pdf_fonts`` (an embeddable TrueType CJK font when one is installed,
else Adobe's CID font STSong-Light; see ``registry/pdf_fonts.py``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from registry.pdf_fonts import pdf_font, pdf_markup
from registry.spreadsheets import workbook_neutralise

from .models import Budget, BudgetDirection
from .selectors import BudgetExecution, FinalAccounts

_DIRECTIONS = dict(BudgetDirection.choices)


@dataclass
class Report:
    title: str
    subtitle: str
    header: list[str]
    rows: list[list[Any]]
    bold_rows: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    filename: str = "report"


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}%"


def _rate(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"


def budget_report(budget: Budget) -> Report:
    header = ["收支", "科目", "所属区", "上年实际（元）", "增长率", "预算数（元）"]
    rows: list[list[Any]] = []
    bold = set()
    lines = list(budget.lines.select_related("office").order_by("direction", "account", "office__code"))
    for direction in (BudgetDirection.INCOME, BudgetDirection.EXPENDITURE):
        mine = [line for line in lines if line.direction == direction]
        for line in mine:
            rows.append(
                [
                    str(_DIRECTIONS[direction]),
                    line.get_account_display(),
                    line.office.name,
                    line.base_actual,
                    _rate(line.growth_rate),
                    line.amount,
                ]
            )
        bold.add(len(rows))
        rows.append(
            [
                f"{_DIRECTIONS[direction]}合计",
                "",
                "",
                sum((x.base_actual for x in mine), Decimal(0)),
                "",
                sum((x.amount for x in mine), Decimal(0)),
            ]
        )
    notes = [
        f"状态：{budget.get_status_display()}；编制人：{budget.drafted_by}（{timezone.localtime(budget.drafted_at):%Y-%m-%d %H:%M}）",
        f"按 {budget.base_year} 年实际收支和增长率假设编制；金额按舍入规则取整。",
    ]
    if budget.approved_by_id:
        notes.append(
            f"批准人：{budget.approved_by}（{timezone.localtime(budget.approved_at):%Y-%m-%d %H:%M}）{budget.approval_note}"
        )
    if budget.note:
        notes.append(f"编制说明：{budget.note}")
    return Report(
        title=f"{budget.fund.name} {budget.year} 年度预算",
        subtitle="台州市区社会保险基金（市级统筹）",
        header=header,
        rows=rows,
        bold_rows=bold,
        notes=notes,
        filename=f"budget-{budget.fund.insurance_type}-{budget.year}",
    )


def execution_report(execution: BudgetExecution) -> Report:
    budget = execution.budget
    m = execution.month
    header = [
        "收支",
        "科目",
        "所属区",
        "全年预算（元）",
        f"进度预算 1—{m}月（元）",
        f"{m}月实际（元）",
        "累计实际（元）",
        "执行率",
        "偏差",
    ]
    rows: list[list[Any]] = []
    bold = set()
    for direction in (BudgetDirection.INCOME, BudgetDirection.EXPENDITURE):
        for r in [r for r in execution.rows if r.direction == direction]:
            rows.append(
                [
                    str(_DIRECTIONS[direction]),
                    r.account_label,
                    r.office.name if r.office else "",
                    r.budget_annual,
                    r.budget_to_date,
                    r.actual_month,
                    r.actual_to_date,
                    _pct(r.execution_pct),
                    _pct(r.deviation_pct),
                ]
            )
        t = execution.totals[direction]
        bold.add(len(rows))
        rows.append(
            [
                f"{_DIRECTIONS[direction]}合计",
                "",
                "",
                t.budget_annual,
                t.budget_to_date,
                t.actual_month,
                t.actual_to_date,
                _pct(t.execution_pct),
                _pct(t.deviation_pct),
            ]
        )
    return Report(
        title=f"{budget.fund.name} {execution.period_label}预算执行情况",
        subtitle=f"预算状态：{budget.get_status_display()}",
        header=header,
        rows=rows,
        bold_rows=bold,
        notes=[
            "进度预算 = 全年预算 × 已过月数 ÷ 12；偏差 = （累计实际 − 进度预算）÷ 进度预算；执行率 = 累计实际 ÷ 全年预算。"
        ],
        filename=f"budget-execution-{budget.fund.insurance_type}-{budget.year}-{m:02d}",
    )


def final_accounts_report(accounts: FinalAccounts) -> Report:
    offices = accounts.offices
    with_budget = accounts.budget is not None
    header = ["科目", *[o.short_name or o.name for o in offices], "合计（元）"] + (
        ["预算数（元）"] if with_budget else []
    )
    rows: list[list[Any]] = []
    bold = set()

    def add(label, by_office, total, budget=None, strong=False):
        if strong:
            bold.add(len(rows))
        row = [label, *[by_office.get(o.pk, Decimal(0)) for o in offices], total]
        if with_budget:
            row.append(budget if budget is not None else "")
        rows.append(row)

    for r in accounts.income_rows:
        add(r.account_label, r.by_office, r.total, r.budget)
    add("收入合计", accounts.income_by_office, accounts.income_total, None, True)
    for r in accounts.expenditure_rows:
        add(r.account_label, r.by_office, r.total, r.budget)
    add("支出合计", accounts.expenditure_by_office, accounts.expenditure_total, None, True)
    surplus = {o.pk: accounts.income_by_office[o.pk] - accounts.expenditure_by_office[o.pk] for o in offices}
    add("本年收支结余", surplus, accounts.surplus, None, True)
    notes = [
        f"年初累计结余 {accounts.balance_start:,.2f} 元；本年收支结余 {accounts.surplus:,.2f} 元；年末累计结余 {accounts.balance_end:,.2f} 元。",
        "已结账（决算）" if accounts.closed else "本年度尚未结账：数字随记账变化，结账后固定。",
    ]
    return Report(
        title=f"{accounts.fund.name} {accounts.year} 年度决算",
        subtitle="台州市区社会保险基金（市级统筹）收支决算表（按区）",
        header=header,
        rows=rows,
        bold_rows=bold,
        notes=notes,
        filename=f"final-accounts-{accounts.fund.insurance_type}-{accounts.year}",
    )


# ---------------------------------------------------------------------------------------------
# Writers.


def report_xlsx(report: Report) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = report.title[:31].replace("/", "-")
    ws.append([report.title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([report.subtitle])
    ws.append([])
    ws.append(report.header)
    head_row = ws.max_row
    for cell in ws[head_row]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="E8EFF9")
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for index, row in enumerate(report.rows):
        ws.append(list(row))
        excel_row = ws.max_row
        for cell in ws[excel_row]:
            if isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
            if index in report.bold_rows:
                cell.font = Font(bold=True)
    ws.append([])
    for note in report.notes:
        ws.append([note])
    for i, _h in enumerate(report.header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = 18 if i > 1 else 26
    ws.freeze_panes = ws.cell(row=head_row + 1, column=1)
    workbook_neutralise(wb)  # names and notes typed by people never run as formulas
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def report_pdf(report: Report) -> bytes:
    font = pdf_font()
    buffer = io.BytesIO()
    wide = len(report.header) > 6
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4) if wide else A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=report.title,
        author="台州市社会保险事业管理服务中心",
    )
    title = ParagraphStyle("title", fontName=font, fontSize=15, leading=21, alignment=TA_CENTER)
    normal = ParagraphStyle("normal", fontName=font, fontSize=9, leading=13)
    small = ParagraphStyle("small", fontName=font, fontSize=8, leading=11, textColor=colors.grey)
    head = ParagraphStyle("head", fontName=font, fontSize=8, leading=10, alignment=TA_CENTER)
    data = [[Paragraph(pdf_markup(h), head) for h in report.header]] + [[_cell(v) for v in row] for row in report.rows]
    table = Table(data, repeatRows=1, hAlign="LEFT")
    style = [
        ("FONT", (0, 0), (-1, -1), font, 8),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eff9")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
    ]
    for index in report.bold_rows:
        style.append(("BACKGROUND", (0, index + 1), (-1, index + 1), colors.HexColor("#f3f5f8")))
    table.setStyle(TableStyle(style))
    story = [
        Paragraph(pdf_markup(report.title), title),
        Spacer(1, 2 * mm),
        Paragraph(pdf_markup(report.subtitle), normal),
        Spacer(1, 3 * mm),
        table,
        Spacer(1, 4 * mm),
    ]
    story += [Paragraph(pdf_markup(note), small) for note in report.notes]
    story.append(Paragraph(f"打印时间：{timezone.localtime():%Y-%m-%d %H:%M}", small))
    doc.build(story)
    return buffer.getvalue()
