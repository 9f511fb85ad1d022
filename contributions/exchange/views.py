"""Clerk pages of the files exchanged with the collecting agency: bill files (list, generate, download with
their SHA-256), payment files (upload, report, kept lines and their correction) and the reconciliation per
office (page and xlsx). Reads through ``selectors``, writes through ``services``; jurisdiction by the one
mechanism (out of jurisdiction: 404)."""

from __future__ import annotations

import datetime
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from contributions import selectors, services
from contributions.exchange import bill_exports
from contributions.exchange.layout import PAYMENT_HEADER, payment_template_csv, reconciliation_xlsx
from contributions.forms import (
    BillExportStartForm,
    LineCorrectionForm,
    PaymentFileUploadForm,
    ReconciliationFilterForm,
)
from contributions.models import (
    BillExport,
    Channel,
    ExportEncoding,
    ExportFormat,
    ExportStatus,
    LineStatus,
    PaymentFile,
    PaymentFileLine,
    PaymentFileMode,
    PaymentFileStatus,
    ReconciliationCategory,
)
from contributions.periods import period_of
from registry import services as registry_services
from registry.exceptions import error_messages
from registry.identifiers import id_number_mask
from registry.jurisdiction import scope_to_user
from registry.models import Office, OfficeLevel, SensitiveAccess
from registry.pages import page_number, query_string_without_page

PAGE_SIZE = 30
_CATEGORY_LABELS = dict(ReconciliationCategory.choices)


def _attachment(name: str) -> str:
    return f"attachment; filename*=UTF-8''{quote(name)}"


# ---------------------------------------------------------------------------------------------
# Bill files.


def _scope_offices(user) -> list[Office]:
    return list(
        scope_to_user(Office.objects.filter(level__in=[OfficeLevel.CITY, OfficeLevel.DISTRICT]), user).order_by(
            "level", "code"
        )
    )


@login_required
@permission_required("contributions.view_billexport", raise_exception=True)
@require_http_methods(["GET", "POST"])
def bill_export_list(request):
    offices = _scope_offices(request.user)
    initial = {
        "period": str(bill_exports.current_export_period() or period_of(timezone.localdate())),
        "office": offices[0].code if offices else "",
        "format": "csv-utf-8",
    }
    form = BillExportStartForm(initial=initial).values()
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("contributions.add_billexport"):
            raise PermissionDenied
        form = BillExportStartForm(request.POST).values()
        office = next((o for o in offices if o.code == form["office"]), None)
        fmt, _sep, encoding = form["format"].partition("-")
        try:
            if office is None:
                raise ValidationError({"office": _("请选择您辖区内的导出范围。")})
            export = services.bill_export_start(
                period=form["period"], office=office, format=fmt, encoding=encoding, acting_user=request.user
            )
        except ValidationError as exc:
            errors, status = error_messages(exc), 400
        else:
            messages.success(
                request,
                _("已开始生成 %(period)s %(office)s 的账单文件。") % {"period": export.period, "office": office.name},
            )
            return redirect("contributions_bill_export_list")
    page = Paginator(selectors.bill_export_list(user=request.user), PAGE_SIZE).get_page(page_number(request.GET))
    return render(
        request,
        "contributions/bill_export_list.html",
        {
            "page": page,
            "form": form,
            "errors": errors,
            "offices": offices,
            "formats": [
                ("csv-utf-8", _("CSV（UTF-8）")),
                ("csv-gbk", _("CSV（GBK）")),
                ("xlsx-", _("Excel（.xlsx）")),
            ],
            "can_start": request.user.has_perm("contributions.add_billexport"),
            "active": any(e.status == ExportStatus.QUEUED for e in page),
            "query_string": query_string_without_page(request),
        },
        status=status,
    )


def _export_or_404(request, uid) -> BillExport:
    export = selectors.bill_export_list(user=request.user).filter(uid=uid).first()
    if export is None or export.status != ExportStatus.DONE or not export.file:
        raise Http404
    return export


@login_required
@permission_required("contributions.view_billexport", raise_exception=True)
@require_GET
def bill_export_download(request, uid):
    export = _export_or_404(request, uid)
    content_type = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if export.format == ExportFormat.XLSX
        else f"text/csv; charset={'utf-8' if export.encoding == ExportEncoding.UTF8 else 'gbk'}"
    )
    # The file carries the whole ID numbers of its person bills (the agency needs them): logged like an export.
    registry_services.sensitive_access_record_many(
        acting_user=request.user,
        person_ids=selectors.bill_export_person_ids(export),
        channel=SensitiveAccess.Channel.EXPORT,
        request_id=getattr(request, "request_id", ""),
    )
    response = FileResponse(export.file.open("rb"), content_type=content_type)
    response["Content-Disposition"] = _attachment(export.file_name)
    response["X-Content-SHA256"] = export.sha256
    return response


@login_required
@permission_required("contributions.view_billexport", raise_exception=True)
@require_GET
def bill_export_sha256(request, uid):
    export = _export_or_404(request, uid)
    response = HttpResponse(bill_exports.sha256_file_text(export), content_type="text/plain; charset=ascii")
    response["Content-Disposition"] = _attachment(f"{export.file_name}.sha256")
    return response


# ---------------------------------------------------------------------------------------------
# Payment files.


@login_required
@permission_required("contributions.view_paymentfile", raise_exception=True)
@require_http_methods(["GET", "POST"])
def payment_file_list(request):
    errors: list[str] = []
    status = 200
    mode = PaymentFileMode.STRICT
    if request.method == "POST":
        if not request.user.has_perm("contributions.add_paymentfile"):
            raise PermissionDenied
        upload_form = PaymentFileUploadForm(request.POST, request.FILES)
        upload = upload_form.cleaned_data.get("file") if upload_form.is_valid() else None
        mode = upload_form.values()["mode"] or PaymentFileMode.STRICT
        if upload is None:
            errors, status = [_("请选择要导入的到账文件（CSV 或 Excel .xlsx）。")], 400
        else:
            try:
                payment_file, created = services.payment_file_upload(
                    name=upload.name, data=upload.read(), mode=mode, acting_user=request.user, channel=Channel.FILE
                )
            except ValidationError as exc:
                errors, status = error_messages(exc), 400
            else:
                _announce(request, payment_file, created)
                return redirect("contributions_payment_file_detail", uid=payment_file.uid)
    page = Paginator(selectors.payment_file_list(user=request.user), PAGE_SIZE).get_page(page_number(request.GET))
    # A file imported outside the user's jurisdiction shows only his offices' part of it, never its city-wide counts.
    others = [f.pk for f in page if not selectors.payment_file_managed(user=request.user, payment_file=f)]
    figures = selectors.payment_file_jurisdiction_figures(user=request.user, file_ids=others) if others else {}
    rows = [(f, f.pk not in others, figures.get(f.pk)) for f in page]
    return render(
        request,
        "contributions/payment_file_list.html",
        {
            "page": page,
            "rows": rows,
            "errors": errors,
            "mode": mode,
            "modes": PaymentFileMode.choices,
            "can_upload": request.user.has_perm("contributions.add_paymentfile"),
            "can_skip_bad": request.user.has_perm("contributions.import_skip_bad"),
            "header": ",".join(PAYMENT_HEADER),
            "active": any(f.status in (PaymentFileStatus.QUEUED, PaymentFileStatus.PROCESSING) for f in page),
            "query_string": query_string_without_page(request),
        },
        status=status,
    )


def _announce(request, payment_file: PaymentFile, created: bool) -> None:
    unfinished = payment_file.status in (PaymentFileStatus.QUEUED, PaymentFileStatus.PROCESSING)
    if not created and unfinished:
        messages.info(request, _("该文件此前上传后未导入完成，已继续导入；本页会显示进度和结果。"))
    elif not created:
        messages.info(
            request,
            _("该文件（SHA-256 %(sha)s…）已于 %(when)s 导入（%(name)s），本次未做任何更改。")
            % {
                "sha": payment_file.sha256[:12],
                "when": timezone.localtime(payment_file.created_at).strftime("%Y-%m-%d %H:%M"),
                "name": payment_file.name,
            },
        )
    elif payment_file.status == PaymentFileStatus.REJECTED:
        messages.error(
            request,
            _("文件有 %(bad)s 行错误，已整份拒收，未登记任何到账；错误行及原因见下。")
            % {"bad": payment_file.bad_count},
        )
    elif unfinished:
        messages.info(request, _("文件已收到，正在后台导入；本页会显示进度和结果。"))
    elif payment_file.status == PaymentFileStatus.FAILED:
        messages.error(request, payment_file.error or _("导入失败。"))
    else:
        messages.success(
            request,
            _("已导入：新登记到账 %(new)s 笔，共 %(amount)s 元；此前已登记 %(repeat)s 笔；错误行 %(bad)s 行。")
            % {
                "new": payment_file.imported_count,
                "amount": payment_file.imported_amount,
                "repeat": payment_file.repeat_count,
                "bad": payment_file.bad_count,
            },
        )


@login_required
@permission_required("contributions.add_paymentfile", raise_exception=True)
@require_GET
def payment_file_template(request):
    response = HttpResponse(payment_template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = _attachment("到账文件模板.csv")
    return response


def _file_or_404(request, uid) -> PaymentFile:
    try:
        return selectors.payment_file_get(user=request.user, uid=uid)
    except (PaymentFile.DoesNotExist, ValidationError):
        raise Http404 from None


def _masked(code: str, payer_type: str, user) -> str:
    if payer_type == "person" and not user.has_perm("registry.view_full_id_number"):
        return id_number_mask(code)
    return code


@login_required
@permission_required("contributions.view_paymentfile", raise_exception=True)
@require_GET
def payment_file_detail(request, uid):
    payment_file = _file_or_404(request, uid)
    managed = selectors.payment_file_managed(user=request.user, payment_file=payment_file)
    rows, total = selectors.reconciliation_summary(user=request.user, payment_file=payment_file)
    categories = ReconciliationCategory.values
    lines = None
    if managed and payment_file.status in (PaymentFileStatus.PENDING_LINES, PaymentFileStatus.IMPORTED):
        lines = Paginator(
            selectors.payment_file_bad_lines(user=request.user, payment_file=payment_file), PAGE_SIZE
        ).get_page(page_number(request.GET))
    return render(
        request,
        "contributions/payment_file_detail.html",
        {
            "file": payment_file,
            "managed": managed,
            "problems": (payment_file.report or {}).get("problems", []) if managed else [],
            "report": (payment_file.report or {}) if managed else {},
            "own_lines": sum(total.lines.values()),
            "own_paid": sum(total.paid.values()),
            "table": [
                {"office": row.office, "cells": [(c, row.counts[c], row.due[c], row.paid[c]) for c in categories]}
                for row in ([*rows, total] if rows else [])
            ],
            "categories": ReconciliationCategory.choices,
            "lines": lines,
            "can_correct": managed and request.user.has_perm("contributions.change_paymentfileline"),
            "active": payment_file.status in (PaymentFileStatus.QUEUED, PaymentFileStatus.PROCESSING),
            "query_string": query_string_without_page(request),
        },
    )


@login_required
@permission_required("contributions.view_reconciliationitem", raise_exception=True)
@require_GET
def payment_file_reconciliation(request, uid):
    payment_file = _file_or_404(request, uid)
    filters = ReconciliationFilterForm(request.GET).values()
    category = filters["category"] if filters["category"] in ReconciliationCategory.values else ""
    office = None
    code = filters["office"]
    if code:
        office = scope_to_user(Office.objects.all(), request.user).filter(code=code).first()
    items = selectors.reconciliation_items(
        user=request.user, payment_file=payment_file, category=category or None, office=office
    )
    page = Paginator(items, PAGE_SIZE).get_page(page_number(request.GET))
    if request.user.has_perm("registry.view_full_id_number"):
        # Whole numbers of the persons on this page are shown: each is a logged view.
        registry_services.sensitive_access_record_many(
            acting_user=request.user,
            person_ids=[i.person_id for i in page if i.payer_type == "person"],
            channel=SensitiveAccess.Channel.PAGE,
            request_id=getattr(request, "request_id", ""),
        )
    rows = [
        {
            "item": item,
            "label": _CATEGORY_LABELS.get(item.category, item.category),
            "code": _masked(item.payer_code, item.payer_type, request.user),
            "name": item.employer.name if item.employer_id else (item.person.name if item.person_id else ""),
        }
        for item in page
    ]
    return render(
        request,
        "contributions/payment_file_reconciliation.html",
        {
            "file": payment_file,
            "page": page,
            "rows": rows,
            "category": category,
            "office": office,
            "categories": ReconciliationCategory.choices,
            "query_string": query_string_without_page(request),
        },
    )


@login_required
@permission_required("contributions.view_reconciliationitem", raise_exception=True)
@require_GET
def payment_file_reconciliation_xlsx(request, uid):
    payment_file = _file_or_404(request, uid)
    rows, total = selectors.reconciliation_summary(user=request.user, payment_file=payment_file)
    items = selectors.reconciliation_items(user=request.user, payment_file=payment_file)
    full_ids = request.user.has_perm("registry.view_full_id_number")
    if full_ids:
        registry_services.sensitive_access_record_many(
            acting_user=request.user,
            person_ids=selectors.reconciliation_person_ids(items),
            channel=SensitiveAccess.Channel.EXPORT,
            request_id=getattr(request, "request_id", ""),
        )
    data = reconciliation_xlsx(
        payment_file=payment_file,
        rows=rows,
        total=total,
        items=items.iterator(chunk_size=2000),
        full_ids=full_ids,
    )
    response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    stamp = timezone.localtime(payment_file.created_at).strftime("%Y%m%d")
    response["Content-Disposition"] = _attachment(f"对账结果-{stamp}-{str(payment_file.uid)[:8]}.xlsx")
    return response


def _line_initial(line: PaymentFileLine) -> dict[str, str]:
    """A bad line's fields as the agency sent them (what was read, else the raw text)."""
    raw = line.raw or {}
    return {
        "reference": line.reference or raw.get("reference", ""),
        "payer_type": line.payer_type or raw.get("payer_type", ""),
        "payer_code": line.payer_code or raw.get("payer_code", ""),
        "period": str(line.period or raw.get("period", "")),
        "amount": str(line.amount if line.amount is not None else raw.get("amount", "")),
        "paid_on": line.paid_on.isoformat() if line.paid_on else raw.get("paid_on", ""),
    }


@login_required
@permission_required("contributions.change_paymentfileline", raise_exception=True)
@require_http_methods(["GET", "POST"])
def payment_file_line_correct(request, uid, line_no):
    payment_file = _file_or_404(request, uid)
    if not selectors.payment_file_managed(user=request.user, payment_file=payment_file):
        raise Http404
    try:
        line = selectors.payment_file_line_get(user=request.user, payment_file=payment_file, line_no=line_no)
    except PaymentFileLine.DoesNotExist:
        raise Http404 from None
    form = LineCorrectionForm(initial=_line_initial(line)).values()
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if line.status != LineStatus.BAD:
            raise Http404
        form = LineCorrectionForm(request.POST).values()
        try:
            try:
                paid_on = datetime.date.fromisoformat(form["paid_on"])
            except ValueError:
                raise ValidationError(
                    {"paid_on": _("到账日期“%(value)s”无法识别（应为 YYYY-MM-DD）。") % {"value": form["paid_on"]}}
                ) from None
            payment = services.payment_file_line_correct(
                line=line,
                acting_user=request.user,
                reference=form["reference"],
                payer_type=form["payer_type"],
                payer_code=form["payer_code"],
                period=form["period"],
                amount=form["amount"],
                paid_on=paid_on,
            )
        except ValidationError as exc:
            errors, status = error_messages(exc), 400
        else:
            messages.success(
                request,
                _("第 %(line)s 行已更正并登记到账 %(ref)s（%(amount)s 元）。")
                % {"line": line.line_no, "ref": payment.agency_reference, "amount": payment.amount},
            )
            return redirect("contributions_payment_file_detail", uid=payment_file.uid)
    return render(
        request,
        "contributions/payment_file_line_correct.html",
        {
            "file": payment_file,
            "line": line,
            "form": form,
            "errors": errors,
            "payer_types": [("employer", _("单位")), ("person", _("个人"))],
        },
        status=status,
    )
