"""Reading a delivered file: its bytes (uploaded chunks in storage, or a file in the import folder), its format
and encoding, its header. A CSV's bytes go to PostgreSQL's COPY untouched (PostgreSQL decodes GBK itself); an
xlsx is read row by row with openpyxl in read-only mode, after its size, uncompressed size, rows and columns
were checked against the limits (settings CONSOLIDATION_XLSX_*), and within a time limit."""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import io
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from openpyxl import load_workbook

from consolidation.layout import LayoutError
from consolidation.models import BatchFile

READ_SIZE = 1 << 20
SNIFF_BYTES = 1 << 20
HEADER_MAX_BYTES = 64 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class FileError(LayoutError):
    """The file as a whole cannot be read (type, encoding, size): one message for the district."""


def file_bytes(batch_file: BatchFile) -> Iterator[bytes]:
    """The file's bytes in pieces: from the import folder, or its uploaded chunks in order."""
    if batch_file.path:
        with open(batch_file.path, "rb") as handle:
            while piece := handle.read(READ_SIZE):
                yield piece
        return
    for chunk in batch_file.chunks.order_by("index"):
        with default_storage.open(chunk.storage_name, "rb") as handle:
            while piece := handle.read(READ_SIZE):
                yield piece


class _Stream(io.RawIOBase):
    """A readable binary file over an iterator of byte strings (what COPY reads from)."""

    def __init__(self, head: bytes, rest: Iterator[bytes]):
        self._buffer = head
        self._rest = rest
        # An error of the source (an xlsx past its limits) ends the stream and is kept here: COPY's reader is C
        # code that would turn it into a database error without the message.
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        close = getattr(self._rest, "close", None)
        if close is not None:
            close()  # a generator's finally runs (the xlsx reader closes its workbook and temporary file)
        super().close()

    def readinto(self, target) -> int:
        while not self._buffer:
            if self.error is not None:
                return 0
            try:
                self._buffer = next(self._rest)
            except StopIteration:
                return 0
            except FileError as exc:
                self.error = exc
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


@dataclass
class Opened:
    """An opened file: format, encoding (PostgreSQL's name), delimiter, header, the data lines as CSV bytes, and
    the SHA-256 of the bytes read so far (complete once the body has been read)."""

    file_format: str
    encoding: str
    delimiter: str
    header: list[str]
    body: BinaryIO
    digest: Any = None

    def check_complete(self, sha256: str) -> None:
        """After the body was read: the bytes are those delivered (a file in the import folder may have been
        replaced since it was registered)."""
        if self.digest is not None and self.digest.hexdigest() != sha256:
            raise FileError(_("文件内容与报送时登记的 SHA-256 不一致：文件在报送后被改动过，请重新报送。"))


def _hashing(pieces: Iterator[bytes], digest) -> Iterator[bytes]:
    for piece in pieces:
        digest.update(piece)
        yield piece


def _encoding_of(sample: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK, what Excel writes for Chinese CSV)."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileError(_("文件是 UTF-16 编码，无法读取：请另存为 UTF-8 或 GBK 编码的 CSV。"))
    for python_name, pg_name in (("utf-8", "UTF8"), ("gb18030", "GB18030")):
        try:
            codecs.getincrementaldecoder(python_name)().decode(sample, final=False)
            return pg_name
        except UnicodeDecodeError:
            continue
    raise FileError(_("无法识别文件编码：请保存为 UTF-8 或 GBK 编码的 CSV 文件，或 Excel（.xlsx）文件。"))


def file_open(batch_file: BatchFile) -> Opened:
    """Open a delivered file (CSV in UTF-8 or GBK, or xlsx): FileError for a file that cannot be read as a whole."""
    if batch_file.size == 0:
        raise FileError(_("文件是空的。"))
    digest = hashlib.sha256()
    pieces = _hashing(file_bytes(batch_file), digest)
    head = b""
    for piece in pieces:
        head += piece
        if len(head) >= SNIFF_BYTES:
            break
    if head.startswith(_OLE) or batch_file.name.lower().endswith(".xls"):
        raise FileError(_("不支持旧版 Excel（.xls）文件：请另存为 .xlsx 或 CSV。"))
    if head.startswith(b"PK\x03\x04"):
        opened = _xlsx_open(batch_file, head, pieces)
    elif batch_file.name.lower().endswith(".xlsx"):
        raise FileError(_("文件扩展名是 .xlsx，但内容不是 Excel 工作簿。"))
    else:
        opened = _csv_open(head, pieces)
    opened.digest = digest
    return opened


def _csv_open(head: bytes, pieces: Iterator[bytes]) -> Opened:
    if head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM) :]
    encoding = _encoding_of(head[:SNIFF_BYTES])
    end = head.find(b"\n")
    if end < 0 or end > HEADER_MAX_BYTES:
        raise FileError(_("找不到列名行：文件第一行应为列名，以换行结束。"))
    line = head[:end].rstrip(b"\r").decode("utf-8" if encoding == "UTF8" else "gb18030")
    if "\x00" in line:
        raise FileError(_("文件内容不是文本表格：请提供 CSV 或 Excel（.xlsx）文件。"))
    delimiter = "\t" if line.count("\t") > line.count(",") else ","
    header = next(csv.reader([line], delimiter=delimiter))
    return Opened("csv", encoding, delimiter, header, _Stream(head[end + 1 :], pieces))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time(0) else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    return str(value).strip()


def _xlsx_limits(path: str, size: int) -> None:
    """Sizes, rows and columns checked before any row is parsed (an xlsx bomb claims a sheet of a billion cells
    in a few kilobytes)."""
    if size > settings.CONSOLIDATION_XLSX_MAX_BYTES:
        raise FileError(
            _("Excel 文件超过 %(mb)s MB：请改用 CSV 文件。")
            % {"mb": settings.CONSOLIDATION_XLSX_MAX_BYTES // (1024 * 1024)}
        )
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        raise FileError(_("Excel 文件无法打开：文件可能已损坏或不是 .xlsx 格式。")) from None
    if unpacked > settings.CONSOLIDATION_XLSX_MAX_UNCOMPRESSED_BYTES:
        raise FileError(_("Excel 文件解压后过大（%(mb)s MB）：请改用 CSV 文件。") % {"mb": unpacked // (1024 * 1024)})


def _xlsx_open(batch_file: BatchFile, head: bytes, pieces: Iterator[bytes]) -> Opened:
    spool = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115 — closed by the reader at its end
    written = len(head)
    spool.write(head)
    for piece in pieces:
        written += len(piece)
        if written > settings.CONSOLIDATION_XLSX_MAX_BYTES:
            break
        spool.write(piece)
    spool.flush()
    try:
        _xlsx_limits(spool.name, written)
        try:
            workbook = load_workbook(spool.name, read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds for a damaged or foreign file
            raise FileError(_("Excel 文件无法打开：文件可能已损坏或不是 .xlsx 格式。")) from None
        sheet = workbook.worksheets[0]
        rows, columns = sheet.max_row or 0, sheet.max_column or 0  # from the sheet's <dimension>, before parsing
        if rows > settings.CONSOLIDATION_XLSX_MAX_ROWS or columns > settings.CONSOLIDATION_XLSX_MAX_COLUMNS:
            workbook.close()
            raise FileError(
                _("Excel 工作表声明了 %(rows)s 行 %(columns)s 列，超过限制（%(max_rows)s 行、%(max_columns)s 列）。")
                % {
                    "rows": rows,
                    "columns": columns,
                    "max_rows": settings.CONSOLIDATION_XLSX_MAX_ROWS,
                    "max_columns": settings.CONSOLIDATION_XLSX_MAX_COLUMNS,
                }
            )
        reader = _XlsxReader(workbook, sheet, spool)
        header = reader.header()
    except BaseException:
        spool.close()
        raise
    return Opened("xlsx", "UTF8", ",", header, _Stream(b"", reader.body()))


class _XlsxReader:
    """Rows of the first sheet as CSV bytes, within the row, column and time limits."""

    def __init__(self, workbook, sheet, spool) -> None:
        self.workbook, self.spool = workbook, spool
        self.rows = sheet.iter_rows(values_only=True, max_col=settings.CONSOLIDATION_XLSX_MAX_COLUMNS + 1)
        self.started = time.monotonic()
        self.width = 0
        self.row_no = 0

    def _next(self) -> list[str] | None:
        for cells in self.rows:
            self.row_no += 1
            if self.row_no > settings.CONSOLIDATION_XLSX_MAX_ROWS + 1:
                raise FileError(_("Excel 文件超过 %(n)s 行。") % {"n": settings.CONSOLIDATION_XLSX_MAX_ROWS})
            if len(cells) > settings.CONSOLIDATION_XLSX_MAX_COLUMNS and cells[-1] is not None:
                raise FileError(_("Excel 文件超过 %(n)s 列。") % {"n": settings.CONSOLIDATION_XLSX_MAX_COLUMNS})
            if self.row_no % 1000 == 0 and time.monotonic() - self.started > settings.CONSOLIDATION_XLSX_MAX_SECONDS:
                raise FileError(_("Excel 文件读取超时：请改用 CSV 文件。"))
            text = [_cell_text(c) for c in cells]
            if any(text):
                return text
        return None

    def header(self) -> list[str]:
        first = self._next()
        if first is None:
            raise FileError(_("文件中没有任何内容。"))
        while first and not first[-1]:
            first.pop()
        self.width = len(first)
        return first

    def body(self) -> Iterator[bytes]:
        try:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            while (cells := self._next()) is not None:
                extra = cells[self.width :]
                if any(extra):
                    raise FileError(_("第 %(row)s 行在列名之外的列还有内容。") % {"row": self.row_no})
                cells = cells[: self.width] + [""] * (self.width - len(cells))
                writer.writerow(cells)
                if buffer.tell() > READ_SIZE:
                    yield buffer.getvalue().encode("utf-8")
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue().encode("utf-8")
        finally:
            self.workbook.close()
            self.spool.close()
