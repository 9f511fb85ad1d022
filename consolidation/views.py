"""Clerk pages of the data consolidation: batches with their report and reconciliation, the conflict queue and a
conflict side by side (propose, approve, send back, undo), the district reconciliation, the file templates."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from consolidation import selectors
from consolidation.exports import batch_rejected_csv, check_label, reconciliation_rows, reconciliation_xlsx
from consolidation.forms import (
    ApplyForm,
    BatchFilterForm,
    EmployerConflictForm,
    ProposeForm,
    QueueFilterForm,
    ReturnForm,
    UndoForm,
)
from consolidation.layout import COLUMNS, INSURANCE_ALIASES, template_csv
from consolidation.models import BatchStatus, Conflict, ConflictStatus, EmployerConflict, FileKind, ImportBatch, Merge
from consolidation.services import batches, conflicts, employer_conflicts
from registry.exceptions import error_messages
from registry.jurisdiction import scope_to_user
from registry.models import Office, OfficeLevel, Person
from registry.pages import page_number

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACTIVE = (BatchStatus.QUEUED, BatchStatus.LOADING, BatchStatus.APPLY_QUEUED, BatchStatus.APPLYING)


def _batch_or_404(request, uid) -> ImportBatch:
    try:
        return selectors.batch_get(user=request.user, uid=uid)
    except ImportBatch.DoesNotExist:
        raise Http404 from None


def _conflict_or_404(request, uid) -> Conflict:
    try:
        return selectors.conflict_get(user=request.user, uid=uid)
    except Conflict.DoesNotExist:
        raise Http404 from None


# ---------------------------------------------------------------------------------------------
# Batches.


@login_required
@permission_required("consolidation.view_importbatch", raise_exception=True)
@require_GET
def batch_list(request):
    form = BatchFilterForm(request.GET or None)
    status = form.cleaned_data.get("status", "") if form.is_valid() else ""
    page = Paginator(selectors.batch_list(user=request.user, status=status), 25).get_page(page_number(request.GET))
    return render(
        request,
        "consolidation/batch_list.html",
        {
            "page": page,
            "form": form,
            "postgres": connection.vendor == "postgresql",
            "counts": selectors.conflict_counts(user=request.user),
        },
    )


@login_required
@permission_required("consolidation.view_importbatch", raise_exception=True)
@require_GET
def batch_detail(request, uid):
    batch = _batch_or_404(request, uid)
    reconciliation = batch.reconciliation or {}
    return render(
        request,
        "consolidation/batch_detail.html",
        {
            "batch": batch,
            "files": selectors.batch_files(batch),
            "problems": selectors.batch_problems(batch),
            "rows": reconciliation_rows(reconciliation) if reconciliation else [],
            "checks": [(check_label(c["code"]), c) for c in reconciliation.get("checks", [])],
            "agrees": reconciliation.get("agrees"),
            "active": batch.status in ACTIVE,
            "can_apply": request.user.has_perm("consolidation.apply_importbatch")
            and batch.status in (BatchStatus.CHECKED, BatchStatus.FAILED),
            "apply_form": ApplyForm(),
            "conflicts": selectors.conflict_list(user=request.user, batch=batch)[:20],
        },
    )


@login_required
@permission_required("consolidation.apply_importbatch", raise_exception=True)
@require_POST
def batch_apply(request, uid):
    batch = _batch_or_404(request, uid)
    form = ApplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请先勾选“已核对检查报告，确认导入本批次”。"))
        return redirect("consolidation:batch", uid=batch.uid)
    try:
        batches.import_batch_apply_start(batch=batch, acting_user=request.user)
    except ValidationError as exc:
        for message in error_messages(exc):
            messages.error(request, message)
    except ImportBatch.DoesNotExist:
        raise Http404 from None
    else:
        messages.success(request, _("已排队导入；完成后本页显示对账结果。"))
    return redirect("consolidation:batch", uid=batch.uid)


@login_required
@permission_required("consolidation.view_importbatch", raise_exception=True)
@require_GET
def batch_rejected(request, uid):
    batch = _batch_or_404(request, uid)
    full = request.user.has_perm("registry.view_full_id_number")
    response = StreamingHttpResponse(batch_rejected_csv(batch, full_ids=full), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejected-{batch.uid}.csv"'
    return response


@login_required
@permission_required("consolidation.view_importbatch", raise_exception=True)
@require_GET
def batch_reconciliation_xlsx(request, uid):
    batch = _batch_or_404(request, uid)
    if batch.status != BatchStatus.APPLIED:
        raise Http404
    title = _("数据大集中对账单 · %(district)s · 批次 %(batch)s") % {"district": batch.district.name, "batch": batch.pk}
    scope = f"{batch.source_system} {batch.label}".strip()
    data = reconciliation_xlsx(
        title=title,
        scope=scope,
        reconciliation=batch.reconciliation,
        checks=batch.reconciliation.get("checks", []),
        problems=selectors.batch_problems(batch),
    )
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="reconciliation-{batch.uid}.xlsx"'
    return response


@login_required
@permission_required("consolidation.view_importbatch", raise_exception=True)
@require_GET
def district_reconciliation(request):
    rows = []
    for item in selectors.district_reconciliation(user=request.user):
        rows.append((item, reconciliation_rows(item) if item["batches"] else []))
    return render(request, "consolidation/districts.html", {"rows": rows})


@login_required
@permission_required("consolidation.view_importbatch", raise_exception=True)
@require_GET
def district_reconciliation_xlsx(request, code):
    district = scope_to_user(Office.objects.filter(level=OfficeLevel.DISTRICT), request.user).filter(code=code).first()
    if district is None:
        raise Http404
    item = next(i for i in selectors.district_reconciliation(user=request.user) if i["district"].pk == district.pk)
    applied = selectors.batch_list(user=request.user, status=BatchStatus.APPLIED, district=district)
    checks = [c for b in applied for c in (b.reconciliation or {}).get("checks", [])]
    data = reconciliation_xlsx(
        title=_("数据大集中对账单 · %(district)s（全部已导入批次）") % {"district": district.name},
        scope=_("%(n)s 个批次") % {"n": item["batches"]},
        reconciliation=item,
        checks=checks,
        problems=[],
    )
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="reconciliation-{district.code}.xlsx"'
    return response


@login_required
@require_GET
def template_download(request, kind):
    if kind not in FileKind.values:
        raise Http404
    response = HttpResponse(template_csv(kind), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}-template.csv"'
    return response


@login_required
@require_GET
def layout_help(request):
    kinds = [(FileKind(kind).label, kind, COLUMNS[kind]) for kind in FileKind.values]
    insurances = [(code, "、".join(aliases)) for code, aliases in INSURANCE_ALIASES.items()]
    return render(request, "consolidation/layout.html", {"kinds": kinds, "insurances": insurances})


# ---------------------------------------------------------------------------------------------
# Conflicts.


@login_required
@permission_required("consolidation.view_conflict", raise_exception=True)
@require_GET
def conflict_list(request):
    form = QueueFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = selectors.conflict_list(user=request.user, status=data.get("status", ""), kind=data.get("kind", ""))
    if not data.get("status"):
        qs = qs.filter(status__in=[ConflictStatus.OPEN, ConflictStatus.PROPOSED])
    page = Paginator(qs, 25).get_page(page_number(request.GET))
    return render(
        request,
        "consolidation/conflict_list.html",
        {
            "page": page,
            "form": form,
            "counts": selectors.conflict_counts(user=request.user),
            "employer_conflicts": selectors.employer_conflict_list(user=request.user),
            "employer_form": EmployerConflictForm(),
        },
    )


@login_required
@permission_required("consolidation.resolve_conflict", raise_exception=True)
@require_POST
def employer_conflict_decide(request, uid):
    """A step on a pair of employers (疑似同一单位): propose, approve (another person), or send back."""
    try:
        conflict = selectors.employer_conflict_get(user=request.user, uid=uid)
    except EmployerConflict.DoesNotExist:
        raise Http404 from None
    form = EmployerConflictForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择处理意见。"))
        return redirect("consolidation:conflicts")
    data, steps = form.cleaned_data, employer_conflicts
    try:
        if data["action"] == "propose":
            steps.employer_conflict_propose(
                conflict=conflict, acting_user=request.user, decision=data["decision"], note=data["note"]
            )
        elif data["action"] == "approve":
            steps.employer_conflict_approve(conflict=conflict, acting_user=request.user)
        else:
            steps.employer_conflict_return(conflict=conflict, acting_user=request.user, note=data["note"])
    except ValidationError as exc:
        for message in error_messages(exc):
            messages.error(request, message)
    except (EmployerConflict.DoesNotExist, PermissionDenied):
        raise Http404 from None
    else:
        messages.success(request, _("已记录。"))
    return redirect("consolidation:conflicts")


def _conflict_page(request, conflict: Conflict, form: ProposeForm | None = None, status: int = 200):
    view = selectors.conflict_view(conflict)
    form = form or ProposeForm(conflict=conflict)
    rows = [(row, form.choice_field(row.field) if row.choosable else None) for row in view.rows]
    merges = list(selectors.conflict_merges(conflict))
    live = next((m for m in merges if m.undone_at is None), None)
    return render(
        request,
        "consolidation/conflict_detail.html",
        {
            "conflict": conflict,
            "view": view,
            "rows": rows,
            "form": form,
            "return_form": ReturnForm(),
            "undo_form": UndoForm(),
            "merges": merges,
            "live_merge": live,
            "undo_blockers": conflicts.merge_undo_blockers(live) if live else [],
            "can_propose": conflict.status == ConflictStatus.OPEN
            and request.user.has_perm("consolidation.resolve_conflict"),
            "can_approve": conflict.status == ConflictStatus.PROPOSED
            and request.user.has_perm("consolidation.approve_conflict")
            and conflict.proposed_by_id != request.user.pk,
            "own_proposal": conflict.status == ConflictStatus.PROPOSED and conflict.proposed_by_id == request.user.pk,
            "can_undo": live is not None and request.user.has_perm("consolidation.approve_conflict"),
            "history": selectors.conflict_history(conflict),
        },
        status=status,
    )


@login_required
@permission_required("consolidation.view_conflict", raise_exception=True)
@require_GET
def conflict_detail(request, uid):
    return _conflict_page(request, _conflict_or_404(request, uid))


@login_required
@permission_required("consolidation.resolve_conflict", raise_exception=True)
@require_POST
def conflict_propose(request, uid):
    conflict = _conflict_or_404(request, uid)
    form = ProposeForm(request.POST, conflict=conflict)
    if not form.is_valid():
        return _conflict_page(request, conflict, form, status=400)
    candidate = None
    if form.cleaned_data.get("candidate"):
        candidate = Person.objects.filter(uid=form.cleaned_data["candidate"]).first()
    try:
        conflicts.conflict_propose(
            conflict=conflict,
            acting_user=request.user,
            decision=form.cleaned_data["decision"],
            candidate=candidate,
            choices=form.choices(),
            note=form.cleaned_data.get("note", ""),
        )
    except ValidationError as exc:
        for message in error_messages(exc):
            form.add_error(None, message)
        return _conflict_page(request, conflict, form, status=400)
    except (Conflict.DoesNotExist, PermissionDenied):
        raise Http404 from None
    messages.success(request, _("处理意见已提交，待另一人复核。"))
    return redirect("consolidation:conflict", uid=conflict.uid)


@login_required
@permission_required("consolidation.approve_conflict", raise_exception=True)
@require_POST
def conflict_approve(request, uid):
    conflict = _conflict_or_404(request, uid)
    try:
        conflicts.conflict_approve(conflict=conflict, acting_user=request.user)
    except ValidationError as exc:
        for message in error_messages(exc):
            messages.error(request, message)
    except (Conflict.DoesNotExist, PermissionDenied):
        raise Http404 from None
    else:
        messages.success(request, _("复核通过，已处理。"))
    return redirect("consolidation:conflict", uid=conflict.uid)


@login_required
@permission_required("consolidation.approve_conflict", raise_exception=True)
@require_POST
def conflict_return(request, uid):
    conflict = _conflict_or_404(request, uid)
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写退回意见。"))
        return redirect("consolidation:conflict", uid=conflict.uid)
    try:
        conflicts.conflict_return(conflict=conflict, acting_user=request.user, note=form.cleaned_data["note"])
    except ValidationError as exc:
        for message in error_messages(exc):
            messages.error(request, message)
    except (Conflict.DoesNotExist, PermissionDenied):
        raise Http404 from None
    else:
        messages.success(request, _("已退回，待重新提出处理意见。"))
    return redirect("consolidation:conflict", uid=conflict.uid)


@login_required
@permission_required("consolidation.approve_conflict", raise_exception=True)
@require_POST
def merge_undo(request, uid):
    merge = scope_to_user(Merge.objects.select_related("conflict"), request.user).filter(uid=uid).first()
    if merge is None:
        raise Http404
    form = UndoForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写撤销原因。"))
        return redirect("consolidation:conflict", uid=merge.conflict.uid)
    try:
        conflicts.merge_undo(merge=merge, acting_user=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        for message in error_messages(exc):
            messages.error(request, message)
    except (Conflict.DoesNotExist, PermissionDenied):
        raise Http404 from None
    else:
        messages.success(request, _("合并已撤销，两条记录恢复原状，待重新处理。"))
    return redirect("consolidation:conflict", uid=merge.conflict.uid)
