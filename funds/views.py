"""Pages of funds for fund officers: dashboard with charts, ledger, budgets and their execution, final
accounts and year close with the sharing of a gap, warnings and notices, national-pool remittances and the
import of monthly expenditure. Reads through ``selectors``, writes through ``services``."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from registry.exceptions import ApplicationError
from registry.models import Office, OfficeLevel
from registry.pages import form_errors_add, page_number, query_string_without_page
from registry.replica import replica_view

from . import forms, reports, selectors, services
from .imports import TEMPLATE_CSV, expenditure_rows_read
from .models import (
    Budget,
    BudgetDirection,
    BudgetStatus,
    Fund,
    FundWarning,
    IndicatorCode,
    LedgerTransaction,
    Level,
    TransactionKind,
    WarningStatus,
)
from .sources import ledger_sources

PAGE_SIZE = 50
LEVEL_BADGE = {
    Level.NORMAL: "ok",
    Level.WARN: "warn",
    Level.ALARM: "bad",
    Level.EXCESS: "warn",
    Level.NOT_ASSESSED: "",
}


def _fund_or_404(uid) -> Fund:
    try:
        return selectors.fund_get(uid=uid)
    except Fund.DoesNotExist:
        raise Http404 from None


def _budget_or_404(uid) -> Budget:
    try:
        return selectors.budget_get(uid=uid)
    except Budget.DoesNotExist:
        raise Http404 from None


def _service(request, form, call) -> Any:
    """Run a service; its ValidationError goes onto the form (a refusal by role is the middleware's 403 page)."""
    try:
        return call()
    except ValidationError as exc:
        form_errors_add(form, exc)
        return None


def _int(raw: Any, default: int, low: int, high: int) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return default
    return value if low <= value <= high else default


def _download(content: bytes, filename: str, kind: str) -> HttpResponse:
    types = {
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pdf": "application/pdf",
        "csv": "text/csv; charset=utf-8",
    }
    response = HttpResponse(content, content_type=types[kind])
    disposition = "inline" if kind == "pdf" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}.{kind}"'
    return response


def _report(report: reports.Report, kind: str) -> HttpResponse:
    content = reports.report_xlsx(report) if kind == "xlsx" else reports.report_pdf(report)
    return _download(content, report.filename, kind)


# ---------------------------------------------------------------------------------------------
# Dashboard.


@login_required
@permission_required("funds.view_fund", raise_exception=True)
@require_GET
@replica_view  # a statistic / report: read from the replica when one keeps up (registry.replica)
def dashboard(request):
    today = timezone.localdate()
    balances = selectors.fund_balances(on=today)
    latest = {}
    for indicator in selectors.indicator_latest():
        if indicator.office.level == OfficeLevel.CITY:
            latest[(indicator.fund_id, indicator.code)] = indicator
    open_warnings = selectors.warning_list(status=WarningStatus.OPEN)
    open_by_fund: dict[int, int] = {}
    for w in open_warnings:
        open_by_fund[w.fund_id] = open_by_fund.get(w.fund_id, 0) + 1
    rows = []
    for fund in selectors.fund_list():
        months = latest.get((fund.pk, IndicatorCode.MONTHS_COVERED))
        current = latest.get((fund.pk, IndicatorCode.CURRENT_BALANCE))
        rows.append(
            {
                "fund": fund,
                "balance": balances.get(fund.pk, Decimal(0)),
                "months": months,
                "months_badge": LEVEL_BADGE.get(months.level, "") if months else "",
                "current": current,
                "open_warnings": open_by_fund.get(fund.pk, 0),
            }
        )
    chart = {
        "labels": [r["fund"].name for r in rows],
        "balances": [float(r["balance"]) for r in rows],
        "months": [float(r["months"].value) if r["months"] and r["months"].value is not None else None for r in rows],
    }
    return render(
        request,
        "funds/dashboard.html",
        {
            "rows": rows,
            "today": today,
            "open_warnings": open_warnings[:10],
            "open_count": open_warnings.count(),
            "chart": chart,
            "unread": selectors.notice_unread_count(user=request.user),
            "runs": selectors.posting_runs(limit=3),
        },
    )


@login_required
@permission_required("funds.view_fund", raise_exception=True)
@require_GET
def fund_detail(request, uid):
    fund = _fund_or_404(uid)
    today = timezone.localdate()
    series = selectors.fund_monthly_series(fund=fund, end=today, months=24)
    since = today - datetime.timedelta(days=730)
    months_history = list(selectors.indicator_history(fund=fund, code=IndicatorCode.MONTHS_COVERED, since=since))
    budget = selectors.budget_approved(fund=fund, year=today.year)
    execution = selectors.budget_execution(budget=budget, month=today.month) if budget else None
    latest = list(selectors.indicator_latest(fund=fund))
    chart = {
        "months": [m.label for m in series],
        "income": [float(m.income) for m in series],
        "expenditure": [float(m.expenditure) for m in series],
        "balance": [float(m.balance_end) for m in series],
        "coverage_days": [i.on.isoformat() for i in months_history],
        "coverage": [float(i.value) if i.value is not None else None for i in months_history],
        "thresholds": months_history[-1].threshold if months_history else {},
        "execution": None,
    }
    if execution is not None:
        chart["execution"] = {
            "labels": [_("收入"), _("支出")],
            "budget_to_date": [
                float(execution.totals[d].budget_to_date) for d in (BudgetDirection.INCOME, BudgetDirection.EXPENDITURE)
            ],
            "actual": [
                float(execution.totals[d].actual_to_date) for d in (BudgetDirection.INCOME, BudgetDirection.EXPENDITURE)
            ],
            "annual": [
                float(execution.totals[d].budget_annual) for d in (BudgetDirection.INCOME, BudgetDirection.EXPENDITURE)
            ],
        }
    return render(
        request,
        "funds/fund_detail.html",
        {
            "fund": fund,
            "today": today,
            "balance": selectors.fund_balance(fund=fund, on=today),
            "series": series[-12:],
            "latest": [(i, LEVEL_BADGE.get(i.level, "")) for i in latest],
            "warnings": selectors.warning_list(status=WarningStatus.OPEN, fund=fund)[:20],
            "budget": budget,
            "execution": execution,
            "chart": chart,
        },
    )


# ---------------------------------------------------------------------------------------------
# Ledger.


@login_required
@permission_required("funds.view_ledgertransaction", raise_exception=True)
@require_GET
def ledger(request):
    query = forms.LedgerQueryForm(request.GET)
    funds = list(selectors.fund_list())
    fund = next((f for f in funds if f.insurance_type == query.value("fund")), None)
    offices = list(Office.objects.filter(level__in=[OfficeLevel.CITY, OfficeLevel.DISTRICT]).order_by("level", "code"))
    office = next((o for o in offices if o.code == query.value("office")), None)
    kind = query.value("kind") if query.value("kind") in TransactionKind.values else ""
    month = None
    raw_month = query.value("month")
    if raw_month:
        try:
            month = datetime.date.fromisoformat(raw_month + "-01")
        except ValueError:
            messages.error(request, _("月份“%(m)s”应为 YYYY-MM。") % {"m": raw_month})
    qs = selectors.ledger_transaction_list(user=request.user, fund=fund, office=office, kind=kind, month=month)
    page = Paginator(qs, PAGE_SIZE).get_page(page_number(request.GET))
    return render(
        request,
        "funds/ledger.html",
        {
            "page": page,
            "funds": funds,
            "offices": offices,
            "kinds": TransactionKind.choices,
            "fund": fund,
            "office": office,
            "kind": kind,
            "month": raw_month,
            "query_string": query_string_without_page(request),
            "rows": _with_sources(page),
            "runs": selectors.posting_runs(limit=5),
        },
    )


def _with_sources(page) -> list[tuple[Any, Any]]:
    transactions = list(page.object_list)
    sources = ledger_sources(transactions)
    return [(t, sources[t.pk]) for t in transactions]


@login_required
@permission_required("funds.add_ledgertransaction", raise_exception=True)
@require_http_methods(["GET", "POST"])
def ledger_post(request):
    form = forms.SimplePostingForm(request.POST or None, initial={"booked_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        txn = _service(
            request,
            form,
            lambda: services.ledger_simple_post(
                fund=data["fund"],
                office=data["office"],
                account=data["account"],
                amount=data["amount"],
                booked_on=data["booked_on"],
                document_number=data["document_number"],
                description=data["description"],
                acting_user=request.user,
            ),
        )
        if txn is not None:
            messages.success(request, _("已记账：%(t)s") % {"t": txn})
            return redirect("funds_transaction_detail", uid=txn.uid)
    return render(request, "funds/ledger_post.html", {"form": form})


@login_required
@permission_required("funds.add_ledgertransaction", raise_exception=True)
@require_POST
def posting_run(request):
    try:
        result = services.contribution_income_post(up_to=timezone.now(), acting_user=request.user)
    except (ValidationError, ApplicationError) as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(
            request,
            _("入账完成：缴费收入 %(c)s 笔，财政补贴 %(s)s 笔。")
            % {"c": result.contribution_transactions, "s": result.subsidy_transactions},
        )
    return redirect("funds_ledger")


def _transaction_or_404(request, uid) -> LedgerTransaction:
    try:
        return selectors.ledger_transaction_get(user=request.user, uid=uid)
    except LedgerTransaction.DoesNotExist:
        raise Http404 from None


@login_required
@permission_required("funds.view_ledgertransaction", raise_exception=True)
@require_GET
def transaction_detail(request, uid):
    txn = _transaction_or_404(request, uid)
    return render(
        request,
        "funds/transaction_detail.html",
        {
            "txn": txn,
            "source": ledger_sources([txn])[txn.pk],
            "entries": selectors.ledger_entries(txn),
            "reversed_by": LedgerTransaction.objects.filter(reverses=txn).first(),
            "form": forms.ReverseForm(),
        },
    )


@login_required
@permission_required("funds.view_ledgertransaction", raise_exception=True)
@require_POST
def transaction_reverse(request, uid):
    txn = _transaction_or_404(request, uid)
    form = forms.ReverseForm(request.POST)
    form.is_valid()
    reversal = _service(
        request,
        form,
        lambda: services.ledger_transaction_reverse(
            ledger_transaction=txn, reason=form.cleaned_data.get("reason", ""), acting_user=request.user
        ),
    )
    if reversal is None:
        for error in form.non_field_errors() + form.errors.get("reason", []):
            messages.error(request, error)
        return redirect("funds_transaction_detail", uid=txn.uid)
    messages.success(request, _("已冲销，冲销凭证已生成。"))
    return redirect("funds_transaction_detail", uid=reversal.uid)


# ---------------------------------------------------------------------------------------------
# Budgets.


@login_required
@permission_required("funds.view_budget", raise_exception=True)
@require_http_methods(["GET", "POST"])
def budget_list(request):
    form = forms.BudgetDraftForm(request.POST or None, initial={"year": timezone.localdate().year + 1})
    if request.method == "POST":
        if not request.user.has_perm("funds.add_budget"):
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            budget = _service(
                request,
                form,
                lambda: services.budget_draft(
                    fund=data["fund"],
                    year=data["year"],
                    growth=form.growth(),
                    note=data["note"],
                    acting_user=request.user,
                ),
            )
            if budget is not None:
                messages.success(request, _("预算草案已编制，请另一位有审批权限的人员批准。"))
                return redirect("funds_budget_detail", uid=budget.uid)
    return render(request, "funds/budget_list.html", {"budgets": selectors.budget_list()[:100], "form": form})


@login_required
@permission_required("funds.view_budget", raise_exception=True)
@require_GET
def budget_detail(request, uid):
    budget = _budget_or_404(uid)
    lines = list(budget.lines.select_related("office").order_by("direction", "account", "office__code"))
    totals = {
        d: sum((line.amount for line in lines if line.direction == d), Decimal(0))
        for d in (BudgetDirection.INCOME, BudgetDirection.EXPENDITURE)
    }
    return render(
        request,
        "funds/budget_detail.html",
        {
            "budget": budget,
            "lines": lines,
            "income_total": totals[BudgetDirection.INCOME],
            "expenditure_total": totals[BudgetDirection.EXPENDITURE],
            "form": forms.NoteForm(),
            "can_approve": budget.status == BudgetStatus.DRAFT and request.user.has_perm("funds.approve_budget"),
            "is_author": budget.drafted_by_id == request.user.pk,
            "month": timezone.localdate().month if budget.year == timezone.localdate().year else 12,
        },
    )


@login_required
@permission_required("funds.view_budget", raise_exception=True)
@require_POST
def budget_approve(request, uid):
    budget = _budget_or_404(uid)
    form = forms.NoteForm(request.POST)
    form.is_valid()
    approved = _service(
        request,
        form,
        lambda: services.budget_approve(
            budget=budget, note=form.cleaned_data.get("note", ""), acting_user=request.user
        ),
    )
    if approved is None:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    else:
        messages.success(request, _("预算已批准。"))
    return redirect("funds_budget_detail", uid=budget.uid)


@login_required
@permission_required("funds.view_budget", raise_exception=True)
@require_GET
@replica_view  # a statistic / report: read from the replica when one keeps up (registry.replica)
def budget_export(request, uid, kind):
    budget = _budget_or_404(uid)
    return _report(reports.budget_report(budget), kind)


def _execution(request, uid):
    budget = _budget_or_404(uid)
    default = timezone.localdate().month if budget.year == timezone.localdate().year else 12
    month = _int(forms.MonthYearQueryForm(request.GET).value("month"), default, 1, 12)
    return selectors.budget_execution(budget=budget, month=month)


@login_required
@permission_required("funds.view_budget", raise_exception=True)
@require_GET
@replica_view  # a statistic / report: read from the replica when one keeps up (registry.replica)
def budget_execution(request, uid):
    execution = _execution(request, uid)
    return render(
        request,
        "funds/budget_execution.html",
        {
            "execution": execution,
            "budget": execution.budget,
            "months": range(1, 13),
            "income_total": execution.totals[BudgetDirection.INCOME],
            "expenditure_total": execution.totals[BudgetDirection.EXPENDITURE],
        },
    )


@login_required
@permission_required("funds.view_budget", raise_exception=True)
@require_GET
@replica_view  # a statistic / report: read from the replica when one keeps up (registry.replica)
def budget_execution_export(request, uid, kind):
    return _report(reports.execution_report(_execution(request, uid)), kind)


# ---------------------------------------------------------------------------------------------
# Final accounts, year close, sharing.


def _year(request) -> int:
    today = timezone.localdate()
    return _int(forms.MonthYearQueryForm(request.GET).value("year"), today.year - 1, 2000, today.year)


@login_required
@permission_required("funds.view_fundyear", raise_exception=True)
@require_GET
@replica_view  # a statistic / report: read from the replica when one keeps up (registry.replica)
def final_accounts(request, uid):
    fund = _fund_or_404(uid)
    year = _year(request)
    accounts = selectors.final_accounts(fund=fund, year=year)
    surplus = {o.pk: accounts.income_by_office[o.pk] - accounts.expenditure_by_office[o.pk] for o in accounts.offices}
    return render(
        request,
        "funds/final_accounts.html",
        {
            "fund": fund,
            "year": year,
            "accounts": accounts,
            "years": range(timezone.localdate().year, timezone.localdate().year - 8, -1),
            "income_rows": [(r, [r.by_office[o.pk] for o in accounts.offices]) for r in accounts.income_rows],
            "expenditure_rows": [(r, [r.by_office[o.pk] for o in accounts.offices]) for r in accounts.expenditure_rows],
            "income_cells": [accounts.income_by_office[o.pk] for o in accounts.offices],
            "expenditure_cells": [accounts.expenditure_by_office[o.pk] for o in accounts.offices],
            "surplus_cells": [surplus[o.pk] for o in accounts.offices],
            "sharing": selectors.sharing_get(fund=fund, year=year),
        },
    )


@login_required
@permission_required("funds.view_fundyear", raise_exception=True)
@require_GET
@replica_view  # a statistic / report: read from the replica when one keeps up (registry.replica)
def final_accounts_export(request, uid, kind):
    fund = _fund_or_404(uid)
    return _report(reports.final_accounts_report(selectors.final_accounts(fund=fund, year=_year(request))), kind)


@login_required
@permission_required("funds.view_fundyear", raise_exception=True)
@require_http_methods(["GET", "POST"])
def fund_years(request, uid):
    fund = _fund_or_404(uid)
    today = timezone.localdate()
    sent = forms.YearButtonsForm(request.POST or None).sent()
    close_form = forms.YearCloseForm(request.POST if sent == "close" else None, initial={"year": today.year - 1})
    settle_form = forms.ShareSettleForm(request.POST if sent == "settle" else None, initial={"booked_on": today})
    if request.method == "POST":
        if sent == "close" and close_form.is_valid():
            year = close_form.cleaned_data["year"]
            closed = _service(
                request, close_form, lambda: services.fund_year_close(fund=fund, year=year, acting_user=request.user)
            )
            if closed is not None:
                messages.success(request, _("%(year)s 年度已结账。") % {"year": year})
                return redirect(reverse("funds_fund_years", kwargs={"uid": fund.uid}))
        elif sent == "settle" and settle_form.is_valid():
            data = settle_form.cleaned_data
            share = selectors.subsidy_share_get(fund=fund, pk=data["share"])
            if share is None:
                raise Http404
            txn = _service(
                request,
                settle_form,
                lambda: services.subsidy_share_settle(
                    share=share,
                    booked_on=data["booked_on"],
                    document_number=data["document_number"],
                    acting_user=request.user,
                ),
            )
            if txn is not None:
                messages.success(request, _("分担资金已入账。"))
                return redirect(reverse("funds_fund_years", kwargs={"uid": fund.uid}))
    sharings = list(selectors.sharing_list(fund=fund))
    settled = selectors.subsidy_shares_settled(fund=fund)
    return render(
        request,
        "funds/fund_years.html",
        {
            "fund": fund,
            "years": selectors.fund_year_list(fund=fund),
            "sharings": sharings,
            "settled": settled,
            "close_form": close_form,
            "settle_form": settle_form,
            "can_close": request.user.has_perm("funds.close_fundyear"),
            "can_settle": request.user.has_perm("funds.add_ledgertransaction"),
        },
    )


# ---------------------------------------------------------------------------------------------
# Warnings and notices.


@login_required
@permission_required("funds.view_fundwarning", raise_exception=True)
@require_GET
def warning_list(request):
    status = forms.WarningQueryForm(request.GET).value("status") or WarningStatus.OPEN
    status = status if status in WarningStatus.values or status == "all" else WarningStatus.OPEN
    qs = selectors.warning_list(status="" if status == "all" else status)
    page = Paginator(qs, PAGE_SIZE).get_page(page_number(request.GET))
    return render(
        request,
        "funds/warning_list.html",
        {
            "page": page,
            "rows": [(w, LEVEL_BADGE.get(w.level, "")) for w in page],
            "status": status,
            "statuses": WarningStatus.choices,
            "query_string": query_string_without_page(request),
        },
    )


@login_required
@permission_required("funds.view_fundwarning", raise_exception=True)
@require_http_methods(["GET", "POST"])
def warning_detail(request, uid):
    try:
        warning = selectors.warning_get(uid=uid)
    except FundWarning.DoesNotExist:
        raise Http404 from None
    form = forms.AcknowledgeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = _service(
            request,
            form,
            lambda: services.warning_acknowledge(
                warning=warning, comment=form.cleaned_data["comment"], acting_user=request.user
            ),
        )
        if done is not None:
            messages.success(request, _("预警已处理。"))
            return redirect("funds_warning_detail", uid=warning.uid)
    return render(
        request,
        "funds/warning_detail.html",
        {
            "warning": warning,
            "badge": LEVEL_BADGE.get(warning.level, ""),
            "form": form,
            "can_acknowledge": warning.status == WarningStatus.OPEN
            and request.user.has_perm("funds.change_fundwarning"),
        },
    )


@login_required
@require_GET
def notice_list(request):
    page = Paginator(selectors.notice_list(user=request.user), PAGE_SIZE).get_page(page_number(request.GET))
    return render(request, "funds/notice_list.html", {"page": page, "query_string": query_string_without_page(request)})


@login_required
@require_POST
def notice_read(request, uid):
    notice = selectors.notice_list(user=request.user).filter(uid=uid).first()
    if notice is None:
        raise Http404
    services.notice_mark_read(notice=notice, acting_user=request.user)
    if notice.link and notice.link.startswith("/"):
        return redirect(notice.link)
    return redirect("funds_notice_list")


# ---------------------------------------------------------------------------------------------
# National pooling and expenditure import.


@login_required
@permission_required("funds.view_remittance", raise_exception=True)
@require_http_methods(["GET", "POST"])
def remittance_list(request):
    form = forms.RemittanceForm(
        request.POST or None, request.FILES or None, initial={"booked_on": timezone.localdate()}
    )
    if request.method == "POST":
        if not request.user.has_perm("funds.add_remittance"):
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            pension = selectors.fund_for_insurance("emp_pension")
            remittance = _service(
                request,
                form,
                lambda: services.remittance_record(
                    fund=pension,
                    direction=data["direction"],
                    amount=data["amount"],
                    booked_on=data["booked_on"],
                    document_number=data["document_number"],
                    document_title=data["document_title"],
                    attachment=data.get("attachment"),
                    note=data["note"],
                    acting_user=request.user,
                ),
            )
            if remittance is not None:
                messages.success(
                    request,
                    _("已登记%(d)s %(a)s 元。") % {"d": remittance.get_direction_display(), "a": remittance.amount},
                )
                return redirect("funds_remittance_list")
    page = Paginator(selectors.remittance_list(user=request.user), PAGE_SIZE).get_page(page_number(request.GET))
    return render(
        request,
        "funds/remittance_list.html",
        {"page": page, "form": form, "query_string": query_string_without_page(request)},
    )


@login_required
@permission_required("funds.view_expenditureimport", raise_exception=True)
@require_http_methods(["GET", "POST"])
def expenditure_import(request):
    form = forms.ExpenditureUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not request.user.has_perm("funds.add_expenditureimport"):
            raise PermissionDenied
        if form.is_valid():
            upload = form.cleaned_data["file"]

            def run():
                rows = expenditure_rows_read(upload.name, upload.read())
                return services.expenditure_import(rows=rows, file_name=upload.name, acting_user=request.user)

            batch = _service(request, form, run)
            if batch is not None:
                messages.success(request, _("已导入 %(n)s 行，合计 %(t)s 元。") % {"n": batch.rows, "t": batch.total})
                return redirect("funds_expenditure_import")
    return render(
        request,
        "funds/expenditure_import.html",
        {"form": form, "batches": selectors.expenditure_import_list(user=request.user)[:20]},
    )


@login_required
@permission_required("funds.view_expenditureimport", raise_exception=True)
@require_GET
def expenditure_template(request):
    return _download(("\ufeff" + TEMPLATE_CSV).encode("utf-8"), "expenditure-template", "csv")
