"""The printable 个人社会保险权益记录 (PDF, ReportLab).

Fonts: ``registry.pdf_fonts`` (one loader for every PDF): an embedded TrueType CJK font when installed
(fonts-wqy-zenhei), a per-character fallback for what it lacks (fonts-hanazono for CJK Extension B), else
Adobe's CID font ``STSong-Light``, referenced, not embedded. Text in paragraphs goes through ``pdf_markup``.
"""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from contributions.models import PaymentOrder
from contributions.selectors import ContributionRecord
from registry.identifiers import id_number_mask
from registry.pdf_fonts import CID_FALLBACK, pdf_font, pdf_markup

__all__ = ["CID_FALLBACK", "contribution_record_pdf", "payment_order_pdf", "pdf_font"]


def _money(value) -> str:
    return f"{value:,.2f}"


def contribution_record_pdf(record: ContributionRecord, *, office_name: str = "") -> bytes:
    """The person's record as an A4 PDF: identity, months per insurance, then every month."""
    font = pdf_font()
    buffer = io.BytesIO()
    person = record.person
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title="个人社会保险权益记录",
        author=office_name or "台州市社会保险事业管理服务中心",
    )
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=TA_CENTER)
    normal = ParagraphStyle("normal", fontName=font, fontSize=9.5, leading=14)
    small = ParagraphStyle("small", fontName=font, fontSize=8, leading=11, textColor=colors.grey)
    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), font, 8.5),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eff9")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
        ]
    )
    summary = Table(_summary_rows(record), repeatRows=1, hAlign="LEFT")
    summary.setStyle(grid)
    detail = Table(
        _detail_rows(record, font),
        repeatRows=1,
        hAlign="LEFT",
        colWidths=[22 * mm, 34 * mm, 20 * mm, 20 * mm, 20 * mm, 50 * mm, 22 * mm],
    )
    detail.setStyle(grid)
    story = [
        Paragraph("台州市区 个人社会保险权益记录", title),
        Spacer(1, 4 * mm),
        Paragraph(
            f"姓名：{pdf_markup(person.name)}　　公民身份号码：{id_number_mask(person.id_number)}　　"
            f"打印日期：{record.generated_on:%Y-%m-%d}",
            normal,
        ),
        Spacer(1, 3 * mm),
        summary,
        Spacer(1, 5 * mm),
        detail,
        Spacer(1, 4 * mm),
        Paragraph(
            "说明：“累计缴费月数”只计入账单已足额到账的月份；居民养老、居民医保按年度缴费，每个缴费年度计 12 个月。"
            "本记录由系统生成，如有疑问请向经办机构核实。",
            small,
        ),
    ]
    doc.build(story)
    return buffer.getvalue()


def _summary_rows(record: ContributionRecord) -> list[list[str]]:
    """Months and amounts per insurance (a row saying there are none when there are none)."""
    summary = [["险种", "累计缴费月数", "单位缴费合计", "个人缴费合计", "起始所属期", "最近所属期"]]
    for s in record.summary:
        summary.append(
            [
                s.label,
                str(s.months),
                _money(s.employer_paid),
                _money(s.individual_paid),
                str(s.first_period or "—"),
                str(s.last_period or "—"),
            ]
        )
    if len(summary) == 1:
        summary.append(["暂无缴费记录", "", "", "", "", ""])
    return summary


def _detail_rows(record: ContributionRecord, font: str) -> list[list]:
    """Every month of every insurance; the employer and the status wrap in their cells."""
    cell = ParagraphStyle("cell", fontName=font, fontSize=8, leading=10)
    rows: list[list] = [["所属期", "险种", "缴费基数", "单位缴费", "个人缴费", "缴费单位", "状态"]]
    for r in record.rows:
        rows.append(
            [
                r.period_label,
                r.insurance_label,
                _money(r.base),
                _money(r.employer_amount),
                _money(r.individual_amount),
                Paragraph(pdf_markup(r.employer_name or "个人缴费"), cell),
                Paragraph(
                    r.status_label + ("（历史迁移）" if r.migrated else "") + ("（重叠）" if r.overlap else ""), cell
                ),
            ]
        )
    return rows


def payment_order_pdf(order: PaymentOrder, bills: list, *, office_name: str = "") -> bytes:
    """责令限期缴纳通知书 (社会保险法第八十六条): the employer, its overdue bills and amounts on the day of issue, the
    time limit, and what follows if it is not met (late fee continues; a fine of 1–3 times the amount unpaid)."""
    font = pdf_font()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title="责令限期缴纳通知书",
        author=office_name or order.office.name,
    )
    title = ParagraphStyle("title", fontName=font, fontSize=17, leading=24, alignment=TA_CENTER)
    normal = ParagraphStyle("normal", fontName=font, fontSize=10.5, leading=17)
    employer = order.employer
    rows = [["所属期", "账单类型", "缴费截止日", "账单金额（元）"]] + [
        [str(b.period), b.get_kind_display(), b.due_date.isoformat(), _money(b.total)] for b in bills
    ]
    rows.append(["截至发出日欠缴合计", "", "", _money(order.amount)])
    grid = Table(rows, repeatRows=1, hAlign="LEFT", colWidths=[30 * mm, 50 * mm, 40 * mm, 45 * mm])
    grid.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), font, 9.5),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eff9")),
                ("ALIGN", (3, 1), (3, -1), "RIGHT"),
            ]
        )
    )
    text = [
        f"{pdf_markup(employer.name)}（统一社会信用代码：{employer.credit_code}）：",
        f"经核查，截至 {order.issued_on:%Y年%m月%d日}，你单位欠缴社会保险费共计 {_money(order.amount)} 元（明细见下表）。"
        f"依据《中华人民共和国社会保险法》第六十三条、第八十六条，责令你单位于 {order.pay_by:%Y年%m月%d日} 前足额缴纳，"
        "并自欠缴之日起按日加收万分之五的滞纳金。",
        "逾期仍不缴纳的，将依法处欠缴数额一倍以上三倍以下的罚款。",
    ]
    story = [Paragraph("责令限期缴纳通知书", title), Paragraph(pdf_markup(order.number), normal), Spacer(1, 5 * mm)]
    story += [Paragraph(line, normal) for line in text]
    story += [Spacer(1, 4 * mm), grid, Spacer(1, 10 * mm)]
    story += [
        Paragraph(f"{pdf_markup(order.office.name)}", normal),
        Paragraph(f"{order.issued_on:%Y年%m月%d日}", normal),
    ]
    doc.build(story)
    return buffer.getvalue()
