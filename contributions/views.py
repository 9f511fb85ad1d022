"""Clerk pages of contributions: declarations (form and payroll upload), bill runs, bills, arrears and
the personal contribution record (page and PDF). Reads through ``selectors``, writes through ``services``."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from contributions import selectors, services
from contributions.forms import (
    BillRunStartForm,
    DeclarationActionForm,
    DeclarationLinesForm,
    ListFilterForm,
    PayrollUploadForm,
)
from contributions.models import (
    NO_LATE_FEE_KINDS,
    BaseClamp,
    Bill,
    BillKind,
    BillRun,
    BillRunScope,
    BillRunStatus,
    Channel,
    Declaration,
)
from contributions.pdf import contribution_record_pdf
from contributions.periods import period_label, period_of
from contributions.resources import amount_problem, payroll_normalize, payroll_read, payroll_template_csv
from contributions.uploads import UploadError
from registry import selectors as registry_selectors
from registry.exceptions import error_messages
from registry.identifiers import id_number_mask
from registry.jurisdiction import scope_to_user
from registry.models import Employer, Office, OfficeLevel, Person
from registry.pages import page_number, query_string_without_page
from registry.replica import replica_view

PAGE_SIZE = 30
LINES_PAGE_SIZE = 200
_CLAMP_LABELS = dict(BaseClamp.choices)


def _period_from(request, default: int | None = None) -> tuple[int | None, str]:
    return ListFilterForm(request.GET).period_value(default)


def _employer_or_404(request, uid) -> Employer:
    employer = scope_to_user(Employer.objects.select_related("office"), request.user).filter(uid=uid).first()
    if employer is None:
        raise Http404
    return employer


# ---------------------------------------------------------------------------------------------
# Declarations.


@login_required
@permission_required("contributions.view_declaration", raise_exception=True)
@require_GET
def declaration_list(request):
    period, period_error = _period_from(request)
    query = ListFilterForm(request.GET).values()["q"]
    declarations = selectors.declaration_list(user=request.user, period=period)
    employers = registry_selectors.employer_list(user=request.user, query=query)[:20] if query else []
    if query:
        declarations = declarations.filter(
            employer__in=registry_selectors.employer_list(user=request.user, query=query)
        )
    page = Paginator(declarations, PAGE_SIZE).get_page(page_number(request.GET))
    return render(
        request,
        "contributions/declaration_list.html",
        {
            "page": page,
            "query": query,
            "period": period or "",
            "period_error": period_error,
            "employers": employers,
            "entry_period": period or period_of(timezone.localdate()),
            "query_string": query_string_without_page(request),
        },
    )


@login_required
@permission_required("contributions.view_declaration", raise_exception=True)
@require_GET
def declaration_detail(request, uid):
    try:
        declaration = selectors.declaration_get(user=request.user, uid=uid)
    except Declaration.DoesNotExist:
        raise Http404 from None
    lines = selectors.declaration_lines(declaration)
    page = Paginator(lines, LINES_PAGE_SIZE).get_page(page_number(request.GET))
    clamped = list(lines.exclude(clamp="")[:500])
    return render(
        request,
        "contributions/declaration_detail.html",
        {
            "declaration": declaration,
            "page": page,
            "rows": [(line, id_number_mask(line.person.id_number), _CLAMP_LABELS.get(line.clamp, "")) for line in page],
            "clamped": [
                (line, id_number_mask(line.person.id_number), _CLAMP_LABELS.get(line.clamp, "")) for line in clamped
            ],
            "period_label": period_label(declaration.period),
            "can_correct": declaration.status == "open" and request.user.has_perm("contributions.add_declaration"),
            "query_string": query_string_without_page(request),
        },
    )


class _DryRun(Exception):
    """Raised inside a transaction to undo a declaration that was only submitted to collect its errors."""


def _submit(request, employer: Employer, period: int, lines: list, early_errors: list[tuple[int, str]], channel: str):
    """Submit through the service; with errors found before (unreadable lines), submit only to collect the
    service's errors too and roll back. Returns (declaration or None, sorted error messages)."""
    errors = list(early_errors)
    declaration = None
    if lines:
        try:
            with transaction.atomic():
                declaration = services.declaration_submit(
                    employer=employer, period=period, lines=lines, acting_user=request.user, channel=channel
                )
                if early_errors:
                    raise _DryRun
        except _DryRun:
            declaration = None
        except ValidationError as exc:
            declaration = None
            for message in error_messages(exc):
                errors.append((_row_of(message), message))
    elif not early_errors:
        errors.append((0, _("没有要保存的申报行：请至少填写一人的缴费基数。")))
    errors.sort(key=lambda item: item[0])
    return (None if errors else declaration), [message for _row, message in errors]


# The row prefix the declaration service puts before a line's message ("第 3 行：…", in English "Row 3: …").
_ROW_PREFIX = re.compile(r"^\s*(?:第\s*(\d+)\s*行|Row\s+(\d+))")


def _row_of(message: str) -> int:
    match = _ROW_PREFIX.match(message)
    return int(match.group(1) or match.group(2)) if match else 0


@login_required
@permission_required("contributions.add_declaration", raise_exception=True)
@require_http_methods(["GET", "POST"])
def declaration_entry(request, uid):
    """申报录入 of one employer for one month: a form with a line per enrolled employee, or a payroll file."""
    employer = _employer_or_404(request, uid)
    period, period_error = _period_from(request, default=period_of(timezone.localdate()))
    if period is None:
        messages.error(request, period_error)
        period = period_of(timezone.localdate())
    errors: list[str] = []
    posted: dict[str, str] = {}
    confirmed: set[str] = set()
    status = 200
    if request.method == "POST":
        if DeclarationActionForm(request.POST).values()["action"] == "upload":
            declaration, errors, posted = _entry_upload(request, employer, period)
        else:
            declaration, errors, posted, confirmed = _entry_form(request, employer, period)
        if declaration is not None:
            clamped = declaration.lines.exclude(clamp="").count()
            messages.success(
                request,
                _("%(employer)s %(period)s 的申报已保存，共 %(n)s 人；其中 %(c)s 人的基数按上下限调整。")
                % {
                    "employer": employer.name,
                    "period": period_label(period),
                    "n": declaration.lines.count(),
                    "c": clamped,
                },
            )
            return redirect("contributions_declaration_detail", uid=declaration.uid)
        status = 400
    candidates = selectors.declaration_candidates(employer=employer, period=period)
    existing = selectors.declaration_find(employer=employer, period=period)
    rows = [
        {
            "row": c.row,
            "person": c.person,
            "masked": id_number_mask(c.person.id_number),
            "value": posted.get(str(c.person.uid), c.declared_base if c.declared_base is not None else ""),
            "below_floor": str(c.person.uid) in confirmed,
            "base": c.base,
            "clamp": _CLAMP_LABELS.get(c.clamp, "") if c.clamp else "",
        }
        for c in candidates
    ]
    return render(
        request,
        "contributions/declaration_entry.html",
        {
            "employer": employer,
            "period": period,
            "period_label": period_label(period),
            "rows": rows,
            "errors": errors,
            "existing": existing,
            "locked": existing is not None and existing.status == "locked",
        },
        status=status,
    )


def _entry_form(request, employer: Employer, period: int):
    form = DeclarationLinesForm(request.POST)
    posted, numbered, valid_uids = form.lines()
    # The clerk's tick, line by line, that a base below the floor is what was declared.
    confirmed = form.confirmed_below_floor()
    persons = {
        str(p.uid): p for p in selectors.declaration_persons(user=request.user, employer=employer, uids=valid_uids)
    }
    early = [
        (r, _("第 %(row)s 行：%(problem)s") % {"row": r, "problem": amount_problem(v)})
        for r, _u, v in numbered
        if amount_problem(v)
    ]
    bad_rows = {r for r, _message in early}
    lines = [
        services.DeclarationInputLine(person=persons.get(u), base=v, row=r, confirm_below_floor=u in confirmed)
        for r, u, v in numbered
        if r not in bad_rows
    ]
    declaration, errors = _submit(request, employer, period, lines, early, Channel.COUNTER)
    return declaration, errors, posted, confirmed


def _entry_upload(request, employer: Employer, period: int):
    form = PayrollUploadForm(request.POST, request.FILES)
    upload = form.cleaned_data.get("payroll") if form.is_valid() else None
    if upload is None:
        return None, [_("请选择要上传的工资表文件（CSV 或 Excel .xlsx）。")], {}
    try:
        rows = payroll_read(upload.name, upload.read())
    except UploadError as exc:
        return None, [str(exc)], {}
    numbers, early = payroll_normalize(rows)
    persons = {
        p.id_number: p
        for p in selectors.declaration_persons(user=request.user, employer=employer, id_numbers=set(numbers.values()))
    }
    lines = [
        services.DeclarationInputLine(person=persons.get(numbers[row.line]), base=row.base, row=row.line)
        for row in rows
        if row.line in numbers
    ]
    declaration, errors = _submit(request, employer, period, lines, early, Channel.FILE)
    # Refused (e.g. a base below the floor, which the clerk confirms line by line): the file's values fill the
    # entry form below, where each line can be ticked and the declaration saved.
    posted = {str(line.person.uid): str(line.base) for line in lines if line.person is not None}
    return declaration, errors, posted


@login_required
@permission_required("contributions.add_declaration", raise_exception=True)
@require_GET
def payroll_template(request):
    response = HttpResponse(payroll_template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = "attachment; filename*=UTF-8''%E5%B7%A5%E8%B5%84%E8%A1%A8%E6%A8%A1%E6%9D%BF.csv"
    return response


# ---------------------------------------------------------------------------------------------
# Bill runs.


def _run_offices(user) -> list[Office]:
    return list(scope_to_user(Office.objects.filter(level=OfficeLevel.DISTRICT), user).order_by("code"))


@login_required
@permission_required("contributions.view_billrun", raise_exception=True)
@require_http_methods(["GET", "POST"])
def bill_run_list(request):
    form = BillRunStartForm(initial={"period": str(period_of(timezone.localdate()))}).values()
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("contributions.add_billrun"):
            raise PermissionDenied
        form = BillRunStartForm(request.POST).values()
        try:
            run = _start_run(request, form)
        except ValidationError as exc:
            errors = error_messages(exc)
            status = 400
        else:
            messages.success(request, _("已发起 %(period)s 的核定。") % {"period": period_label(run.period)})
            return redirect("contributions_bill_run_list")
    page = Paginator(selectors.bill_run_list(user=request.user), 20).get_page(page_number(request.GET))
    active = any(run.status in (BillRunStatus.QUEUED, BillRunStatus.RUNNING) for run in page)
    return render(
        request,
        "contributions/bill_run_list.html",
        {
            "page": page,
            "active": active,
            "form": form,
            "errors": errors,
            "offices": _run_offices(request.user),
            "scopes": BillRunScope.choices,
            "can_start": request.user.has_perm("contributions.add_billrun"),
            "query_string": query_string_without_page(request),
        },
        status=status,
    )


def _start_run(request, form: dict[str, str]) -> BillRun:
    scope = form["scope"] or BillRunScope.DISTRICT
    office = employer = None
    if scope == BillRunScope.DISTRICT:
        office = next((o for o in _run_offices(request.user) if o.code == form["office"]), None)
    elif scope == BillRunScope.EMPLOYER and form["employer"]:
        employer = registry_selectors.employer_list(user=request.user, query=form["employer"]).first()
        if employer is None:
            raise ValidationError(
                {"employer": _("没有找到统一社会信用代码或名称为“%(q)s”的单位。") % {"q": form["employer"]}}
            )
    return services.bill_run_start(
        period=form["period"], scope=scope, office=office, employer=employer, acting_user=request.user
    )


@login_required
@permission_required("contributions.view_billrun", raise_exception=True)
@require_GET
def bill_run_detail(request, uid):
    try:
        run = selectors.bill_run_get(user=request.user, uid=uid)
    except (BillRun.DoesNotExist, ValidationError):
        raise Http404 from None
    bills = Paginator(selectors.bill_list(user=request.user).filter(bill_run=run), PAGE_SIZE).get_page(
        page_number(request.GET)
    )
    return render(
        request,
        "contributions/bill_run_detail.html",
        {
            "run": run,
            "active": run.status in (BillRunStatus.QUEUED, BillRunStatus.RUNNING),
            "bills": bills,
            "period_label": period_label(run.period),
            "query_string": query_string_without_page(request),
        },
    )


# ---------------------------------------------------------------------------------------------
# Bills and arrears.


@login_required
@permission_required("contributions.view_bill", raise_exception=True)
@require_GET
def bill_list(request):
    period, period_error = _period_from(request)
    filters = ListFilterForm(request.GET)
    kind, query = filters.kind_value(), filters.values()["q"]
    bills = selectors.bill_list(user=request.user, period=period, kind=kind or None)
    if query:
        bills = bills.filter(employer__in=registry_selectors.employer_list(user=request.user, query=query))
    page = Paginator(bills, PAGE_SIZE).get_page(page_number(request.GET))
    return render(
        request,
        "contributions/bill_list.html",
        {
            "page": page,
            "period": period or "",
            "period_error": period_error,
            "kind": kind,
            "kinds": BillKind.choices,
            "query": query,
            "query_string": query_string_without_page(request),
        },
    )


@login_required
@permission_required("contributions.view_bill", raise_exception=True)
@require_GET
def bill_detail(request, uid):
    try:
        bill = selectors.bill_get(user=request.user, uid=uid)
    except (Bill.DoesNotExist, ValidationError):
        raise Http404 from None
    today = timezone.localdate()
    fee = selectors.late_fees_for([bill], on=today)[bill.pk] if bill.kind not in NO_LATE_FEE_KINDS else None
    lines = Paginator(selectors.bill_lines(bill), LINES_PAGE_SIZE).get_page(page_number(request.GET))
    return render(
        request,
        "contributions/bill_detail.html",
        {
            "bill": bill,
            "totals": selectors.bill_insurance_amounts(bill),
            "lines": lines,
            "allocations": list(selectors.bill_allocations(bill)),
            "adjustments": list(selectors.bill_adjustments(bill)),
            "fee": fee,
            "today": today,
            "period_label": period_label(bill.period),
            "overdue": bill.due_date < today and bill.open_amount > 0,
            "query_string": query_string_without_page(request),
            "due_note": services.due_date_note(bill),
            "late_fee_bill": selectors.late_fee_bill_of(bill),
        },
    )


@login_required
@permission_required("contributions.view_bill", raise_exception=True)
@require_GET
@replica_view  # a report: read from the replica when one keeps up (registry.replica)
def arrears(request):
    today = timezone.localdate()
    filters = ListFilterForm(request.GET)
    on, on_error = filters.on_value(today)
    kind = filters.kind_value()
    page = Paginator(selectors.arrears_list(user=request.user, on=on, kind=kind or None), PAGE_SIZE).get_page(
        page_number(request.GET)
    )
    fees = selectors.late_fees_for(page.object_list, on=on)
    rows = [(bill, fees.get(bill.pk), (on - bill.due_date).days) for bill in page.object_list]
    return render(
        request,
        "contributions/arrears.html",
        {
            "page": page,
            "rows": rows,
            "on": on,
            "on_error": on_error,
            "kind": kind,
            "kinds": BillKind.choices,
            "query_string": query_string_without_page(request),
        },
    )


# ---------------------------------------------------------------------------------------------
# 个人权益记录.


def _record_or_404(request, uid) -> Any:
    try:
        person = registry_selectors.person_get(user=request.user, uid=uid)
        return selectors.person_contribution_record(user=request.user, person=person)
    except (Person.DoesNotExist, ValidationError, ValueError):
        raise Http404 from None


@login_required
@permission_required("contributions.view_bill", raise_exception=True)
@require_GET
def person_record(request, uid):
    record = _record_or_404(request, uid)
    return render(
        request,
        "contributions/person_record.html",
        {"record": record, "person": record.person, "masked_id": id_number_mask(record.person.id_number)},
    )


@login_required
@permission_required("contributions.view_bill", raise_exception=True)
@require_GET
def person_record_pdf(request, uid):
    record = _record_or_404(request, uid)
    office = getattr(request.user, "office", None)
    pdf = contribution_record_pdf(record, office_name=office.name if office else "")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="contribution-record-{record.person.uid}.pdf"'
    return response
