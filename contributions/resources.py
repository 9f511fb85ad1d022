"""Files in and out of contributions: the payroll upload of the declaration page (CSV in UTF-8 or GBK,
or xlsx) and the django-import-export resource of declaration lines used by admin.

Both only read and shape the file; every line is then checked and written by
``services.declaration_submit`` (enrolment, base > 0, clamping to the floor and ceiling).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from contributions import selectors
from contributions.models import BaseClamp, Channel, DeclarationLine
from contributions.periods import period_parse
from contributions.services import DeclarationInputLine, declaration_submit
from contributions.uploads import UploadError, clean_header, rows_from_csv, rows_from_xlsx
from registry.identifiers import credit_code_normalize, id_number_mask, id_number_normalize
from registry.jurisdiction import scope_to_user
from registry.models import Employer

ID_COLUMN = "公民身份号码"
BASE_COLUMN = "缴费基数"
_ALIASES = {
    ID_COLUMN: {"公民身份号码", "身份证号码", "身份证号", "id_number"},
    BASE_COLUMN: {"缴费基数", "申报基数", "base", "declared_base"},
}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
MAX_ROWS = 20000


@dataclass(frozen=True)
class PayrollRow:
    line: int  # line number in the file (the header is line 1)
    id_number: str
    base: Any
    error: str = ""  # a problem found while reading this line (e.g. a number Excel mangled)


def _columns(header: list[Any]) -> tuple[int, int]:
    cleaned = [clean_header(h) for h in header]
    found: dict[str, int] = {}
    for wanted, names in _ALIASES.items():
        for index, name in enumerate(cleaned):
            if name in names or name.lower() in names:
                found[wanted] = index
                break
    missing = [name for name in (ID_COLUMN, BASE_COLUMN) if name not in found]
    if missing:
        shown = "、".join(h for h in cleaned if h) or _("（空）")
        raise UploadError(
            _("文件缺少列：%(missing)s。第一行应为列名“%(id)s”和“%(base)s”；文件第一行是：%(shown)s。")
            % {"missing": "、".join(missing), "id": ID_COLUMN, "base": BASE_COLUMN, "shown": shown[:200]}
        )
    return found[ID_COLUMN], found[BASE_COLUMN]


def _cell_text(value: Any) -> tuple[str, str]:
    """(text, problem) of an ID-number cell; Excel keeps long numbers as floats and loses digits."""
    if value is None:
        return "", ""
    if isinstance(value, bool):
        return str(value), ""
    if isinstance(value, int):
        text = str(value)
        return text, (
            _("公民身份号码被 Excel 存成了数字，末几位可能已丢失；请把该列设为“文本”后重新录入。")
            if len(text) > 15
            else ""
        )
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else str(value)
        return text, _("公民身份号码被 Excel 存成了数字，末几位可能已丢失；请把该列设为“文本”后重新录入。")
    text = str(value).strip()
    if _SCIENTIFIC.match(text):
        return text, _(
            "公民身份号码被 Excel 存成了科学计数法（%(text)s），号码已丢失；请把该列设为“文本”后重新录入。"
        ) % {"text": text}
    return text, ""


def _base_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        return value.strip()
    return value


def payroll_read(name: str, data: bytes) -> list[PayrollRow]:
    """The lines of an uploaded payroll (columns 公民身份号码 and 缴费基数; other columns are ignored).

    CSV may be UTF-8 or GBK (detected); .xlsx is read from its first sheet. Blank lines are skipped.
    Raises UploadError with a message for the clerk when the file as a whole is unusable.
    """
    if not data:
        raise UploadError(_("上传的文件是空的。"))
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(_("文件超过 10 MB，请分批上传。"))
    lower = (name or "").lower()
    is_zip = data[:4] == b"PK\x03\x04" and zipfile.is_zipfile(io.BytesIO(data))
    if lower.endswith(".xls") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UploadError(_("不支持旧版 Excel（.xls）文件：请在 Excel 中另存为 .xlsx 或 CSV 后上传。"))
    if is_zip:
        table = rows_from_xlsx(data)
    elif lower.endswith(".xlsx"):
        raise UploadError(_("文件扩展名是 .xlsx，但内容不是 Excel 工作簿。"))
    else:
        table = rows_from_csv(data)
    declared: dict[str, str] = {}
    # The header is the first non-blank row that is not a totals line.
    header_index = None
    for i, row in enumerate(table):
        if _totals_line(row, declared):
            continue
        if any(str(c or "").strip() for c in row):
            header_index = i
            break
    if header_index is None:
        raise UploadError(_("文件中没有任何内容。"))
    id_col, base_col = _columns(table[header_index])
    rows: list[PayrollRow] = []
    for index in range(header_index + 1, len(table)):
        cells = table[index]
        if not any(str(c if c is not None else "").strip() for c in cells) or _totals_line(cells, declared):
            continue
        raw_id = cells[id_col] if id_col < len(cells) else None
        raw_base = cells[base_col] if base_col < len(cells) else None
        text, problem = _cell_text(raw_id)
        rows.append(PayrollRow(line=index + 1, id_number=text, base=_base_value(raw_base), error=problem))
        if len(rows) > MAX_ROWS:
            raise UploadError(_("文件超过 %(n)s 行，请分批上传。") % {"n": MAX_ROWS})
    if not rows:
        raise UploadError(_("文件只有列名，没有数据行。"))
    _totals_check(declared, rows)
    return rows


# The totals lines a payroll file must carry (docs/exchange-files.md, "The payroll file"): the number of people
# and the sum of their bases. A file cut short — a line lost, "8000" truncated to "80" — no longer matches them.
TOTAL_PEOPLE = "#合计人数"
TOTAL_BASE = "#合计基数"


def _totals_line(cells: list[Any], declared: dict[str, str]) -> bool:
    first = str(cells[0] if cells and cells[0] is not None else "").strip().lstrip("\ufeff").replace(" ", "")
    if not first.startswith("#"):
        return False
    if first in (TOTAL_PEOPLE, TOTAL_BASE):
        value = cells[1] if len(cells) > 1 else ""
        declared[first] = str(_base_value(value) if value is not None else "").strip()
    return True  # another "#" line is a comment


def _totals_check(declared: dict[str, str], rows: list[PayrollRow]) -> None:
    missing = [key for key in (TOTAL_PEOPLE, TOTAL_BASE) if key not in declared]
    if missing:
        raise UploadError(
            _("工资表缺少合计行 %(missing)s：请在列名行之前写明“#合计人数,N”和“#合计基数,金额”（模板中已有）。")
            % {"missing": "、".join(missing)}
        )
    try:
        people = int(declared[TOTAL_PEOPLE].replace(",", ""))
        total = Decimal(declared[TOTAL_BASE].replace(",", ""))
    except (ValueError, InvalidOperation):
        raise UploadError(
            _("合计行无法读取：#合计人数“%(people)s”，#合计基数“%(total)s”。")
            % {"people": declared[TOTAL_PEOPLE], "total": declared[TOTAL_BASE]}
        ) from None
    if people != len(rows):
        raise UploadError(
            _(
                "合计行与明细不符：#合计人数为 %(declared)s，文件中有 %(rows)s 行明细。文件可能不完整，请核对后重新上传。"
            )
            % {"declared": people, "rows": len(rows)}
        )
    bases = []
    for row in rows:
        try:
            bases.append(Decimal(str(row.base).strip().replace(",", "")))
        except (InvalidOperation, ValueError):
            return  # an unreadable base is named on its own line by the declaration's checks
    if sum(bases, Decimal("0")) != total:
        raise UploadError(
            _(
                "合计行与明细不符：#合计基数为 %(declared)s，%(rows)s 行明细的基数合计为 %(sum)s。"
                "文件可能不完整（如数字被截断），请核对后重新上传。"
            )
            % {"declared": f"{total:.2f}", "rows": len(rows), "sum": f"{sum(bases, Decimal('0')):.2f}"}
        )


MAX_AMOUNT = Decimal("999999999999.99")  # what a money column (14 digits, 2 decimals) can hold


def amount_problem(raw: Any) -> str:
    """Why ``raw`` cannot even be stored as an amount (too many digits), or "" — format only: whether the
    amount is acceptable (positive, two decimals, within the base limits) is the service's to say."""
    if isinstance(raw, bool) or raw is None:
        return ""
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return ""
    if value.is_finite() and abs(value) > MAX_AMOUNT:
        return _("金额“%(value)s”位数过多（最多 12 位整数、2 位小数）。") % {"value": str(raw).strip()[:30]}
    return ""


def payroll_normalize(rows: list[PayrollRow]) -> tuple[dict[int, str], list[tuple[int, str]]]:
    """Normalised ID numbers by line, and (line, message) for the lines whose number is unusable."""
    numbers: dict[int, str] = {}
    errors: list[tuple[int, str]] = []
    for row in rows:
        where = _("第 %(row)s 行") % {"row": row.line}
        if row.error:
            errors.append((row.line, f"{where}：{row.error}"))
            continue
        if amount_problem(row.base):
            errors.append((row.line, f"{where}：{amount_problem(row.base)}"))
            continue
        if not row.id_number:
            errors.append((row.line, _("%(where)s：公民身份号码为空。") % {"where": where}))
            continue
        try:
            numbers[row.line] = id_number_normalize(row.id_number)
        except ValidationError as exc:
            errors.append((row.line, f"{where}：{'；'.join(exc.messages)}"))
    return numbers, errors


def payroll_template_csv() -> bytes:
    """An empty payroll with its totals lines and the expected columns, UTF-8 with BOM so that Excel opens it
    correctly."""
    return f"{TOTAL_PEOPLE},0\r\n{TOTAL_BASE},0.00\r\n{ID_COLUMN},{BASE_COLUMN}\r\n".encode("utf-8-sig")


# ---------------------------------------------------------------------------------------------
# django-import-export: declaration lines in admin.


class _Text(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        return "" if value is None else str(value).strip()


class DeclarationLineResource(resources.ModelResource):
    """One row per person: 统一社会信用代码, 所属期, 公民身份号码, 申报基数 (export adds name, base, clamp).

    Each row goes through ``services.declaration_submit`` (channel 文件); a row it refuses is an error
    and, as for every import here, the whole file is then refused (IMPORT_EXPORT_USE_TRANSACTIONS).
    """

    employer = fields.Field(attribute="employer_code", column_name="统一社会信用代码", widget=_Text())
    period = fields.Field(attribute="period_text", column_name="所属期", widget=_Text())
    id_number = fields.Field(attribute="id_number_text", column_name=ID_COLUMN, widget=_Text())
    name = fields.Field(attribute="person_name", column_name="姓名", readonly=True)
    declared_base = fields.Field(attribute="declared_text", column_name="申报基数", widget=_Text())
    base = fields.Field(attribute="base_text", column_name="核定基数", readonly=True)
    clamp = fields.Field(attribute="clamp_text", column_name="基数调整", readonly=True)

    class Meta:
        model = DeclarationLine
        fields = ["employer", "period", "id_number", "name", "declared_base", "base", "clamp"]
        export_order = fields
        import_id_fields = []
        force_init_instance = True
        clean_model_instances = False
        skip_unchanged = False
        use_bulk = False

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    # Export ------------------------------------------------------------------------------------

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("declaration__employer", "person")

    def dehydrate_employer(self, line):
        return line.declaration.employer.credit_code

    def dehydrate_period(self, line):
        return str(line.declaration.period)

    def dehydrate_id_number(self, line):
        if self.user is not None and self.user.has_perm("registry.view_full_id_number"):
            return line.person.id_number
        return id_number_mask(line.person.id_number)

    def dehydrate_name(self, line):
        return line.person.name

    def dehydrate_declared_base(self, line):
        return str(line.declared_base)

    def dehydrate_base(self, line):
        return str(line.base)

    def dehydrate_clamp(self, line):
        return str(dict(BaseClamp.choices).get(line.clamp, "")) if line.clamp else ""

    # Import ------------------------------------------------------------------------------------

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        user = kwargs.get("user") or self.user
        errors: dict[str, str] = {}
        employer = None
        try:
            code = credit_code_normalize(instance.employer_code)
            employer = scope_to_user(Employer.objects.select_related("office"), user).filter(credit_code=code).first()
        except ValidationError:
            code = instance.employer_code
        if employer is None:
            errors["统一社会信用代码"] = _("统一社会信用代码“%(code)s”对应的单位不存在或不在您的辖区内。") % {
                "code": code
            }
        try:
            instance.period_value = period_parse(instance.period_text, field="period_text")
        except ValidationError as exc:
            errors["所属期"] = "；".join(exc.messages)
        person = None
        try:
            number = id_number_normalize(instance.id_number_text)
        except ValidationError as exc:
            errors[ID_COLUMN] = "；".join(exc.messages)
        else:
            if employer is not None:
                person = selectors.declaration_persons(user=user, employer=employer, id_numbers=[number]).first()
            if person is None and employer is not None:
                errors[ID_COLUMN] = _("公民身份号码 %(n)s 的参保人员不存在或不在您的辖区内。") % {
                    "n": id_number_mask(number)
                }
        if errors:
            raise ValidationError(errors)
        instance.employer_obj = employer
        instance.person = person
        instance.person_name = person.name

    def do_instance_save(self, instance, is_create):
        declaration = declaration_submit(
            employer=instance.employer_obj,
            period=instance.period_value,
            lines=[DeclarationInputLine(person=instance.person, base=instance.declared_text, row=self._row_number)],
            acting_user=self.user,
            channel=Channel.FILE,
        )
        saved = DeclarationLine.objects.get(declaration=declaration, person=instance.person)
        instance.pk, instance.declaration = saved.pk, declaration
        instance.declared_base, instance.base, instance.clamp = saved.declared_base, saved.base, saved.clamp
        instance.base_text = str(saved.base)
        instance.clamp_text = str(dict(BaseClamp.choices).get(saved.clamp, "")) if saved.clamp else ""

    def save_instance(self, instance, is_create, row, **kwargs):
        self._row_number = (kwargs.get("row_number") or 0) + 1  # the header is line 1
        try:
            super().save_instance(instance, is_create, row, **kwargs)
        except ValidationError as exc:
            messages = exc.message_dict.get("lines") if hasattr(exc, "error_dict") else None
            raise ValidationError({"申报基数": messages or exc.messages}) from None
