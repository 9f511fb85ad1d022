"""Clerk pages of the card lifecycle: the district's waiting applications and production batches, a batch with its
production file (xlsx for the card issuer) and the import of the issuer's confirmation file. Input through
``card_forms``; writes through ``services.cards``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from registry.identifiers import id_number_mask
from registry.pages import form_errors_add

from . import selectors
from .card_forms import CardBatchCreateForm, CardConfirmationForm
from .models import CardBatch, CardBatchState
from .services import cards

PAGE_ROWS = 200


def _batch_or_404(request, uid) -> CardBatch:
    try:
        return selectors.card_batch_get(user=request.user, uid=uid)
    except CardBatch.DoesNotExist:
        raise Http404 from None


@login_required
@permission_required("cases.view_cardbatch", raise_exception=True)
@require_GET
def batches(request):
    waiting = selectors.card_applications_waiting(user=request.user)
    rows = [(a, id_number_mask(a.person.id_number)) for a in waiting[:PAGE_ROWS]]
    return render(
        request,
        "cases/card_batches.html",
        {
            "waiting": rows,
            "waiting_count": waiting.count(),
            "batches": selectors.card_batch_list(user=request.user)[:100],
            "form": CardBatchCreateForm(),
        },
    )


@login_required
@permission_required("cases.add_cardbatch", raise_exception=True)
@require_POST
def batch_create(request):
    form = CardBatchCreateForm(request.POST)
    if form.is_valid():
        try:
            batch = cards.card_batch_create(acting_user=request.user)
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            messages.success(
                request, _("已生成制卡批次 %(number)s（%(n)d 张）。") % {"number": batch.number, "n": batch.size}
            )
            return redirect("cases_card_batch", uid=batch.uid)
    return redirect("cases_card_batches")


def _detail_context(request, batch, form):
    applications = selectors.card_batch_applications(batch)
    return {
        "batch": batch,
        "rows": [(a, id_number_mask(a.person.id_number)) for a in applications[:PAGE_ROWS]],
        "form": form,
        "can_confirm": batch.state == CardBatchState.SENT and request.user.has_perm("cases.change_cardbatch"),
    }


@login_required
@permission_required("cases.view_cardbatch", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def batch_detail(request, uid):
    batch = _batch_or_404(request, uid)
    form = CardConfirmationForm()
    if request.method == "POST":
        if not request.user.has_perm("cases.change_cardbatch"):
            raise Http404
        form = CardConfirmationForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                batch = cards.card_batch_confirm(
                    batch=batch, upload=form.cleaned_data["file"], acting_user=request.user
                )
            except ValidationError as exc:
                form_errors_add(form, exc)
            else:
                messages.success(
                    request,
                    _("回盘已导入：制卡成功 %(ok)d 张，失败 %(failed)d 张。")
                    % {"ok": batch.issued_count, "failed": batch.failed_count},
                )
                return redirect("cases_card_batch", uid=batch.uid)
    status = 400 if form.errors else 200
    return render(request, "cases/card_batch_detail.html", _detail_context(request, batch, form), status=status)


@login_required
@permission_required("cases.view_cardbatch", raise_exception=True)
@require_GET
def batch_download(request, uid):
    batch = _batch_or_404(request, uid)
    content = cards.card_batch_production_file(batch=batch, acting_user=request.user)
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{batch.number}.xlsx"'
    return response
