"""Clerk pages of cases: the office queue, intake (一窗受理), the case page with the actions allowed to the user,
the printed receipt (受理回执), the person's archive index, the catalogue; and the public certificate check.

Reads through ``selectors``, writes through ``services``; the pages only turn the user's input into a call.
"""

from __future__ import annotations

import datetime
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
from registry.exceptions import ApplicationError, error_messages, error_messages_by_field
from registry.identifiers import id_number_mask
from registry.models import Person
from registry.pages import query_string_without_page

from . import rules, selectors, services
from .certificate_codes import verify_path
from .models import (
    Attachment,
    BenefitAward,
    Case,
    CaseAction,
    CaseState,
    MaterialStatus,
    StepKind,
    Subject,
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
    scope = request.GET.get("scope") or selectors.QUEUE_PENDING
    if scope not in dict(selectors.QUEUE_CHOICES):
        scope = selectors.QUEUE_PENDING
    item_code = request.GET.get("item", "").strip()
    state = request.GET.get("state", "").strip()
    sla = request.GET.get("sla", "").strip()
    if state not in CaseState.values:
        state = ""
    if sla not in dict(selectors.SLA_CHOICES):
        sla = ""
    cases = selectors.case_queue(user=request.user, scope=scope, item_code=item_code, state=state, sla=sla)
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
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
# Intake.


def _field_value(request, name: str):
    return request.POST.get(f"f_{name}", "").strip()


@login_required
@permission_required("cases.add_case", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def intake(request):
    """一窗受理: find the applicant (posted, so that ID numbers stay out of URLs), pick the item, tick the
    materials, attach the scans, take it in."""
    op = request.POST.get("op", "") if request.method == "POST" else ""
    query = request.POST.get("q", "").strip() if op == "search" else ""
    person_uid = request.POST.get("person") or request.GET.get("person") or ""
    item_code = request.POST.get("item") or request.GET.get("item") or ""
    items = selectors.items_for_intake(user=request.user)
    item = next((i for i in items if i.code == item_code), None)
    person = None
    if person_uid:
        try:
            person = registry_selectors.person_get(user=request.user, uid=person_uid)
        except (Person.DoesNotExist, ValueError, ValidationError):
            messages.error(request, _("申请人不存在或不在您的辖区内。"))
    results, search_error = [], ""
    if query:
        try:
            results = [
                (p, id_number_mask(p.id_number))
                for p in registry_selectors.person_list(user=request.user, query=query)[:20]
            ]
        except ValidationError as exc:
            search_error = "；".join(exc.messages)
        if not results and not search_error:
            search_error = _("辖区内没有找到符合条件的人员。")
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    ticked: set[str] = set()
    employer_query = ""
    if op == "intake" and item is not None:
        ticked = set(request.POST.getlist("materials"))
        employer_query = request.POST.get("employer", "").strip()
        values = {f.name: _field_value(request, f.name) for f in services.effect_fields(item)}
        employer = None
        try:
            if employer_query:
                employer = registry_selectors.employer_list(user=request.user, query=employer_query).first()
                if employer is None:
                    raise ValidationError(
                        {
                            "employer": [
                                _("辖区内没有统一社会信用代码或名称为“%(q)s”的参保单位。") % {"q": employer_query}
                            ]
                        }
                    )
            case = services.case_intake(
                acting_user=request.user,
                item=item,
                person=person,
                employer=employer,
                materials_received=sorted(ticked),
                form_data=values,
                note=request.POST.get("note", ""),
                files=request.FILES.getlist("files"),
                public_base_url=public_base_url(request),
            )
        except ValidationError as exc:
            errors = error_messages_by_field(exc)
            messages.error(request, _("未受理：") + "；".join(error_messages(exc)))
        except ApplicationError as exc:
            messages.error(request, str(exc))
        else:
            if case.state == CaseState.COMPLETED:
                messages.success(
                    request, _("办件 %(n)s 已当场办结：%(r)s") % {"n": case.number, "r": case.result_summary}
                )
            elif case.state == CaseState.SUSPENDED:
                messages.warning(request, _("办件 %(n)s 已受理，材料不全，已出具一次性补正告知。") % {"n": case.number})
            else:
                messages.success(
                    request, _("办件 %(n)s 已受理，办结期限 %(d)s。") % {"n": case.number, "d": case.due_date}
                )
            return redirect("cases_detail", uid=case.uid)
    preview = None
    if item is not None:
        try:
            days, basis = services.time_limit_for(item, on=timezone.localdate(), office=request.user.office)
            calendar = WorkCalendar()
            due = calendar.add_working_days(timezone.localdate(), days)
            preview = {
                "days": days,
                "due": due,
                "basis": basis,
                "warning": bool(calendar.missing_years(timezone.localdate(), due)),
            }
        except ValidationError as exc:
            preview = {"error": "；".join(error_messages(exc))}
    fields = []
    if item is not None:
        for f in services.effect_fields(item):
            default = values.get(f.name, "")
            if not default and f.kind == "month":
                default = timezone.localdate().strftime("%Y-%m")
            fields.append({"spec": f, "value": default, "errors": errors.get(f.name, [])})
    return render(
        request,
        "cases/intake.html",
        {
            "query": query,
            "results": results,
            "search_error": search_error,
            "person": person,
            "masked": id_number_mask(person.id_number) if person else "",
            "items": items,
            "item": item,
            "steps": rules.item_steps(item) if item else [],
            "materials": list(item.materials.all()) if item else [],
            "ticked": ticked,
            "fields": fields,
            "errors": errors,
            "general_errors": [m for k, ms in errors.items() if k not in {f["spec"].name for f in fields} for m in ms],
            "preview": preview,
            "needs_employer": item is not None and item.subject in (Subject.PERSON_EMPLOYER, Subject.EMPLOYER),
            "employer_query": employer_query,
            "note": request.POST.get("note", "") if op == "intake" else "",
            "max_mb": services.attachments.max_bytes() / 1048576,
        },
    )


# ---------------------------------------------------------------------------------------------
# Case page and its actions.


_PASS_LABELS = {
    StepKind.REVIEW: _("审核通过"),
    StepKind.APPROVAL: _("审批通过"),
    StepKind.COMPLETION: _("办结"),
}


def _form_rows(case: Case) -> list[tuple[str, str]]:
    """The item-specific application data in words (labels, choice names, 是/否)."""
    rows = []
    for spec in services.effect_fields(case.item):
        if spec.name not in case.form_data:
            continue
        value = case.form_data[spec.name]
        if spec.kind == "bool":
            text = _("是") if value else _("否")
        elif spec.kind == "choice":
            text = str(dict(spec.choices).get(value, value))
        elif spec.kind == "month":
            text = str(value)[:7]
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
    name = request.POST.get("action", "")
    try:
        case = services.case_transition(
            case=case,
            acting_user=request.user,
            action=name,
            note=request.POST.get("note", ""),
            reason=request.POST.get("reason", ""),
            materials=request.POST.getlist("materials"),
            missing=request.POST.getlist("missing"),
            public_base_url=public_base_url(request),
        )
    except Case.DoesNotExist:
        raise Http404 from None
    except (ValidationError, ApplicationError) as exc:
        messages.error(request, "；".join(error_messages(exc)))
    else:
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
    files = request.FILES.getlist("files")
    if not files:
        messages.error(request, _("请选择要上传的文件。"))
        return redirect("cases_detail", uid=case.uid)
    done = 0
    for upload in files:
        try:
            services.attachment_add(
                case=case, acting_user=request.user, file=upload, material_code=request.POST.get("material", "")
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
    try:
        paid_on = datetime.date.fromisoformat(request.POST.get("paid_on", ""))
    except ValueError:
        messages.error(request, _("发放日期格式应为 YYYY-MM-DD。"))
        return redirect("cases_detail", uid=case.uid)
    try:
        payment = services.benefit_payment_record(
            award=award, period=request.POST.get("period", ""), paid_on=paid_on, acting_user=request.user
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
    code = (request.POST.get("code") if request.method == "POST" and not code else code) or request.GET.get("code", "")
    normalized = services.certificate_code_normalize(code)
    if normalized and normalized != code and request.method != "POST":
        return redirect("cases_verify_code", code=normalized)
    if request.method == "POST" and "pdf" not in request.FILES and normalized:
        return redirect("cases_verify_code", code=normalized)
    result = selectors.certificate_verify(code=normalized) if normalized else None
    pdf_check = None
    if request.method == "POST" and result is not None and "pdf" in request.FILES:
        upload = request.FILES["pdf"]
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
