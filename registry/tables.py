"""Reading an uploaded table (xlsx or CSV) within limits, streaming (issue 14, fault 5).

An xlsx is a zip of XML: 1.7 KB can claim a sheet of A1:XFD1048576 (openpyxl pads every row to the claimed
width: gigabytes), 3.9 MB can unpack to 894 MB of XML (minutes of parsing). So, before any XML is parsed:

1. the file's size (``max_bytes``),
2. the zip members' sizes as the archive declares them — the total, and sharedStrings.xml, which openpyxl loads
   whole (``max_uncompressed_bytes``); zipfile never unpacks more than a member declares, so the check holds;
3. the sheet's declared dimension (``max_rows``, ``max_columns``);

then rows are read one at a time (openpyxl read-only mode), each row cut to ``max_columns`` cells, and reading
stops with a message past ``max_rows`` rows or ``max_seconds``. CSV: size, rows, columns, field size and time.

Two sets of limits: ``TableLimits.web()`` for what is read inside a web request (small: a payroll, an
expenditure file) and ``TableLimits.worker()`` for what a Celery worker reads (a payment file of a million
lines); settings ``TABLE_WEB_*`` and ``TABLE_WORKER_*``. A file too big for the web limits belongs in a worker.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl import load_workbook

TIME_CHECK_EVERY = 500


class TableError(Exception):
    """The table as a whole cannot be read within the limits: one message for the person who sent it."""


@dataclass(frozen=True)
class TableLimits:
    max_bytes: int
    max_uncompressed_bytes: int
    max_rows: int
    max_columns: int
    max_seconds: float

    @classmethod
    def web(cls) -> TableLimits:
        return cls(**settings.TABLE_WEB_LIMITS)

    @classmethod
    def worker(cls) -> TableLimits:
        return cls(**settings.TABLE_WORKER_LIMITS)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f}"


def _size_check(size: int, limits: TableLimits) -> None:
    if size > limits.max_bytes:
        raise TableError(_("文件超过 %(mb)s MB，无法在此读取。") % {"mb": _mb(limits.max_bytes)})


def xlsx_check(source: Any, limits: TableLimits) -> None:
    """The zip members' declared sizes, before anything is unpacked (``source``: bytes, a path or a binary file)."""
    handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    try:
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise TableError(_("Excel 文件无法打开：文件可能已损坏或不是 .xlsx 格式。")) from None
    unpacked = sum(info.file_size for info in members)
    if unpacked > limits.max_uncompressed_bytes:
        raise TableError(
            _("Excel 文件解压后有 %(mb)s MB，超过限制（%(max)s MB）：请拆分文件或改用 CSV。")
            % {"mb": _mb(unpacked), "max": _mb(limits.max_uncompressed_bytes)}
        )


def _dimension_check(rows: int, columns: int, limits: TableLimits) -> None:
    if rows > limits.max_rows or columns > limits.max_columns:
        raise TableError(
            _("Excel 工作表声明了 %(rows)s 行 %(columns)s 列，超过限制（%(max_rows)s 行、%(max_columns)s 列）。")
            % {"rows": rows, "columns": columns, "max_rows": limits.max_rows, "max_columns": limits.max_columns}
        )


class _Clock:
    def __init__(self, limits: TableLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds

    def row(self, n: int) -> None:
        if n > self.limits.max_rows:
            raise TableError(_("文件超过 %(max)s 行：请分批上传。") % {"max": self.limits.max_rows})
        if n % TIME_CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise TableError(
                _("文件读取超过 %(s)s 秒仍未完成：请拆分文件后再上传。") % {"s": int(self.limits.max_seconds)}
            )


def xlsx_rows(data: bytes, limits: TableLimits) -> Iterator[list[Any]]:
    """The first sheet's rows (values), streamed within ``limits``; raises TableError."""
    _size_check(len(data), limits)
    xlsx_check(data, limits)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged or foreign file
        raise TableError(_("Excel 文件无法打开：文件可能已损坏或不是 .xlsx 格式。")) from None
    try:
        if not workbook.worksheets:
            raise TableError(_("Excel 文件中没有工作表。"))
        sheet = workbook.worksheets[0]
        # From the sheet's <dimension ref>, before any row is parsed (absent: checked row by row below).
        _dimension_check(sheet.max_row or 0, sheet.max_column or 0, limits)
        clock = _Clock(limits)
        for n, row in enumerate(sheet.iter_rows(values_only=True, max_col=limits.max_columns), start=1):
            clock.row(n)
            yield list(row)
    finally:
        workbook.close()


def csv_rows(text: str, limits: TableLimits, dialect: Any = csv.excel) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of a decoded CSV within ``limits``; raises TableError."""
    _size_check(len(text), limits)
    # A field is at most csv's own field_size_limit (128 KB): a line without a closing quote ends there.
    reader = csv.reader(io.StringIO(text), dialect)
    clock = _Clock(limits)
    n = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TableError(_("第 %(line)s 行无法读取：%(error)s") % {"line": reader.line_num, "error": exc}) from None
        n += 1
        clock.row(n)
        if len(cells) > limits.max_columns:
            raise TableError(
                _("第 %(line)s 行有 %(n)s 列，超过限制（%(max)s 列）。")
                % {"line": reader.line_num, "n": len(cells), "max": limits.max_columns}
            )
        yield reader.line_num, cells
