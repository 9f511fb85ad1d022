"""Files handed out: the lines not imported (CSV, to correct and deliver again) and the reconciliation workbook a
district signs off (xlsx). Every text cell a spreadsheet would take for a formula is neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from openpyxl import Workbook

from consolidation.layout import COLUMNS
from consolidation.models import FILE_ORDER, FileKind, ImportBatch, RejectedLine
from consolidation.problems import problem_text
from registry.identifiers import id_number_mask
from registry.spreadsheets import cell_neutralise

# Text starting with = + - @, a tab or a carriage return gets a leading apostrophe (registry.spreadsheets, the one
# neutraliser of every export); numbers stay numbers.
safe_cell = cell_neutralise


def batch_rejected_csv(batch: ImportBatch, *, full_ids: bool = False) -> Iterator[bytes]:
    """Every line not imported, per file: line number, reason, then the line as delivered (the file's own
    columns); CSV in UTF-8 with BOM, streamed. ID numbers are masked unless ``full_ids`` (the district needs them
    whole to correct its lines: roles allowed to see whole numbers)."""
    files = {f.kind: f for f in batch.files.all()}
    yield "\ufeff".encode()
    for kind in FILE_ORDER:
        lines = RejectedLine.objects.filter(batch=batch, kind=kind).order_by("line_no")
        if not lines.exists():
            continue
        header = files[kind].header if kind in files and files[kind].header else [c.header for c in COLUMNS[kind]]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([safe_cell(f"# {FileKind(kind).label}")])
        writer.writerow([_("行号"), _("原因"), *[safe_cell(h) for h in header]])
        id_column = files[kind].columns.get("id_number") if kind in files and not full_ids else None
        for line in lines.iterator(chunk_size=2000):
            reason = problem_text(line.code, line.detail)
            cells = list(line.raw or [])
            if id_column is not None and id_column < len(cells):
                cells[id_column] = id_number_mask(str(cells[id_column]))
            writer.writerow([line.line_no, safe_cell(reason), *[safe_cell(v) for v in cells]])
            if buffer.tell() > 1 << 16:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")


RECONCILIATION_ROWS = [
    # (section, key, label)
    ("persons", None, gettext_noop("参保人员")),
    ("persons", "total", gettext_noop("收到（行）")),
    ("persons", "rejected", gettext_noop("未导入")),
    ("persons", "created", gettext_noop("新建")),
    ("persons", "matched", gettext_noop("合并到已有人员")),
    ("persons", "duplicate", gettext_noop("文件内重复，并入同一人员")),
    ("persons", "held", gettext_noop("待人工核对")),
    ("persons", "queued", gettext_noop("进入冲突队列（含已新建或已合并的）")),
    ("employers", None, gettext_noop("参保单位")),
    ("employers", "total", gettext_noop("收到（行）")),
    ("employers", "rejected", gettext_noop("未导入")),
    ("employers", "created", gettext_noop("新建")),
    ("employers", "matched", gettext_noop("合并到已有单位")),
    ("employers", "duplicate", gettext_noop("文件内重复")),
    ("enrollments", None, gettext_noop("参保登记")),
    ("enrollments", "total", gettext_noop("收到（行）")),
    ("enrollments", "rejected", gettext_noop("未导入")),
    ("enrollments", "created", gettext_noop("新建")),
    ("enrollments", "present", gettext_noop("已存在")),
    ("enrollments", "overlap", gettext_noop("与已有登记重叠，未导入")),
    ("enrollments", "held", gettext_noop("待人工核对")),
    ("enrollment_months", None, gettext_noop("参保月数")),
    ("enrollment_months", "total", gettext_noop("收到")),
    ("enrollment_months", "rejected", gettext_noop("未导入")),
    ("enrollment_months", "created", gettext_noop("新建")),
    ("enrollment_months", "present", gettext_noop("已存在")),
    ("enrollment_months", "overlap", gettext_noop("重叠未导入")),
    ("enrollment_months", "held", gettext_noop("待人工核对")),
    ("history", None, gettext_noop("历史缴费")),
    ("history", "received", gettext_noop("收到")),
    ("history", "rejected_check", gettext_noop("检查未通过")),
    ("history", "loaded", gettext_noop("已导入（按批次从缴费记录中统计）")),
    ("history", "present", gettext_noop("已存在，未重复导入")),
    ("history", "duplicate", gettext_noop("文件内重复")),
    ("history", "differs", gettext_noop("与已导入的金额不同，未导入")),
    ("history", "held", gettext_noop("待人工核对")),
    ("history", "not_imported", gettext_noop("人员未导入")),
    ("history", "overlap_months", gettext_noop("其中与其他区重叠的缴费月（两条都保留，只计一次）")),
]


def _section_total(section: dict[str, Any]) -> Any:
    return sum((Decimal(str(v)) for k, v in section.items() if k != "queued"), Decimal(0))


def reconciliation_rows(reconciliation: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(label, lines or count, amount) rows of a batch's or a district's reconciliation."""
    rows = []
    for section, key, label in RECONCILIATION_ROWS:
        data = reconciliation.get(section) or {}
        if key is None:
            rows.append((_(label), None, None))
        elif section == "history" and key == "overlap_months":
            rows.append((_(label), data.get(key, 0), None))
        elif section == "history":
            rows.append((_(label), data.get(f"{key}_rows", 0), data.get(f"{key}_amount", "0")))
        elif key == "total":
            rows.append((_(label), _section_total(data), None))
        else:
            rows.append((_(label), data.get(key, 0), None))
    return rows


def reconciliation_xlsx(
    *, title: str, scope: str, reconciliation: dict[str, Any], checks: list[dict[str, Any]], problems: list[Any]
) -> bytes:
    """The workbook a district signs off: the reconciliation, the checks (each must agree) and the reasons of the
    lines not imported, with room for the signatures."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("对账"))
    sheet.append([safe_cell(title)])
    sheet.append([_("范围"), safe_cell(scope)])
    sheet.append([_("生成时间"), timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")])
    sheet.append([])
    sheet.append([_("项目"), _("行数/人数"), _("金额（元）")])
    for label, count, amount in reconciliation_rows(reconciliation):
        sheet.append([safe_cell(label), _number(count), _number(amount)])
    sheet.append([])
    sheet.append([_("核对项"), _("应为"), _("实际"), _("结果")])
    for check in checks:
        sheet.append(
            [
                safe_cell(str(check_label(check["code"]))),
                _number(check["expected"]),
                _number(check["actual"]),
                _("相符") if check["ok"] else _("不符"),
            ]
        )
    sheet.append([])
    sheet.append([_("区经办机构（签章）"), "", _("市社保中心（签章）")])
    sheet.append([_("日期"), "", _("日期")])
    reasons = workbook.create_sheet(_("未导入原因"))
    reasons.append([_("文件"), _("原因代码"), _("行数"), _("金额（元）"), _("示例")])
    for row in problems:
        reasons.append(
            [
                safe_cell(row.kind_label),
                safe_cell(row.code),
                row.count,
                _number(row.amount),
                safe_cell("；".join(row.samples)),
            ]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _number(value: Any) -> Any:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return safe_cell(str(value))
    return int(number) if number == number.to_integral_value() and "." not in str(value) else number


CHECKS = {
    "persons_lines": gettext_noop("人员：收到 = 未导入 + 新建 + 合并 + 待核对"),
    "employers_lines": gettext_noop("单位：收到 = 未导入 + 新建 + 合并"),
    "enrollments_lines": gettext_noop("参保登记：收到 = 未导入 + 新建 + 已存在 + 重叠 + 待核对"),
    "enrollments_months": gettext_noop("参保月数：收到 = 未导入 + 新建 + 已存在 + 重叠 + 待核对"),
    "registry_persons": gettext_noop("登记库本区人员：导入前 + 新建 = 导入后"),
    "registry_employers": gettext_noop("登记库本区单位：导入前 + 新建 = 导入后"),
    "history_lines": gettext_noop("历史缴费行数：收到 = 各项之和"),
    "history_amount": gettext_noop("历史缴费金额：收到 = 各项之和（到分）"),
    "history_loaded": gettext_noop("历史缴费：写入行数 = 缴费记录中本批次的行数"),
}


def check_label(code: str) -> str:
    return _(CHECKS.get(code, code))
