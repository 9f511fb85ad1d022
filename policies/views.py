"""Clerk pages: parameters in force on a date for a district, the unification report, policy documents
and their clean-up decisions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from registry import roles
from registry.pages import form_errors_add, page_number, query_string_without_page
from registry.selectors import object_history, office_districts

from . import reports, selectors, services
from .forms import (
    DecisionDecideForm,
    DecisionProposeForm,
    DocumentRepealForm,
    DocumentSearchForm,
    ParametersQueryForm,
    UnificationQueryForm,
)
from .models import DocumentLevel, PolicyDecision, PolicyDocument

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _districts() -> dict[str, str]:
    return {o.code: o.short_name or o.name for o in office_districts()}


@login_required
@permission_required("policies.view_parametervalue", raise_exception=True)
def parameters_in_force(request):
    form = ParametersQueryForm(request.GET or None)
    if request.GET:
        if not form.is_valid():
            return render(request, "policies/parameters.html", {"form": form, "groups": {}}, status=400)
        on, district = form.cleaned_data["on"], form.cleaned_data["district"]
    else:
        # First visit: today, and the clerk's own district.
        on = timezone.localdate()
        office = getattr(request.user, "office", None)
        district = (office.district_code or "") if office else ""
        form = ParametersQueryForm(initial={"on": on, "district": district})
    rows = selectors.parameter_table(on, district or None)
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(row.category_label, []).append(row)
    return render(
        request,
        "policies/parameters.html",
        {
            "form": form,
            "on": on,
            "district": district,
            "district_name": _districts().get(district, _("市区统一")),
            "groups": groups,
            "rows": rows,
            "missing": [row for row in rows if row.resolved is None],
        },
    )


@login_required
@permission_required("policies.view_parametervalue", raise_exception=True)
def unification(request):
    form = UnificationQueryForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "policies/unification.html", {"form": form, "report": None}, status=400)
    data = form.cleaned_data if request.GET else {"before": reports.DEFAULT_BEFORE, "after": reports.DEFAULT_AFTER}
    report = reports.unification_report(
        before=data["before"], after=data["after"], only_differences=not data.get("all")
    )
    if data.get("format") == "xlsx":
        response = HttpResponse(reports.unification_report_xlsx(report), content_type=XLSX)
        name = f"unification-{report.before.isoformat()}-{report.after.isoformat()}.xlsx"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    if not request.GET:
        form = UnificationQueryForm(initial={"before": report.before, "after": report.after})
    query = request.GET.copy()
    query["format"] = "xlsx"
    return render(
        request,
        "policies/unification.html",
        {"form": form, "report": report, "district_names": _districts(), "xlsx_query": query.urlencode()},
    )


@login_required
@permission_required("policies.view_policydocument", raise_exception=True)
def document_list(request):
    form = DocumentSearchForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    documents = selectors.document_search(
        query=data.get("q", ""),
        level=data.get("level", ""),
        status=data.get("status", ""),
        district_code=data.get("district", ""),
    )
    page = Paginator(documents, 30).get_page(page_number(request.GET))
    return render(
        request,
        "policies/document_list.html",
        {"form": form, "page": page, "query_string": query_string_without_page(request)},
    )


def _document_or_404(uid) -> PolicyDocument:
    try:
        return selectors.document_get(uid=uid)
    except (PolicyDocument.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404 from exc


def _render_detail(request, document: PolicyDocument, *, status: int = 200, **forms):
    user = request.user
    open_decision = selectors.decision_open_for(document)
    is_city_admin = user.groups.filter(name=roles.CITY_ADMIN).exists()
    can_propose = (
        document.level == DocumentLevel.DISTRICT
        and open_decision is None
        and document.status not in ("repealed", "superseded")
        and user.has_perm("policies.add_policydecision")
    )
    can_decide = open_decision is not None and is_city_admin and open_decision.proposed_by_id != user.pk
    can_repeal = (
        document.level != DocumentLevel.DISTRICT
        and document.status not in ("repealed", "superseded")
        and user.has_perm("policies.change_policydocument")
    )
    decisions = list(selectors.decision_list(document=document))
    return render(
        request,
        "policies/document_detail.html",
        {
            "document": document,
            "values": selectors.document_values(document),
            "decisions": decisions,
            "open_decision": open_decision,
            "can_propose": can_propose,
            "can_decide": can_decide,
            "can_withdraw": open_decision is not None and open_decision.proposed_by_id == user.pk,
            "proposer_is_me": open_decision is not None and open_decision.proposed_by_id == user.pk,
            "can_repeal": can_repeal,
            "propose_form": forms.get("propose_form") or DecisionProposeForm(),
            "decide_form": forms.get("decide_form") or DecisionDecideForm(),
            "repeal_form": forms.get("repeal_form") or DocumentRepealForm(document=document),
            "history": object_history(document, limit=50),
            "decision_history": [(d, object_history(d, limit=20)) for d in decisions],
        },
        status=status,
    )


@login_required
@permission_required("policies.view_policydocument", raise_exception=True)
def document_detail(request, uid):
    return _render_detail(request, _document_or_404(uid))


@login_required
@require_POST
def decision_propose(request, uid):
    document = _document_or_404(uid)
    form = DecisionProposeForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, document, status=400, propose_form=form)
    try:
        services.policy_decision_propose(acting_user=request.user, document=document, **form.cleaned_data)
    except ValidationError as exc:
        form_errors_add(form, exc)
        return _render_detail(request, document, status=400, propose_form=form)
    messages.success(request, _("清理决定已提出，待市级管理员审批。"))
    return redirect("policies:document_detail", uid=document.uid)


def _decision_or_404(uid) -> PolicyDecision:
    try:
        return PolicyDecision.objects.select_related("document").get(uid=uid)
    except (PolicyDecision.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404 from exc


@login_required
@require_POST
def decision_decide(request, uid, verdict):
    decision = _decision_or_404(uid)
    document = decision.document
    form = DecisionDecideForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, document, status=400, decide_form=form)
    note = form.cleaned_data["note"]
    try:
        if verdict == "approve":
            services.policy_decision_approve(decision=decision, acting_user=request.user, note=note)
            messages.success(request, _("清理决定已批准。"))
        elif verdict == "reject":
            services.policy_decision_reject(decision=decision, acting_user=request.user, note=note)
            messages.success(request, _("清理决定已退回。"))
        elif verdict == "withdraw":
            services.policy_decision_withdraw(decision=decision, acting_user=request.user, reason=note)
            messages.success(request, _("清理决定已撤回。"))
        else:
            raise Http404
    except ValidationError as exc:
        form_errors_add(form, exc)
        return _render_detail(request, document, status=400, decide_form=form)
    return redirect("policies:document_detail", uid=document.uid)


@login_required
@require_POST
def document_repeal(request, uid):
    document = _document_or_404(uid)
    form = DocumentRepealForm(request.POST, document=document)
    if not form.is_valid():
        return _render_detail(request, document, status=400, repeal_form=form)
    try:
        services.policy_document_repeal(document=document, acting_user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        form_errors_add(form, exc)
        return _render_detail(request, document, status=400, repeal_form=form)
    messages.success(request, _("文件已废止，其参数取值已截止。"))
    return redirect("policies:document_detail", uid=document.uid)
