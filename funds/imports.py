"""Reading the monthly expenditure file (CSV in UTF-8 or GBK, or xlsx). Only reads and shapes rows; every
row is checked and posted by ``services.expenditure_import``."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from registry.tables import TableError, TableLimits, csv_rows, xlsx_rows

from .services import ExpenditureRow

COLUMNS = {
    "fund": {"基金", "险种", "fund", "insurance"},
    "district": {"区划代码", "区", "district"},
    "period": {"月份", "所属期", "period", "month"},
    "account": {"科目", "支出科目", "account"},
    "amount": {"金额", "支出金额", "amount"},
}
REQUIRED = ("fund", "district", "period", "amount")
MAX_BYTES = 5 * 1024 * 1024
TEMPLATE_CSV = "基金,区划代码,月份,科目,金额\nemp_medical,331002,202501,benefit_expenditure,1234567.89\n"


def _fail(message: str) -> ValidationError:
    return ValidationError({"file": message})


def _table(name: str, data: bytes) -> list[list[Any]]:
    if not data:
        raise _fail(_("上传的文件是空的。"))
    if len(data) > MAX_BYTES:
        raise _fail(_("文件超过 5 MB。"))
    if data[:4] == b"PK\x03\x04" and zipfile.is_zipfile(io.BytesIO(data)):
        # Streamed within a web request's limits (sizes and the sheet's dimension before parsing: an xlsx bomb).
        try:
            return list(xlsx_rows(data, TableLimits.web()))
        except TableError as exc:
            raise _fail(str(exc)) from None
    if (name or "").lower().endswith((".xls", ".xlsx")):
        raise _fail(_("只支持 .xlsx 工作簿或 CSV 文件（旧版 .xls 请另存为 .xlsx）。"))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _fail(_("无法识别文件编码，请保存为 UTF-8 或 GBK 编码的 CSV。"))
    try:
        return [cells for _line, cells in csv_rows(text, TableLimits.web())]
    except TableError as exc:
        raise _fail(str(exc)) from None


def expenditure_rows_read(name: str, data: bytes) -> list[ExpenditureRow]:
    table = _table(name, data)
    header_at = next((i for i, row in enumerate(table) if any(str(c or "").strip() for c in row)), None)
    if header_at is None:
        raise _fail(_("文件中没有任何内容。"))
    header = [str(c or "").strip().lstrip("\ufeff").lower() for c in table[header_at]]
    index: dict[str, int] = {}
    for key, names in COLUMNS.items():
        for i, h in enumerate(header):
            if h in names:
                index[key] = i
                break
    missing = [key for key in REQUIRED if key not in index]
    if missing:
        wanted = "、".join(sorted(COLUMNS[k], key=len)[0] for k in missing)
        raise _fail(_("文件缺少列：%(cols)s。第一行应为：基金,区划代码,月份,科目,金额。") % {"cols": wanted})
    rows = []
    for n in range(header_at + 1, len(table)):
        cells = table[n]
        if not any(str(c if c is not None else "").strip() for c in cells):
            continue

        def cell(key: str, cells=cells) -> Any:
            i = index.get(key)
            value = cells[i] if i is not None and i < len(cells) else ""
            if isinstance(value, float) and value.is_integer() and key in ("district", "period"):
                value = int(value)
            return (
                value
                if key == "amount" and not isinstance(value, str)
                else str(value if value is not None else "").strip()
            )

        amount = cell("amount")
        if isinstance(amount, float):
            amount = repr(amount)
        rows.append(
            ExpenditureRow(
                row=n + 1,
                fund=cell("fund"),
                district=cell("district"),
                period=cell("period"),
                account=cell("account"),
                amount=amount,
            )
        )
    if not rows:
        raise _fail(_("文件只有列名，没有数据行。"))
    return rows
