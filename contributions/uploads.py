"""Reading an uploaded table — CSV in UTF-8 or GBK (as Excel writes it), or xlsx — for every upload of
contributions: the payroll declaration (``resources``) and the collecting agency's payment file (``exchange``).
Pure: bytes in, rows or one ``UploadError`` with a message for the clerk out."""

from __future__ import annotations

import csv
from typing import Any

from django.utils.translation import gettext as _

from registry.tables import TableError, TableLimits, csv_rows, xlsx_rows


class UploadError(TableError):
    """The file as a whole cannot be read (wrong type, encoding, columns or limits): one message for the clerk."""


def clean_header(value: Any) -> str:
    return str(value or "").strip().lstrip("\ufeff").replace(" ", "").replace("\u3000", "")


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GBK/GB18030 — the encoding Excel uses for Chinese CSV."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UploadError(
            _(
                "文件是 UTF-16（“Unicode 文本”）编码，无法读取。请在 Excel 中另存为“CSV UTF-8（逗号分隔）”或“CSV（逗号分隔）”。"
            )
        )
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UploadError(_("无法识别文件编码：请保存为 UTF-8 或 GBK 编码的 CSV 文件，或直接上传 Excel（.xlsx）文件。"))


def rows_from_csv(data: bytes, limits: TableLimits | None = None) -> list[list[Any]]:
    """The rows of a CSV upload, within ``limits`` (default: a web request's, registry.tables)."""
    text = decode(data)
    if "\x00" in text:
        raise UploadError(_("文件内容不是文本表格：请上传 CSV 或 Excel（.xlsx）文件。"))
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        return [cells for _line, cells in csv_rows(text, limits or TableLimits.web(), dialect)]
    except TableError as exc:
        raise UploadError(str(exc)) from None


def rows_from_xlsx(data: bytes, limits: TableLimits | None = None) -> list[list[Any]]:
    """The first sheet's rows of an xlsx upload, read in streaming mode within ``limits`` (default: a web
    request's): sizes, declared dimension, rows, columns and time (registry.tables)."""
    try:
        return list(xlsx_rows(data, limits or TableLimits.web()))
    except TableError as exc:
        raise UploadError(str(exc)) from None
