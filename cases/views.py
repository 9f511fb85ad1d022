"""Clerk pages of cases: the office queue, intake (一窗受理), the case page with the actions allowed to the user,
the printed receipt (受理回执), the person's archive index, the catalogue; and the public certificate check.

Reads through ``selectors``, writes through ``services``; the pages only turn the user's input into a call.
"""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from policies.workdays import WorkCalendar
from registry import selectors as registry_selectors
from registry.exceptions import ApplicationError, error_messages
from registry.identifiers import id_number_mask
from registry.models import Person
from registry.pages import query_string_without_page

from . import rules, selectors, services
from .certificate_codes import verify_path
from .counter import tokens
from .forms import AttachmentUploadForm, CaseActionForm, PaymentForm, QueueFilterForm, VerifyForm
from .models import (
    Attachment,
    BenefitAward,
    Case,
    CaseAction,
    CaseState,
    MaterialStatus,
    StepKind,
)
from .pdf import format_code
from .views_common import attachment_response, public_base_url

PAGE_SIZE = 30


def _case_or_404(request, uid) -> Case:
    try:
        return selectors.case_get(user=request.user, uid=uid)
    except Case.DoesNotExist:
        raise Http404 from None


# ---------------------------------------------------------------------------------------------
# Queue.


@login_required
@permission_required("cases.view_case", raise_exception=True)
@require_GET
def queue(request):
    filters = QueueFilterForm(request.GET).values()
    scope, item_code, state, sla = filters["scope"], filters["item"], filters["state"], filters["sla"]
    cases = selectors.case_queue(user=request.user, scope=scope, item_code=item_code, state=state, sla=sla)
    page = Paginator(cases, PAGE_SIZE).get_page(filters["page"])
    calendar = WorkCalendar()
    today = timezone.localdate()
    rows = [
        {
            "case": c,
            "masked": id_number_mask(c.person.id_number) if c.person_id else "",
            "sla": selectors.case_sla(c, today=today, calendar=calendar),
            "waiting": rules.waiting_for(c),
        }
        for c in page.object_list
    ]
    return render(
        request,
        "cases/queue.html",
        {
            "rows": rows,
            "page": page,
            "scope": scope,
            "scopes": selectors.QUEUE_CHOICES,
            "item_code": item_code,
            "state": state,
            "sla": sla,
            "items": selectors.catalogue_items(),
            "states": CaseState.choices,
            "slas": selectors.SLA_CHOICES,
            "counts": selectors.queue_counts(user=request.user),
            "query_string": query_string_without_page(request),
            "can_intake": request.user.has_perm("cases.add_case"),
            # Next year matters from the fourth quarter on (due dates reach into it; the schedule comes in November).
            "calendar_missing": selectors.calendar_missing_years(
                [today.year, today.year + 1] if today.month >= 10 else [today.year]
            ),
        },
    )


# ---------------------------------------------------------------------------------------------
# Case page and its actions.


_PASS_LABELS = {
    StepKind.REVIEW: _("审核通过"),
    StepKind.APPROVAL: _("审批通过"),
    StepKind.COMPLETION: _("办结"),
}


def _employee_text(rows: list) -> str:
    """A staff list in words, ID numbers masked (the case page is not the place for whole numbers)."""
    parts = []
    for row in rows or []:
        late = _("（超过入职后 30 日登记）") if row.get("late") else ""
        parts.append(f"{row.get('name') or ''} {id_number_mask(row.get('id_number', ''))}{late}".strip())
    return _("%(n)d 人：") % {"n": len(parts)} + "；".join(parts)


def _change_rows(case: Case) -> list[tuple[str, str]]:
    changes = (case.form_data or {}).get("changes") or {}
    return [(c["label"], f"{c['old'] or '—'} → {c['new']}") for c in changes.values() if isinstance(c, dict)]


def _form_rows(case: Case) -> list[tuple[str, str]]:
    """The item-specific application data in words (labels, choice names, 是/否)."""
    rows = _change_rows(case)
    if case.form_data.get("end_other_pension"):
        rows.append((_("另一种养老保险"), _("自参保起始月起终止（同一月份只能参加一种养老保险）")))
    if case.form_data.get("late_registration"):
        rows.append((_("登记时限"), _("超过入职后 30 日登记（社会保险法第五十八条）")))
    if case.form_data.get("employer_limit"):
        rows.append((_("单位申请时限"), case.form_data["employer_limit"]))
        rows.append((_("个人申请时限"), case.form_data["worker_limit"]))
    if case.form_data.get("late_employer"):
        rows.append((_("逾期申请"), case.form_data.get("late_note", "")))
    for spec in services.effect_fields(case.item):
        if spec.name not in case.form_data:
            continue
        value = case.form_data[spec.name]
        if spec.kind == "bool":
            text = _("是") if value else _("否")
        elif spec.kind == "multichoice":
            labels = dict(spec.choices)
            text = "、".join(str(labels.get(v, v)) for v in value or [])
        elif spec.kind == "employees":
            text = _employee_text(value)
        elif spec.kind == "choice":
            text = str(dict(spec.choices).get(value, value))
        elif spec.kind == "month":
            text = str(value)[:7]
        elif isinstance(value, list) and all(isinstance(row, list) for row in value):
            text = "；".join(" ".join(str(cell) for cell in row) for row in value)
        else:
            text = str(value)
        rows.append((str(spec.label), text))
    return rows


@login_required
@permission_required("cases.view_case", raise_exception=True)
@require_GET
def detail(request, uid):
    case = _case_or_404(request, uid)
    allowed = rules.allowed_actions(case, request.user)
    materials = list(selectors.case_materials(case))
    next_step = rules.step_after(case.item, case.current_step) if case.current_step_id else None
    pass_label = _PASS_LABELS.get(case.current_step.kind, _("通过")) if case.current_step_id else ""
    if case.current_step_id and next_step is None and case.current_step.kind != StepKind.COMPLETION:
        pass_label = _("%(label)s并办结") % {"label": pass_label}
    certificate = getattr(case, "certificate", None) if case.state == CaseState.COMPLETED else None
    award = BenefitAward.objects.filter(case=case).first()
    form_rows = _form_rows(case)
    refusal = ""
    if not allowed and case.is_open:
        # Say why there is nothing to do here (and who does the next step).
        for action in (CaseAction.PASS, CaseAction.ACCEPT):
            try:
                rules.check_action(case, request.user, action)
            except (ValidationError, ApplicationError) as exc:
                refusal = "；".join(error_messages(exc))
                if isinstance(exc, ApplicationError):
                    break
            except Case.DoesNotExist:
                raise Http404 from None
    return render(
        request,
        "cases/detail.html",
        {
            "case": case,
            "masked": id_number_mask(case.person.id_number) if case.person_id else "",
            "sla": selectors.case_sla(case),
            "waiting": rules.waiting_for(case),
            "allowed": allowed,
            "refusal": refusal,
            "materials": materials,
            "handed_in": [m for m in materials if not m.material.system_source],
            "missing": [m for m in materials if m.status == MaterialStatus.MISSING],
            "attachments": list(selectors.case_attachments(case)),
            "events": list(selectors.case_events(case)),
            "steps": rules.item_steps(case.item),
            "pass_label": pass_label,
            "certificate": certificate,
            "certificate_code": format_code(certificate.code) if certificate else "",
            "verify_path": verify_path(certificate.code) if certificate else "",
            "award": award,
            "payments": list(award.payments.all()) if award else [],
            "can_pay": award is not None and request.user.has_perm("cases.add_benefitpayment"),
            "form_rows": form_rows,
            "can_attach": case.is_open and request.user.has_perm("cases.add_attachment"),
            "max_mb": services.attachments.max_bytes() / 1048576,
            "this_period": timezone.localdate().strftime("%Y%m"),
        },
    )


@login_required
@permission_required("cases.change_case", raise_exception=True)
@require_POST
def action(request, uid):
    case = _case_or_404(request, uid)
    form = CaseActionForm(request.POST, case=case)
    if not form.is_valid():
        messages.error(request, "；".join(str(m) for errors in form.errors.values() for m in errors))
        return redirect("cases_detail", uid=case.uid)
    data = form.cleaned_data
    claim = tokens.token_claim(form.token())
    if not claim.won:
        messages.info(request, tokens.ALREADY_SUBMITTED if claim.earlier else tokens.STILL_RUNNING)
        return redirect("cases_detail", uid=case.uid)
    name = data["action"]
    try:
        case = services.case_transition(
            case=case,
            acting_user=request.user,
            action=name,
            note=data["note"],
            reason=data["reason"],
            materials=data["materials"],
            missing=data["missing"],
            public_base_url=public_base_url(request),
        )
    except Case.DoesNotExist:
        claim.release()
        raise Http404 from None
    except (ValidationError, ApplicationError) as exc:
        claim.release()
        messages.error(request, "；".join(error_messages(exc)))
    else:
        claim.done(reverse("cases_detail", kwargs={"uid": case.uid}))
        label = dict(CaseAction.choices).get(name, name)
        if case.state == CaseState.COMPLETED:
            messages.success(request, _("已办结：%(r)s") % {"r": case.result_summary})
        else:
            messages.success(
                request, _("“%(a)s”已完成，办件现为“%(s)s”。") % {"a": label, "s": case.get_state_display()}
            )
    return redirect("cases_detail", uid=case.uid)


@login_required
@permission_required("cases.add_attachment", raise_exception=True)
@require_POST
def attachment_upload(request, uid):
    case = _case_or_404(request, uid)
    form = AttachmentUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "；".join(str(m) for errors in form.errors.values() for m in errors))
        return redirect("cases_detail", uid=case.uid)
    done = 0
    for upload in form.cleaned_data["files"]:
        try:
            services.attachment_add(
                case=case, acting_user=request.user, file=upload, material_code=form.cleaned_data["material"]
            )
        except ValidationError as exc:
            messages.error(request, "；".join(error_messages(exc)))
        else:
            done += 1
    if done:
        messages.success(request, _("已上传 %(n)d 个附件。") % {"n": done})
    return redirect("cases_detail", uid=case.uid)


@login_required
@permission_required("cases.view_attachment", raise_exception=True)
@require_GET
def attachment_download(request, uid):
    try:
        attachment = selectors.attachment_get(user=request.user, uid=uid)
    except Attachment.DoesNotExist:
        raise Http404 from None
    try:
        content = selectors.attachment_read_verified(attachment)
    except selectors.AttachmentIntegrityError as exc:
        return render(
            request, "cases/integrity_error.html", {"attachment": attachment, "message": str(exc)}, status=409
        )
    return attachment_response(attachment, content)


@login_required
@permission_required("cases.add_benefitpayment", raise_exception=True)
@require_POST
def payment_record(request, uid):
    case = _case_or_404(request, uid)
    award = BenefitAward.objects.filter(case=case).first()
    if award is None:
        messages.error(request, _("本件没有核定待遇。"))
        return redirect("cases_detail", uid=case.uid)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(str(m) for errors in form.errors.values() for m in errors))
        return redirect("cases_detail", uid=case.uid)
    try:
        payment = services.benefit_payment_record(
            award=award,
            period=form.cleaned_data["period"],
            paid_on=form.cleaned_data["paid_on"],
            acting_user=request.user,
        )
    except ValidationError as exc:
        messages.error(request, "；".join(error_messages(exc)))
    else:
        note = "" if payment.posted_to_funds else _("（待记入基金支出）")
        messages.success(
            request, _("已登记发放 %(p)s 待遇 %(a)s 元%(n)s。") % {"p": payment.period, "a": payment.amount, "n": note}
        )
    return redirect("cases_detail", uid=case.uid)


@login_required
@permission_required("cases.view_case", raise_exception=True)
@require_GET
def receipt(request, uid):
    case = _case_or_404(request, uid)
    materials = list(selectors.case_materials(case))
    intake_notice = next((e for e in selectors.case_events(case) if e.action == CaseAction.CORRECT), None)
    return render(
        request,
        "cases/receipt.html",
        {
            "case": case,
            "masked": id_number_mask(case.person.id_number) if case.person_id else "",
            "received": [m for m in materials if m.status in (MaterialStatus.RECEIVED, MaterialStatus.SYSTEM)],
            "missing": [m for m in materials if m.status == MaterialStatus.MISSING],
            "notice": intake_notice if case.state == CaseState.SUSPENDED else None,
            "steps": rules.item_steps(case.item),
            "printed_at": timezone.localtime(),
            "query_url": request.build_absolute_uri(reverse("cases_detail", kwargs={"uid": case.uid})),
        },
    )


@login_required
@permission_required("cases.view_case", raise_exception=True)
@require_GET
def person_archive(request, uid):
    try:
        person = registry_selectors.person_get(user=request.user, uid=uid)
    except (Person.DoesNotExist, ValueError):
        raise Http404 from None
    entries = selectors.person_archive(user=request.user, person=person)
    return render(
        request,
        "cases/archive.html",
        {
            "person": person,
            "masked": id_number_mask(person.id_number),
            "entries": entries,
            "count": sum(len(e.attachments) for e in entries),
        },
    )


@login_required
@permission_required("cases.view_serviceitem", raise_exception=True)
@require_GET
def catalogue(request):
    items = selectors.catalogue_items()
    rows = []
    for item in items:
        try:
            days, basis = services.time_limit_for(item, on=timezone.localdate(), office=request.user.office)
        except ValidationError:
            days, basis = None, {}
        rows.append({"item": item, "days": days, "basis": basis, "steps": rules.item_steps(item)})
    return render(request, "cases/catalogue.html", {"rows": rows})


# ---------------------------------------------------------------------------------------------
# Public certificate check (no login).


@require_http_methods(["GET", "HEAD", "POST"])
def verify(request, code: str = ""):
    form = (
        VerifyForm(request.POST or None, request.FILES or None) if request.method == "POST" else VerifyForm(request.GET)
    )
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    code = code or data.get("code") or ""
    normalized = services.certificate_code_normalize(code)
    upload = data.get("pdf") if request.method == "POST" else None
    if normalized and normalized != code and request.method != "POST":
        return redirect("cases_verify_code", code=normalized)
    if request.method == "POST" and upload is None and normalized:
        return redirect("cases_verify_code", code=normalized)
    result = selectors.certificate_verify(code=normalized) if normalized else None
    pdf_check = None
    if result is not None and upload is not None:
        content = upload.read(services.attachments.max_bytes() + 1)
        pdf_check = hashlib.sha256(content).hexdigest() == result.certificate.pdf_sha256
    return render(
        request,
        "cases/verify.html",
        {
            "code": format_code(normalized) if normalized else "",
            "searched": bool(normalized),
            "result": result,
            "pdf_check": pdf_check,
        },
    )
