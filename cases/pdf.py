"""Certificates as PDF (ReportLab), with a Chinese font embedded, the verification code and a QR code.

Fonts come from ``registry.pdf_fonts`` (one loader for every PDF): an embedded TrueType CJK font, and per
character a fallback font for what it lacks (𠮷 of CJK Extension B). With no TrueType CJK font at all the PDF
uses the CID font STSong-Light and the certificate records ``font_embedded = False``.
"""

from __future__ import annotations

import io
from typing import Any

import qrcode
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import KeepTogether

from registry.pdf_fonts import pdf_fonts, pdf_markup


def _qr_png(data: str) -> io.BytesIO:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=2)
    qr.add_data(data)
    qr.make(fit=True)
    image = qr.make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    out.seek(0)
    return out


def _t(value: Any) -> str:
    """Text for a Paragraph: ReportLab parses markup, so names and addresses are escaped; characters the main font
    lacks are set in a fallback font."""
    return pdf_markup(value)


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def certificate_pdf(content: dict[str, Any], *, code: str, verify_url: str) -> tuple[bytes, bool]:
    """The certificate PDF and whether the Chinese font is embedded.

    The ID number is printed masked, like everywhere else it is shown: the certificate is downloaded by clerks and
    systems that may not see whole numbers, and the verification code proves that it is genuine."""
    font = pdf_fonts()
    title = ParagraphStyle("title", fontName=font.name, fontSize=20, leading=28, alignment=TA_CENTER)
    body = ParagraphStyle("body", fontName=font.name, fontSize=11, leading=18)
    small = ParagraphStyle("small", fontName=font.name, fontSize=9, leading=13, textColor=colors.HexColor("#444444"))
    cell = ParagraphStyle("cell", fontName=font.name, fontSize=10, leading=14)

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=content.get("title", ""),
        author=content.get("office", ""),
        subject=format_code(code),
    )
    person = content.get("person", {})
    story: list[Any] = [
        Paragraph(_t(content.get("title", "")), title),
        Spacer(1, 6 * mm),
        Paragraph(_t(f"证明编号：{content.get('case_number', '')}　　验证码：{format_code(code)}"), small),
        Spacer(1, 4 * mm),
    ]
    info = [
        [Paragraph("姓名", cell), Paragraph(_t(person.get("name", "")), cell)],
        [Paragraph("公民身份号码", cell), Paragraph(_t(person.get("id_number_masked", "")), cell)],
        [Paragraph("性别", cell), Paragraph(_t(person.get("sex", "")), cell)],
        [Paragraph("出生日期", cell), Paragraph(_t(person.get("birth_date", "")), cell)],
    ]
    table = Table(info, colWidths=[35 * mm, 135 * mm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story += [table, Spacer(1, 5 * mm)]

    if content.get("statement"):
        story += [Paragraph(_t(content["statement"]), body), Spacer(1, 4 * mm)]

    story += _records_table(content, cell)
    for line in content.get("notes") or []:
        story.append(Paragraph(_t(line), small))
    story.append(Spacer(1, 8 * mm))

    story.append(KeepTogether([_verification_footer(content, code, verify_url, body, small)]))
    doc.build(story)
    return out.getvalue(), font.embedded


def _records_table(content: dict[str, Any], cell: ParagraphStyle) -> list[Any]:
    """The certificate's table of records (a "no records" row when it has none); nothing without headers."""
    rows = content.get("rows") or []
    headers = content.get("headers") or []
    if not headers:
        return []
    data = [[Paragraph(f"<b>{_t(h)}</b>", cell) for h in headers]]
    data += [[Paragraph(_t(v), cell) for v in row] for row in rows]
    if not rows:
        data.append([Paragraph("（无记录）", cell)] + [Paragraph("", cell)] * (len(headers) - 1))
    width = 170 * mm / len(headers)
    grid = Table(data, colWidths=[width] * len(headers), repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eff9")),
            ]
        )
    )
    return [grid, Spacer(1, 5 * mm)]


def _verification_footer(
    content: dict[str, Any], code: str, verify_url: str, body: ParagraphStyle, small: ParagraphStyle
) -> Table:
    """Issuer and date, how to verify (address and code) and the QR code of the verification page."""
    qr = Image(_qr_png(verify_url), width=32 * mm, height=32 * mm)
    verify = [
        Paragraph(_t(f"出具机构：{content.get('office', '')}"), body),
        Paragraph(_t(f"出具日期：{content.get('issued_on', '')}"), body),
        Spacer(1, 3 * mm),
        Paragraph("本证明可扫描右侧二维码，或访问下列网址输入验证码核验真伪：", small),
        Paragraph(_t(verify_url), small),
        Paragraph(f"验证码：{format_code(code)}", small),
    ]
    footer = Table([[verify, qr]], colWidths=[130 * mm, 40 * mm])
    footer.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return footer
