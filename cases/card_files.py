"""The two files exchanged with the card issuer (制卡机构), layouts in docs/card-files.md. Pure: rows in, bytes out;
an upload in, checked lines or one ``CardFileError`` out.

- Production file (制卡数据, xlsx): one row per application of a batch. Text is neutralised
  (``registry.spreadsheets``): a name is never a formula in the issuer's spreadsheet program.
- Confirmation file (回盘文件, CSV in UTF-8 or GBK): one row per application with the card number or the reason it
  failed. Read streaming with bounds (size, rows): an oversized file is refused before it is read whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook

from registry.spreadsheets import xlsx_row

PRODUCTION_HEADER = ["批次号", "申领编号", "公民身份号码", "姓名", "性别", "出生日期", "申领类型", "原卡号", "经办机构"]
CONFIRMATION_HEADER = ["批次号", "申领编号", "公民身份号码", "社会保障卡号", "制卡结果", "说明"]
RESULT_OK, RESULT_FAILED = "成功", "失败"
CARD_NUMBER = re.compile(r"[A-Z0-9]{9,20}")
MAX_CONFIRMATION_BYTES = 2 * 1024 * 1024
MAX_CONFIRMATION_ROWS = 5000


class CardFileError(Exception):
    """The file as a whole cannot be read: one message for the clerk."""


@dataclass(frozen=True)
class ConfirmationLine:
    line: int
    batch_number: str
    application: str
    id_number: str
    card_number: str
    result: str  # RESULT_OK or RESULT_FAILED when well formed
    note: str

    @property
    def ok(self) -> bool:
        return self.result == RESULT_OK


def production_xlsx(rows: Iterable[list[Any]]) -> bytes:
    """The production file: the header, then ``rows`` in ``PRODUCTION_HEADER`` order."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("制卡数据")
    sheet.append(PRODUCTION_HEADER)
    for row in rows:
        sheet.append(xlsx_row(sheet, row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _chunks_bounded(upload: Any, limit: int) -> bytes:
    data = bytearray()
    for chunk in upload.chunks() if hasattr(upload, "chunks") else [upload.read(limit + 1)]:
        data += chunk
        if len(data) > limit:
            raise CardFileError(_("回盘文件超过 %(mb)d MB。") % {"mb": limit // (1024 * 1024)})
    if not data:
        raise CardFileError(_("回盘文件是空的。"))
    return bytes(data)


def _text_lines(data: bytes) -> Iterator[str]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = codecs.decode(data, encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return iter(io.StringIO(text, newline=""))
    raise CardFileError(_("回盘文件应为 UTF-8 或 GBK 编码的 CSV 文本文件。"))


def _header_check(header: list[str]) -> None:
    cleaned = [h.strip().lstrip("\ufeff") for h in header]
    if cleaned != CONFIRMATION_HEADER:
        raise CardFileError(_("回盘文件的表头应为：%(expected)s。") % {"expected": "，".join(CONFIRMATION_HEADER)})


def confirmation_read(upload: Any, *, max_rows: int = MAX_CONFIRMATION_ROWS) -> list[ConfirmationLine]:
    """The confirmation file's lines (header checked, blank lines skipped). Each line's own problems are left to the
    caller (which knows the batch); here only what makes the whole file unreadable."""
    reader = csv.reader(_text_lines(_chunks_bounded(upload, MAX_CONFIRMATION_BYTES)))
    try:
        header = next(reader, None)
        if header is None:
            raise CardFileError(_("回盘文件是空的。"))
        _header_check(header)
        out = []
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(out) >= max_rows:
                raise CardFileError(_("回盘文件超过 %(n)d 行。") % {"n": max_rows})
            cells = [cell.strip() for cell in row] + [""] * (6 - len(row))
            out.append(
                ConfirmationLine(
                    line=number,
                    batch_number=cells[0],
                    application=cells[1],
                    id_number=cells[2].upper(),
                    card_number=cells[3].upper(),
                    result=cells[4],
                    note=cells[5][:200],
                )
            )
    except csv.Error as exc:
        raise CardFileError(_("回盘文件不是有效的 CSV：%(error)s") % {"error": exc}) from None
    return out
