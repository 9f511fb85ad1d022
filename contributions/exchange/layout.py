"""The layouts of the files exchanged with the collecting agency (征收机构), documented in
docs/exchange-files.md: the bill file we send and the payment file we receive.

This module only reads and shapes files. Payment-file lines are checked in SQL and recorded by
``exchange.payment_files``; bill files are written by ``exchange.bill_exports``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from contributions.models import ReconciliationCategory
from contributions.uploads import UploadError, clean_header, decode
from registry.identifiers import id_number_mask, id_number_normalize
from registry.spreadsheets import SafeSheet
from registry.tables import TableError, TableLimits, xlsx_check, xlsx_rows

LAYOUT_VERSION = "1"

# ---------------------------------------------------------------------------------------------
# The bill file (账单文件): metadata lines starting with "#", the column header, one row per bill.

BILL_COLUMNS = [
    "账单编号",
    "账单类型",
    "所属期",
    "缴费方类型",
    "缴费方代码",
    "缴费方名称",
    "经办机构代码",
    "缴费截止日",
    "单位应缴",
    "个人应缴",
    "应缴合计",
    "已缴",
    "未缴",
]

# ---------------------------------------------------------------------------------------------
# The payment file (到账文件).


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: frozenset[str]
    required: bool = True


PAYMENT_COLUMNS = [
    Column(
        "reference", "流水号", frozenset({"流水号", "征收机构流水号", "缴费流水号", "agency_reference", "reference"})
    ),
    Column("payer_type", "缴费方类型", frozenset({"缴费方类型", "缴费人类型", "payer_type"})),
    Column(
        "payer_code",
        "缴费方代码",
        frozenset({"缴费方代码", "缴费人代码", "统一社会信用代码/公民身份号码", "证件号码", "payer_code"}),
    ),
    Column("payer_name", "缴费方名称", frozenset({"缴费方名称", "缴费人名称", "名称", "payer_name"}), required=False),
    Column("period", "所属期", frozenset({"所属期", "费款所属期", "period"})),
    Column("amount", "金额", frozenset({"金额", "到账金额", "实缴金额", "amount"})),
    Column("paid_on", "到账日期", frozenset({"到账日期", "入库日期", "缴款日期", "paid_on"})),
]
PAYMENT_HEADER = [c.header for c in PAYMENT_COLUMNS]
MAX_PAYMENT_FILE_BYTES = 300 * 1024 * 1024

_EMPLOYER_WORDS = {"单位", "employer", "企业", "1"}
_PERSON_WORDS = {"个人", "person", "2", "灵活就业人员", "城乡居民"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")


class StagedLine(NamedTuple):
    """One data line as it goes into the staging table (the tuple is the staging row): text as found
    (trimmed), the date parsed. A tuple rather than a dataclass: a nightly file has a million of them."""

    line_no: int
    reference: str
    payer_type: str
    payer_code: str
    payer_name: str
    period: str
    amount: str
    paid_on: str | None  # ISO date, or None when unreadable
    paid_on_raw: str
    cell_problem: str  # a problem only Python can see (Excel turned a code into a number)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_PAYER_TYPE_OF = {**dict.fromkeys(_PERSON_WORDS, "person"), **dict.fromkeys(_EMPLOYER_WORDS, "employer")}


def payer_type_normalize(value: Any) -> str:
    text = _text(value)
    return _PAYER_TYPE_OF.get(text) or _PAYER_TYPE_OF.get(text.lower()) or text


def _code(value: Any, payer_type: str) -> tuple[str, str]:
    """(code, problem): codes are text; Excel keeps long numbers as floats and loses digits."""
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool) and len(str(value)) > 15):
        return _text(value), _("缴费方代码被 Excel 存成了数字，末几位可能已丢失；请把该列设为“文本”后重新导出。")
    return _code_text(_text(value), payer_type)


def _code_text(text: str, payer_type: str) -> tuple[str, str]:
    text = text.upper().replace(" ", "")
    if "E+" in text and text.replace(".", "").replace("E+", "").isdigit():
        return text, _("缴费方代码被 Excel 存成了科学计数法（%(text)s），号码已丢失。") % {"text": text}
    if payer_type == "person" and len(text) == 15 and text.isdigit():
        # The 15-digit legacy number as the registry stores it; an unusable one stays as it is and the SQL
        # check reports its format.
        with contextlib.suppress(ValidationError):
            text = id_number_normalize(text)
    return text, ""


def _amount(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return _text(value)
    if isinstance(value, float):
        try:
            return format(Decimal(repr(value)), "f")
        except InvalidOperation:
            return repr(value)
    if isinstance(value, (int, Decimal)):
        return format(Decimal(value), "f")
    return _amount_text(str(value))


def _amount_text(text: str) -> str:
    return text.strip().replace(",", "").replace(" ", "").replace("\u3000", "")


def _period(value: Any) -> str:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.strftime("%Y%m")
    return _period_text(_text(value))


def _period_text(text: str) -> str:
    if len(text) == 7 and text[4] in "-/." and text[:4].isdigit() and text[5:].isdigit():
        return text[:4] + text[5:]
    return text


class _Dates:
    """Dates parsed once per distinct text (a nightly file has a handful of dates and a million lines)."""

    def __init__(self) -> None:
        self.memo: dict[str, str] = {}

    def __call__(self, value: Any) -> tuple[str, str]:
        if isinstance(value, datetime.datetime):
            return value.date().isoformat(), value.isoformat()
        if isinstance(value, datetime.date):
            return value.isoformat(), value.isoformat()
        return self.text(_text(value))

    def text(self, text: str) -> tuple[str, str]:
        found = self.memo.get(text)
        if found is None:
            found = ""
            for fmt in _DATE_FORMATS:
                try:
                    found = datetime.datetime.strptime(text, fmt).date().isoformat()
                    break
                except ValueError:
                    continue
            self.memo[text] = found
        return found, text


@dataclass
class PaymentTable:
    """An opened payment file: the column positions and an iterator of its data lines (read once). ``declared``
    holds the file's totals lines (``#合计笔数``, ``#合计金额``) as they are met: those before the column header at
    once, a trailer's once ``lines`` is exhausted (``declared_totals`` reads them then)."""

    columns: dict[str, int]
    lines: Iterator[StagedLine]
    declared: dict[str, str] = field(default_factory=dict)


# The totals lines the payment file must carry (docs/exchange-files.md): the number of data lines and the sum of
# their amounts. A file cut short (a transfer broken off, a number truncated) no longer matches them.
TOTAL_COUNT = "#合计笔数"
TOTAL_AMOUNT = "#合计金额"


@dataclass(frozen=True)
class DeclaredTotals:
    count: int
    amount: Decimal


def declared_totals(table: PaymentTable) -> DeclaredTotals:
    """The file's totals lines, after its lines were read; UploadError naming what is missing or unreadable."""
    missing = [key for key in (TOTAL_COUNT, TOTAL_AMOUNT) if key not in table.declared]
    if missing:
        raise UploadError(
            _("文件缺少合计行 %(missing)s：到账文件须在列名行之前写明“#合计笔数,N”和“#合计金额,金额”。")
            % {"missing": "、".join(missing)}
        )
    count_text, amount_text = table.declared[TOTAL_COUNT], table.declared[TOTAL_AMOUNT]
    try:
        count = int(count_text.replace(",", ""))
        amount = Decimal(amount_text.replace(",", ""))
    except (ValueError, InvalidOperation):
        raise UploadError(
            _("合计行无法读取：#合计笔数“%(count)s”，#合计金额“%(amount)s”。")
            % {"count": count_text, "amount": amount_text}
        ) from None
    if count < 0 or not amount.is_finite():
        raise UploadError(_("合计行无法读取：#合计笔数“%(count)s”。") % {"count": count_text})
    return DeclaredTotals(count, amount)


def _declare(declared: dict[str, str], cells: list[Any]) -> None:
    key = _text(cells[0]).lstrip("\ufeff").replace(" ", "")
    if key in (TOTAL_COUNT, TOTAL_AMOUNT):
        declared[key] = _text(cells[1]) if len(cells) > 1 else ""


def _header_columns(header: list[Any]) -> dict[str, int]:
    cleaned = [clean_header(h) for h in header]
    found: dict[str, int] = {}
    for column in PAYMENT_COLUMNS:
        for index, name in enumerate(cleaned):
            if name in column.aliases or name.lower() in column.aliases:
                found[column.key] = index
                break
    missing = [c.header for c in PAYMENT_COLUMNS if c.required and c.key not in found]
    if missing:
        shown = "、".join(h for h in cleaned if h) or _("（空）")
        raise UploadError(
            _("文件缺少列：%(missing)s。列名行应为：%(expected)s；文件的列名行是：%(shown)s。")
            % {"missing": "、".join(missing), "expected": ",".join(PAYMENT_HEADER), "shown": shown[:200]}
        )
    return found


def _blank(cells: list[Any]) -> bool:
    return not any(_text(c) for c in cells)


def _is_comment(cells: list[Any]) -> bool:
    return bool(cells) and _text(cells[0]).lstrip("\ufeff").startswith("#")


_LINE_KEYS = ("reference", "payer_type", "payer_code", "payer_name", "period", "amount", "paid_on")


def _first_header(rows: Iterator[tuple[int, list[Any]]], declared: dict[str, str]) -> dict[str, int]:
    """The columns of the first line that is neither blank nor a comment (consumed from ``rows``); the comments
    before it may declare things (``declared``)."""
    for _line_no, cells in rows:
        if _blank(cells):
            continue
        if _is_comment(cells):
            _declare(declared, cells)
            continue
        return _header_columns(cells)
    raise UploadError(_("文件中没有任何内容。"))


def _line_positions(columns: dict[str, int]) -> tuple[int, list[int]]:
    """(width, the cell index of each of ``_LINE_KEYS``); an optional column the file lacks reads as the empty
    cell just past the last column."""
    positions = [columns.get(key) for key in _LINE_KEYS]
    width = max(i for i in positions if i is not None) + 1
    return width, [width if i is None else i for i in positions]


def _stage(rows: Iterator[tuple[int, list[Any]]], *, text_cells: bool = False) -> PaymentTable:
    """The header, then the data lines. ``text_cells``: every cell is a str (CSV), which takes a shorter path
    with the same results as the general one (an Excel cell may be a number, a date or empty)."""
    declared: dict[str, str] = {}
    columns = _first_header(rows, declared)
    dates = _Dates()
    width, (r_at, t_at, c_at, n_at, p_at, a_at, d_at) = _line_positions(columns)

    def lines() -> Iterator[StagedLine]:
        for line_no, cells in rows:
            if _blank(cells):
                continue
            if _is_comment(cells):
                _declare(declared, cells)
                continue
            if len(cells) <= width:
                cells = [*cells, *([None] * (width + 1 - len(cells)))]
            payer_type = payer_type_normalize(cells[t_at])
            code, problem = _code(cells[c_at], payer_type)
            paid_on, paid_raw = dates(cells[d_at])
            yield StagedLine(
                line_no,
                _text(cells[r_at]),
                payer_type,
                code,
                _text(cells[n_at]),
                _period(cells[p_at]),
                _amount(cells[a_at]),
                paid_on or None,
                paid_raw,
                problem,
            )

    def text_lines() -> Iterator[StagedLine]:
        for line_no, cells in rows:
            if not "".join(cells).strip():
                continue
            if _is_comment(cells):
                _declare(declared, cells)
                continue
            if len(cells) <= width:
                cells = [*cells, *([""] * (width + 1 - len(cells)))]
            raw_type = cells[t_at].strip()
            payer_type = _PAYER_TYPE_OF.get(raw_type) or _PAYER_TYPE_OF.get(raw_type.lower()) or raw_type
            code, problem = _code_text(cells[c_at].strip(), payer_type)
            paid_on, paid_raw = dates.text(cells[d_at].strip())
            yield StagedLine(
                line_no,
                cells[r_at].strip(),
                payer_type,
                code,
                cells[n_at].strip(),
                _period_text(cells[p_at].strip()),
                _amount_text(cells[a_at]),
                paid_on or None,
                paid_raw,
                problem,
            )

    return PaymentTable(columns=columns, lines=text_lines() if text_cells else lines(), declared=declared)


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    text = decode(data)
    if "\x00" in text[:65536]:
        raise UploadError(_("文件内容不是文本表格：请上传 CSV 或 Excel（.xlsx）文件。"))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    for cells in reader:
        yield reader.line_num, cells


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    """Streamed, within a worker's limits (the upload request only reads the header: the rows are read by the
    import's worker)."""
    try:
        yield from enumerate(xlsx_rows(data, TableLimits.worker()), start=1)
    except TableError as exc:
        raise UploadError(str(exc)) from None


def payment_file_check(name: str, data: bytes) -> None:
    """What the upload request checks before storing a payment file: the file as a whole, and a CSV's header. An
    xlsx is only checked from its zip directory (sizes, within a worker's limits): parsing it — shared strings,
    the sheet — is the worker's (a big workbook must not be parsed in a web request). UploadError."""
    if data[:4] == b"PK\x03\x04" and zipfile.is_zipfile(io.BytesIO(data)):
        if len(data) > MAX_PAYMENT_FILE_BYTES:
            raise UploadError(_("文件超过 300 MB，请分批导入。"))
        try:
            xlsx_check(data, TableLimits.worker())
        except TableError as exc:
            raise UploadError(str(exc)) from None
        return
    payment_file_open(name, data)


def payment_file_open(name: str, data: bytes) -> PaymentTable:
    """Open a payment file (CSV in UTF-8 or GBK, or .xlsx): checks the file as a whole (type, encoding,
    columns) and returns its lines to stream. Raises ``UploadError`` with one message for the whole file."""
    if not data:
        raise UploadError(_("上传的文件是空的。"))
    if len(data) > MAX_PAYMENT_FILE_BYTES:
        raise UploadError(_("文件超过 300 MB，请分批导入。"))
    lower = (name or "").lower()
    if lower.endswith(".xls") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UploadError(_("不支持旧版 Excel（.xls）文件：请另存为 .xlsx 或 CSV 后导入。"))
    if data[:4] == b"PK\x03\x04" and zipfile.is_zipfile(io.BytesIO(data)):
        return _stage(_xlsx_rows(data))
    if lower.endswith(".xlsx"):
        raise UploadError(_("文件扩展名是 .xlsx，但内容不是 Excel 工作簿。"))
    return _stage(_csv_rows(data), text_cells=True)


def payment_template_csv() -> bytes:
    """An empty payment file with the expected columns and one example line, UTF-8 with BOM for Excel."""
    # A credit code with a correct check character, so the example line itself imports.
    example = "TAX-20251105-000001,单位,91331003MA2H7K5Q8L,示例单位,202510,1620.00,2025-11-05"
    totals = f"{TOTAL_COUNT},1\r\n{TOTAL_AMOUNT},1620.00\r\n"
    return (totals + ",".join(PAYMENT_HEADER) + "\r\n" + example + "\r\n").encode("utf-8-sig")


# ---------------------------------------------------------------------------------------------
# The reconciliation workbook (对账结果): a summary sheet per office and category, then the items.


def reconciliation_xlsx(*, payment_file, rows, total, items, full_ids: bool) -> bytes:
    """``rows``/``total`` from ``selectors.reconciliation_summary``; ``items`` an iterable of
    ReconciliationItem. ID numbers are masked unless ``full_ids``."""

    labels = dict(ReconciliationCategory.choices)
    workbook = Workbook(write_only=True)
    # Names (payers, the uploaded file's) are neutralised: a cell typed "=cmd|…" is text, never a formula.
    _reconciliation_summary_sheet(SafeSheet(workbook.create_sheet(_("汇总"))), payment_file, [*rows, total], labels)
    detail = SafeSheet(workbook.create_sheet(_("明细")))
    detail.append(
        [
            _("经办机构代码"),
            _("经办机构"),
            _("对账结果"),
            _("缴费方类型"),
            _("缴费方代码"),
            _("缴费方名称"),
            _("所属期"),
            _("应缴"),
            _("本文件到账"),
            _("差额"),
            _("到账笔数"),
            _("首行行号"),
        ]
    )
    for item in items:
        code = item.payer_code
        if item.payer_type == "person" and not full_ids:
            code = id_number_mask(code)
        name = item.employer.name if item.employer_id else (item.person.name if item.person_id else "")
        detail.append(
            [
                item.office.code,
                item.office.name,
                str(labels.get(item.category, item.category)),
                _("单位")
                if item.payer_type == "employer"
                else (_("个人") if item.payer_type == "person" else item.payer_type),
                code,
                name,
                item.period,
                item.due,
                item.paid,
                item.paid - item.due,
                item.line_count,
                item.first_line,
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _reconciliation_summary_sheet(summary, payment_file, rows: list, labels: dict) -> None:
    """The file, then per office (and the total) count, due and paid of every category."""
    categories = ReconciliationCategory.values
    summary.append([_("到账文件"), payment_file.name])
    summary.append([_("SHA-256"), payment_file.sha256])
    summary.append([_("导入时间"), timezone.localtime(payment_file.created_at).strftime("%Y-%m-%d %H:%M:%S")])
    summary.append([_("所属期"), "、".join(str(p) for p in payment_file.periods)])
    summary.append([])
    header = [_("经办机构代码"), _("经办机构")]
    count, due, paid = _("条"), _("应缴"), _("到账")  # outside the f-strings, where makemessages sees them
    for category in categories:
        header += [f"{labels[category]}（{count}）", f"{labels[category]}（{due}）", f"{labels[category]}（{paid}）"]
    summary.append(header)
    for row in rows:
        cells = [row.office.code if row.office else "", row.office.name if row.office else _("合计")]
        for category in categories:
            cells += [row.counts[category], row.due[category], row.paid[category]]
        summary.append(cells)
