"""The employer's staff list (增员 / 减员 名单) as uploaded at the counter: CSV (UTF-8 or GBK, as Excel saves it) or
xlsx, read with bounds on size, rows and time. Columns by header (公民身份号码, 姓名, 入职日期) or, without a
header, in that order. Rows come back with their line numbers, so that the handler reports bad rows by line."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from openpyxl import load_workbook

MAX_BYTES = 1024 * 1024
MAX_ROWS = 501  # the header and MAX_EMPLOYEES (cases.services.counter_effects)
MAX_SECONDS = 5.0
HEADERS = {
    "id_number": ("公民身份号码", "身份证号码", "身份证号", "证件号码"),
    "name": ("姓名",),
    "hire_date": ("入职日期", "用工日期", "入职时间"),
}


def _refuse(message: str) -> ValidationError:
    return ValidationError({"staff_file": [message]})


def _read_bounded(upload: Any) -> bytes:
    if getattr(upload, "size", 0) > MAX_BYTES:
        raise _refuse(_("名单文件超过 %(mb)d MB。") % {"mb": MAX_BYTES // (1024 * 1024)})
    chunks, total = [], 0
    for chunk in upload.chunks(64 * 1024):
        total += len(chunk)
        if total > MAX_BYTES:
            raise _refuse(_("名单文件超过 %(mb)d MB。") % {"mb": MAX_BYTES // (1024 * 1024)})
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip():
        raise _refuse(_("名单文件是空的。"))
    return data


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise _refuse(_("无法读取名单文件：请上传 UTF-8 或 GBK 编码的 CSV 文件，或 Excel（.xlsx）文件。"))


def _csv_rows(data: bytes):
    reader = csv.reader(io.StringIO(_decode(data)))
    yield from enumerate(reader, start=1)


def _xlsx_rows(data: bytes):
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged or foreign file
        raise _refuse(_("Excel 文件无法打开：文件可能已损坏或不是 .xlsx 格式。")) from None
    try:
        sheet = workbook.worksheets[0]
        for line, row in enumerate(sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 1), start=1):
            yield line, ["" if v is None else (v.date().isoformat() if hasattr(v, "date") else str(v)) for v in row]
    finally:
        workbook.close()


def _columns(header: list[str]) -> dict[str, int] | None:
    cleaned = [str(h or "").strip().replace(" ", "") for h in header]
    found = {}
    for key, names in HEADERS.items():
        for i, h in enumerate(cleaned):
            if h in names:
                found[key] = i
    return found if "id_number" in found else None


def staff_list_read(upload: Any) -> list[dict]:
    """Rows {line, id_number, name, hire_date} of the uploaded list; a file-level problem is one ValidationError."""
    data = _read_bounded(upload)
    rows_iter = _xlsx_rows(data) if data[:4] == b"PK\x03\x04" else _csv_rows(data)
    started, out, columns = time.monotonic(), [], None
    for line, raw in rows_iter:
        if line > MAX_ROWS:
            raise _refuse(_("名单最多 %(n)d 行。") % {"n": MAX_ROWS - 1})
        if time.monotonic() - started > MAX_SECONDS:
            raise _refuse(_("名单文件读取超时，请拆分后上传。"))
        cells = [str(c).strip() for c in raw]
        if not any(cells):
            continue
        if line == 1 and (columns := _columns(cells)) is not None:
            continue
        cols = columns or {"id_number": 0, "name": 1, "hire_date": 2}
        out.append(
            {"line": line, **{k: (cells[i][:100] if i < len(cells) else "") for k, i in cols.items()}}
            | {k: "" for k in HEADERS if k not in cols}
        )
    if not out:
        raise _refuse(_("名单文件中没有人员。"))
    return out
