"""The employer's statement (对账单) of one year: every issued bill with what was due, paid, still open and the
late fee as of today — as a PDF (ReportLab, the contributions font) and as .xlsx (text cells neutralised:
registry.spreadsheets), and the employer's certificate of enrollment (单位参保缴费情况).
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from openpyxl import Workbook
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from contributions.pdf import pdf_font
from contributions.selectors import employer_penalties, late_fees_for
from registry.spreadsheets import xlsx_row

from .models import HallAccount
from .selectors import employer_bills, employer_staff

HEADERS = ["所属期", "账单类型", "应缴合计", "已缴", "未缴", "缴费截止日", "滞纳金"]


@dataclass(frozen=True)
class StatementRow:
    period: int
    kind: str
    total: Decimal
    paid: Decimal
    open: Decimal
    due_date: datetime.date
    late_fee: Decimal

    def cells(self) -> list:
        return [self.period, self.kind, self.total, self.paid, self.open, self.due_date.isoformat(), self.late_fee]


def statement_rows(account: HallAccount, *, year: int, on: datetime.date | None = None) -> list[StatementRow]:
    on = on or timezone.localdate()
    bills = list(employer_bills(account).filter(period__gte=year * 100, period__lt=(year + 1) * 100))
    fees = late_fees_for([b for b in bills if b.open_amount > 0 and b.due_date < on], on=on)
    return [
        StatementRow(
            period=b.period,
            kind=b.get_kind_display(),
            total=b.total,
            paid=b.paid_amount,
            open=b.open_amount,
            due_date=b.due_date,
            late_fee=fees[b.pk].amount if b.pk in fees else Decimal("0.00"),
        )
        for b in sorted(bills, key=lambda b: (b.period, b.pk))
    ]


def penalty_lines(account: HallAccount) -> list[str]:
    """The employer's penalty decisions (社会保险法第八十六条), for the statement: late-fee bills are rows of the
    table (kind 滞纳金), penalties are listed under it."""
    return [
        f"罚款决定 {p.order.number}：逾期未缴 {p.unpaid:,.2f} 元 × {p.multiple} 倍 = {p.amount:,.2f} 元（{p.get_status_display()}）"
        for p in employer_penalties(account.employer)
    ]


def statement_xlsx(account: HallAccount, *, year: int) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(f"{year}对账单")
    sheet.append(xlsx_row(sheet, [account.employer.name, account.employer.credit_code, f"{year} 年度对账单"]))
    sheet.append(xlsx_row(sheet, HEADERS))
    for row in statement_rows(account, year=year):
        sheet.append(xlsx_row(sheet, row.cells()))
    for line in penalty_lines(account):
        sheet.append(xlsx_row(sheet, [line]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pdf(title: str, lines: list[str], table: list[list], after: list[str] = ()) -> bytes:
    font = pdf_font()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm, title=title)
    heading = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=TA_CENTER)
    normal = ParagraphStyle("normal", fontName=font, fontSize=9.5, leading=14)
    grid = Table(table, repeatRows=1, hAlign="LEFT")
    grid.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 8.5),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eff9")),
            ]
        )
    )
    story = [Paragraph(title, heading), Spacer(1, 4 * mm)]
    story += [Paragraph(line, normal) for line in lines]
    story += [Spacer(1, 3 * mm), grid]
    if after:
        story += [Spacer(1, 3 * mm)] + [Paragraph(line, normal) for line in after]
    doc.build(story)
    return buffer.getvalue()


def statement_pdf(account: HallAccount, *, year: int) -> bytes:
    employer = account.employer
    rows = [HEADERS] + [[str(c) for c in r.cells()] for r in statement_rows(account, year=year)]
    if len(rows) == 1:
        rows.append(["本年度暂无账单", "", "", "", "", "", ""])
    return _pdf(
        f"{employer.name} {year} 年度社会保险费对账单",
        [f"统一社会信用代码：{employer.credit_code}", f"打印日期：{timezone.localdate():%Y-%m-%d}"],
        rows,
        penalty_lines(account),
    )


def employer_certificate_pdf(account: HallAccount) -> bytes:
    """单位参保缴费情况: insured employees per insurance today and the open arrears (no personal data)."""
    employer = account.employer
    counts: dict[str, int] = {}
    for enrollment in employer_staff(account):
        label = enrollment.get_insurance_type_display()
        counts[label] = counts.get(label, 0) + 1
    on = timezone.localdate()
    owed = sum((b.open_amount for b in employer_bills(account) if b.open_amount > 0 and b.due_date < on), Decimal(0))
    rows = [["险种", "在保人数"]] + [[k, str(v)] for k, v in sorted(counts.items())]
    if len(rows) == 1:
        rows.append(["暂无在保人员", "0"])
    return _pdf(
        "单位参保缴费情况",
        [
            f"单位名称：{employer.name}",
            f"统一社会信用代码：{employer.credit_code}",
            f"截至 {on:%Y-%m-%d} 欠费：{owed:,.2f} 元" if owed else f"截至 {on:%Y-%m-%d} 无欠费",
        ],
        rows,
    )
