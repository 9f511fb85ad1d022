"""账单文件: the period's bills for the collecting agency, as CSV (UTF-8 or GBK) or xlsx with a header of
counts and totals and a ``<name>.sha256`` beside it in ``sha256sum`` format (layout: docs/exchange-files.md).

Generated set-based: one aggregate query for the header, then the rows streamed from a server-side
cursor (``connection.chunked_cursor``) in bill order; no model object is loaded per bill. On PostgreSQL
both queries run in one REPEATABLE READ transaction, so the header always describes exactly the rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from contributions.exchange.layout import BILL_COLUMNS, LAYOUT_VERSION
from contributions.models import (
    INSURANCE_ORDER,
    Bill,
    BillExport,
    BillKind,
    BillTotal,
    ExportEncoding,
    ExportFormat,
    ExportStatus,
    PaymentAllocation,
)
from contributions.periods import period_of, period_parse
from registry.audit import recorded_user
from registry.jurisdiction import office_in_jurisdiction
from registry.locks import AdvisoryLock, advisory_try_xact_lock
from registry.models import Employer, InsuranceType, Office, OfficeLevel, Person
from registry.replica import replica_reads, report_connection
from registry.spreadsheets import row_neutralise, xlsx_row
from registry.task_queue import task_enqueue_on_commit

# Table names for the raw SQL below, from the models (never written by hand).
_BILL = Bill._meta.db_table
_BILL_TOTAL = BillTotal._meta.db_table
_EMPLOYER = Employer._meta.db_table
_OFFICE = Office._meta.db_table
_PAYMENT_ALLOCATION = PaymentAllocation._meta.db_table
_PERSON = Person._meta.db_table

FETCH = 5000
_LABELS = dict(InsuranceType.choices)
_KIND_LABELS = dict(BillKind.choices)
ZERO = Decimal("0.00")


def insurance_columns() -> list[str]:
    return [f"{_LABELS[ins]}应缴" for ins in INSURANCE_ORDER]


@dataclass
class _Summary:
    bills: int
    employer_bills: int
    person_bills: int
    employer_total: Decimal
    person_total: Decimal
    total_employer: Decimal
    total_individual: Decimal
    total: Decimal
    paid: Decimal
    open: Decimal
    insurance: dict[str, Decimal]
    last_bill_id: int | None


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _text(value: Decimal) -> str:
    return f"{value:.2f}"


@transaction.atomic
def bill_export_start(*, period: Any, office: Office, format: str, encoding: str = "", acting_user: Any) -> BillExport:
    """Queue the bill file of ``period`` for the bills of ``office`` and below; a worker writes it."""
    period = period_parse(period, allow_future=True)
    if not office_in_jurisdiction(acting_user, office):
        raise ValidationError({"office": _("导出范围不在您的辖区内。")})
    if format == ExportFormat.XLSX:
        encoding = ""
    elif format == ExportFormat.CSV:
        encoding = encoding or ExportEncoding.UTF8
        if encoding not in (ExportEncoding.UTF8, ExportEncoding.GBK):
            raise ValidationError({"encoding": _("CSV 文件的编码只能是 UTF-8 或 GBK。")})
    else:
        raise ValidationError({"format": _("导出格式只能是 CSV 或 xlsx。")})
    export = BillExport(
        period=period,
        office=office,
        format=format,
        encoding=encoding,
        created_by=recorded_user(acting_user),
    )
    export.full_clean()
    export.save()
    task_enqueue_on_commit("contributions.bill_export_execute", export.pk)
    return export


def _summary(cur, period: int, prefix: str) -> _Summary:
    pivot = ", ".join(
        f"SUM(CASE WHEN t.insurance_type = '{ins.value}' THEN t.amount ELSE 0 END)" for ins in INSURANCE_ORDER
    )
    cur.execute(
        f"""
        SELECT COUNT(*), SUM(CASE WHEN b.employer_id IS NOT NULL THEN 1 ELSE 0 END),
            SUM(CASE WHEN b.employer_id IS NOT NULL THEN b.total ELSE 0 END),
            SUM(CASE WHEN b.employer_id IS NULL THEN b.total ELSE 0 END),
            SUM(b.total_employer), SUM(b.total_individual), SUM(b.total), MAX(b.id)
        FROM {_BILL} b JOIN {_OFFICE} o ON o.id = b.office_id
        WHERE b.period = %s AND b.issued_at IS NOT NULL AND o.path LIKE %s
        """,
        [period, prefix],
    )
    n, employer_n, employer_total, person_total, te, ti, total, last = cur.fetchone()
    cur.execute(
        f"""
        SELECT COALESCE(SUM(a.amount), 0),
            COALESCE(SUM(CASE WHEN b.kind <> 'refund' THEN a.amount ELSE 0 END), 0)
        FROM {_PAYMENT_ALLOCATION} a
        JOIN {_BILL} b ON b.id = a.bill_id JOIN {_OFFICE} o ON o.id = b.office_id
        WHERE b.period = %s AND b.issued_at IS NOT NULL AND o.path LIKE %s
        """,
        [period, prefix],
    )
    paid, paid_open_kinds = cur.fetchone()
    cur.execute(
        f"""
        SELECT {pivot}
        FROM {_BILL_TOTAL} t
        JOIN {_BILL} b ON b.id = t.bill_id JOIN {_OFFICE} o ON o.id = b.office_id
        WHERE b.period = %s AND b.issued_at IS NOT NULL AND o.path LIKE %s
        """,
        [period, prefix],
    )
    per_insurance = cur.fetchone()
    cur.execute(
        f"""
        SELECT COALESCE(SUM(b.total), 0) FROM {_BILL} b JOIN {_OFFICE} o ON o.id = b.office_id
        WHERE b.period = %s AND b.issued_at IS NOT NULL AND o.path LIKE %s AND b.kind <> 'refund'
        """,
        [period, prefix],
    )
    billed_open_kinds = cur.fetchone()[0]
    return _Summary(
        bills=n or 0,
        employer_bills=employer_n or 0,
        person_bills=(n or 0) - (employer_n or 0),
        employer_total=_money(employer_total),
        person_total=_money(person_total),
        total_employer=_money(te),
        total_individual=_money(ti),
        total=_money(total),
        paid=_money(paid),
        open=_money(billed_open_kinds) - _money(paid_open_kinds),
        insurance={ins.value: _money(v) for ins, v in zip(INSURANCE_ORDER, per_insurance, strict=True)},
        last_bill_id=last,
    )


def _header_lines(export: BillExport, summary: _Summary, generated: str) -> list[list[str]]:
    office = export.office
    lines = [
        ["#文件", "台州市社会保险费账单"],
        ["#格式版本", LAYOUT_VERSION],
        ["#所属期", str(export.period)],
        ["#范围机构", office.code, office.name],
        ["#生成时间", generated],
        [
            "#账单数",
            str(summary.bills),
            "单位",
            str(summary.employer_bills),
            "个人",
            str(summary.person_bills),
        ],
        [
            "#应缴合计",
            _text(summary.total),
            "单位部分",
            _text(summary.total_employer),
            "个人部分",
            _text(summary.total_individual),
        ],
        ["#已缴合计", _text(summary.paid)],
        ["#未缴合计", _text(summary.open)],
        ["#缴费方合计", "employer", "单位", str(summary.employer_bills), _text(summary.employer_total)],
        ["#缴费方合计", "person", "个人", str(summary.person_bills), _text(summary.person_total)],
    ]
    for ins in INSURANCE_ORDER:
        lines.append(["#险种合计", ins.value, str(_LABELS[ins]), _text(summary.insurance[ins.value])])
    return lines


def _rows(period: int, prefix: str, last_bill_id: int, connection: Any = connection):
    """The bill rows in bill order, from a server-side cursor (PostgreSQL) in chunks."""
    pivot = ", ".join(
        f"SUM(CASE WHEN t.insurance_type = '{ins.value}' THEN t.amount ELSE 0 END) AS i{i}"
        for i, ins in enumerate(INSURANCE_ORDER)
    )
    columns = ", ".join(f"COALESCE(tt.i{i}, 0)" for i in range(len(INSURANCE_ORDER)))
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(
            f"""
            SELECT b.uid, b.kind, b.period, CASE WHEN b.employer_id IS NOT NULL THEN 'employer' ELSE 'person' END,
                COALESCE(e.credit_code, p.id_number), COALESCE(e.name, p.name), o.code, b.due_date,
                b.total_employer, b.total_individual, b.total, COALESCE(pa.paid, 0), {columns}
            FROM {_BILL} b
            JOIN {_OFFICE} o ON o.id = b.office_id
            LEFT JOIN {_EMPLOYER} e ON e.id = b.employer_id
            LEFT JOIN {_PERSON} p ON p.id = b.person_id
            LEFT JOIN (
                SELECT a.bill_id, SUM(a.amount) AS paid FROM {_PAYMENT_ALLOCATION} a
                JOIN {_BILL} ab ON ab.id = a.bill_id WHERE ab.period = %s GROUP BY a.bill_id
            ) pa ON pa.bill_id = b.id
            LEFT JOIN (
                SELECT t.bill_id, {pivot} FROM {_BILL_TOTAL} t
                JOIN {_BILL} tb ON tb.id = t.bill_id WHERE tb.period = %s GROUP BY t.bill_id
            ) tt ON tt.bill_id = b.id
            WHERE b.period = %s AND b.issued_at IS NOT NULL AND o.path LIKE %s AND b.id <= %s
            ORDER BY b.id
            """,
            [period, period, period, prefix, last_bill_id],
        )
        while True:
            chunk = cursor.fetchmany(FETCH)
            if not chunk:
                break
            yield from chunk
    finally:
        cursor.close()


def _row_values(row: tuple) -> list[Any]:
    uid, kind, period, payer_type, code, name, office_code, due, te, ti, total, paid, *insurance = row
    total, paid = _money(total), _money(paid)
    open_ = ZERO if kind == BillKind.REFUND else total - paid
    uid_text = str(uid) if len(str(uid)) != 32 else f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}"
    return [
        uid_text,
        kind,
        str(period),
        payer_type,
        code or "",
        name or "",
        office_code,
        due if isinstance(due, str) else due.isoformat(),
        _money(te),
        _money(ti),
        total,
        paid,
        open_,
        *[_money(v) for v in insurance],
    ]


def _write_csv(handle, export: BillExport, header: list[list[str]], rows) -> int:
    """Write the CSV (CRLF lines, UTF-8 with BOM or GBK); returns how many characters GBK could not hold."""
    encoding = "utf-8" if export.encoding == ExportEncoding.UTF8 else "gbk"
    replaced = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> None:
        nonlocal replaced, buffer, writer
        text = buffer.getvalue()
        try:
            data = text.encode(encoding)
        except UnicodeEncodeError:
            replaced += sum(1 for ch in text if not _gbk_ok(ch))
            data = text.encode(encoding, errors="replace")
        handle.write(data)
        buffer = io.StringIO()
        writer = csv.writer(buffer)

    if encoding == "utf-8":
        handle.write(b"\xef\xbb\xbf")  # so that Excel opens it as UTF-8
    for line in header:
        writer.writerow(row_neutralise(line))
    writer.writerow(BILL_COLUMNS + insurance_columns())
    for n, row in enumerate(rows, start=1):
        # Names are neutralised (a payer named "=cmd|…" is text in a spreadsheet); amounts are Decimals until here,
        # so a refund's "-12.00" stays a number for the agency's system.
        writer.writerow([_text(v) if isinstance(v, Decimal) else v for v in row_neutralise(_row_values(row))])
        if n % FETCH == 0:
            flush()
    flush()
    return replaced


_GBK_CACHE: dict[str, bool] = {}


def _gbk_ok(ch: str) -> bool:
    ok = _GBK_CACHE.get(ch)
    if ok is None:
        try:
            ch.encode("gbk")
            ok = True
        except UnicodeEncodeError:
            ok = False
        _GBK_CACHE[ch] = ok
    return ok


def _write_xlsx(handle, export: BillExport, header: list[list[str]], rows) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("账单"))
    for line in header:
        sheet.append(xlsx_row(sheet, line))
    sheet.append(BILL_COLUMNS + insurance_columns())
    for row in rows:
        sheet.append(xlsx_row(sheet, _row_values(row)))  # names neutralised and typed as text, never a formula
    workbook.save(handle)


def _file_name(export: BillExport, moment) -> str:
    suffix = "xlsx" if export.format == ExportFormat.XLSX else "csv"
    encoding = f"-{export.encoding}" if export.encoding else ""
    stamp = timezone.localtime(moment).strftime("%Y%m%d%H%M%S")
    return (
        f"exchange/bills/{export.period}/"
        f"bills-{export.period}-{export.office.code}-{stamp}-{str(export.uid)[:8]}{encoding}.{suffix}"
    )


def _generate(export: BillExport, reading: Any = connection) -> None:
    """Write the file from ``reading`` (the primary, or the read replica: registry.replica)."""
    prefix = export.office.path + "%"
    moment = timezone.now()
    with reading.cursor() as cur:
        summary = _summary(cur, export.period, prefix)
    header = _header_lines(export, summary, timezone.localtime(moment).isoformat(timespec="seconds"))
    rows = _rows(export.period, prefix, summary.last_bill_id or 0, reading)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(suffix=".part", delete=False) as tmp:
        try:
            if export.format == ExportFormat.XLSX:
                _write_xlsx(tmp, export, header, rows)
                replaced = 0
            else:
                replaced = _write_csv(tmp, export, header, rows)
            tmp.flush()
            tmp.seek(0)
            for block in iter(lambda: tmp.read(1 << 20), b""):
                digest.update(block)
            size = tmp.tell()
            tmp.seek(0)
            name = default_storage.save(_file_name(export, moment), File(tmp))
        finally:
            tmp.close()
            os.unlink(tmp.name)
    sha = digest.hexdigest()
    base = name.rsplit("/", 1)[-1]
    default_storage.save(f"{name}.sha256", ContentFile(f"{sha}  {base}\n".encode("ascii")))
    BillExport.objects.filter(pk=export.pk).update(
        status=ExportStatus.DONE,
        file=name,
        sha256=sha,
        size=size,
        bill_count=summary.bills,
        employer_bill_count=summary.employer_bills,
        person_bill_count=summary.person_bills,
        total_employer=summary.total_employer,
        total_individual=summary.total_individual,
        total=summary.total,
        open_amount=summary.open,
        insurance_totals={k: _text(v) for k, v in summary.insurance.items()},
        last_bill_id=summary.last_bill_id,
        replaced_chars=replaced,
        finished_at=timezone.now(),
    )


def bill_export_execute(*, bill_export_id: int) -> BillExport:
    """Write a queued bill file (idempotent: an export no longer queued is returned as it is)."""
    export = BillExport.objects.select_related("office").get(pk=bill_export_id)
    if export.status != ExportStatus.QUEUED:
        return export
    # An export reads from the read replica when one is configured and keeps up (registry.replica); inside a
    # transaction of the caller it reads from the primary.
    with replica_reads():
        reading = report_connection()
    on_replica = reading.alias != connection.alias
    outermost = not connection.in_atomic_block
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    if outermost and not on_replica:
                        # Header and rows from one snapshot: a bill run committing meanwhile changes neither.
                        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    # The export's own lock while it is written: a second message for it returns at once, and
                    # the sweeper sees a queued export nobody writes (services.sweeper).
                    if not advisory_try_xact_lock(cur, AdvisoryLock.BILL_EXPORT, export.pk):
                        return export
                    if BillExport.objects.filter(pk=export.pk, status=ExportStatus.QUEUED).count() == 0:
                        return BillExport.objects.get(pk=export.pk)  # written by the message before this one
            if on_replica:
                # The rows from the replica, one snapshot of it; the export's own row is written on the primary.
                with transaction.atomic(using=reading.alias), reading.cursor() as cur:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    _generate(export, reading)
            else:
                _generate(export, reading)
    except (OSError, ValidationError) as exc:
        BillExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, error=str(exc), finished_at=timezone.now()
        )
    export.refresh_from_db()
    return export


def sha256_file_text(export: BillExport) -> str:
    """The ``<name>.sha256`` beside the file (``sha256sum -c`` checks it)."""
    return f"{export.sha256}  {export.file_name}\n"


def current_export_period(*, on=None) -> int | None:
    """The period the nightly export writes: the latest period with issued bills, not after this month."""
    today = on or timezone.localdate()
    return Bill.objects.filter(issued_at__isnull=False, period__lte=period_of(today)).aggregate(p=Max("period"))["p"]


def bill_exports_nightly(*, formats: list[tuple[str, str]] | None = None, on=None) -> list[BillExport]:
    """The nightly bill files: the current period for the city and for each district, in each format.
    A scope whose bills have not changed since its last file of that format is skipped."""
    period = current_export_period(on=on)
    if period is None:
        return []
    formats = [tuple(f) for f in (formats or [(ExportFormat.CSV, ExportEncoding.UTF8)])]
    scopes = list(Office.objects.filter(level__in=[OfficeLevel.CITY, OfficeLevel.DISTRICT]).order_by("level", "code"))
    made = []
    for office in scopes:
        with connection.cursor() as cur:
            cur.execute(
                f"""
                SELECT COUNT(*), MAX(b.id) FROM {_BILL} b JOIN {_OFFICE} o ON o.id = b.office_id
                WHERE b.period = %s AND b.issued_at IS NOT NULL AND o.path LIKE %s
                """,
                [period, office.path + "%"],
            )
            count, last = cur.fetchone()
        if not count:
            continue
        for fmt, encoding in formats:
            encoding = "" if fmt == ExportFormat.XLSX else encoding
            unchanged = BillExport.objects.filter(
                period=period,
                office=office,
                format=fmt,
                encoding=encoding,
                status=ExportStatus.DONE,
                bill_count=count,
                last_bill_id=last,
            ).exists()
            if unchanged:
                continue
            export = BillExport(period=period, office=office, format=fmt, encoding=encoding)
            export.full_clean()
            export.save()
            made.append(bill_export_execute(bill_export_id=export.pk))
    return made
