"""一窗受理 (intake) page: find the applicant (posted, so that ID numbers stay out of URLs) — or learn that he is
registered in another district (通城通办) —, pick the item, choose the employer from a search list, fill the item's
own fields (a form generated from the catalogue item), tick the materials, attach the scans, take it in.

Every input through ``cases.forms``; a second submit of the same form is sent to the first one's result
(``counter.tokens``); files chosen before a validation error are kept (``counter.staging``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from policies.workdays import WorkCalendar
from registry import selectors as registry_selectors
from registry.counter_selectors import PersonElsewhere, person_lookup_at_counter
from registry.exceptions import ApplicationError, error_messages, error_messages_by_field
from registry.identifiers import id_number_mask, identifier_compact
from registry.models import Employer, Person

from .. import rules, selectors, services
from ..forms import ApplicantSearchForm, EmployerSearchForm, IntakeForm, IntakeTargetForm, employer_choices
from ..models import CaseState, Subject
from ..views_common import public_base_url
from . import staging, tokens
from .staff_list import staff_list_read


def looks_like_id_number(query: str) -> bool:
    """A number, not a name: 15 digits or more once full-width characters and separators are made plain."""
    compact = identifier_compact(query)
    return len(compact) >= 15 and compact[:15].isdigit()


def _applicant_search(request, query: str) -> dict[str, Any]:
    """Search results, or the district that holds a number registered elsewhere (nothing else of him)."""
    out: dict[str, Any] = {"results": [], "search_error": "", "elsewhere": None, "window_number": ""}
    if not query:
        return out
    try:
        if looks_like_id_number(query):
            found = person_lookup_at_counter(user=request.user, id_number=query)
            if isinstance(found, PersonElsewhere):
                out["elsewhere"] = found
                out["window_number"] = query
                return out
            people = [found] if found is not None else []
        else:
            people = list(registry_selectors.person_list(user=request.user, query=query)[:20])
    except ValidationError as exc:
        out["search_error"] = "；".join(exc.messages)
        return out
    out["results"] = [(p, id_number_mask(p.id_number)) for p in people]
    if not people:
        out["search_error"] = _("辖区内没有找到符合条件的人员。")
    return out


def _target(request) -> dict[str, Any]:
    data = request.POST if request.method == "POST" else request.GET
    merged = {**request.GET.dict(), **data.dict()} if request.method == "POST" else data
    return IntakeTargetForm(merged).values()


def _resolve(request, target: dict[str, Any]) -> tuple[Person | None, Employer | None]:
    person = employer = None
    if target["person"]:
        try:
            person = registry_selectors.person_get(user=request.user, uid=target["person"])
        except (Person.DoesNotExist, ValueError, ValidationError):
            messages.error(request, _("申请人不存在或不在您的辖区内。"))
    if target["employer"]:
        employer = registry_selectors.employer_list(user=request.user).filter(uid=target["employer"]).first()
        if employer is None:
            messages.error(request, _("参保单位不存在或不在您的辖区内。"))
    return person, employer


def _preview(request, item) -> dict[str, Any] | None:
    if item is None:
        return None
    today = timezone.localdate()
    try:
        days, basis = services.time_limit_for(item, on=today, office=request.user.office)
    except ValidationError as exc:
        return {"error": "；".join(exc.messages)}
    calendar = WorkCalendar()
    due = calendar.add_working_days(today, days)
    return {"days": days, "due": due, "basis": basis, "warning": bool(calendar.missing_years(today, due))}


def _build_form(request, item, employer: Employer | None, employer_q: str) -> IntakeForm:
    specs = services.effect_fields(item)
    employers = employer_choices(request.user, employer_q, employer)
    kwargs = {"item": item, "specs": specs, "employers": employers, "staged": staging.staged_ids(request.session)}
    if request.method == "POST":
        form = IntakeForm(request.POST, request.FILES, **kwargs)
    else:
        form = IntakeForm(**kwargs)
    if employer is not None and not form.is_bound:
        form.fields["employer"].initial = str(employer.uid)
    return form


def _employees_from_upload(form: IntakeForm, values: dict[str, Any]) -> None:
    upload = form.cleaned_data.get("staff_file")
    if upload:
        values["employees"] = staff_list_read(upload)


def _take_in(request, form: IntakeForm, item, person):
    """Run the intake; a refusal comes back as errors on the form (files staged, token released)."""
    claim = tokens.token_claim(form.token())
    if not claim.won:
        messages.info(request, tokens.ALREADY_SUBMITTED if claim.earlier else tokens.STILL_RUNNING)
        return redirect(claim.earlier) if claim.earlier else None
    kept = form.cleaned_data.get("kept_files") or []
    files = list(form.cleaned_data.get("files") or []) + staging.files_unstage(request.session, kept)
    try:
        values = form.item_values()
        _employees_from_upload(form, values)
        employer = None
        if form.cleaned_data.get("employer"):
            employer = (
                registry_selectors.employer_list(user=request.user).filter(uid=form.cleaned_data["employer"]).first()
            )
        case = services.case_intake(
            acting_user=request.user,
            item=item,
            person=person,
            employer=employer,
            materials_received=form.cleaned_data.get("materials") or [],
            form_data=values,
            note=form.cleaned_data.get("note") or "",
            files=files,
            public_base_url=public_base_url(request),
        )
    except (ValidationError, ApplicationError) as exc:
        claim.release()
        _errors_to_form(form, exc)
        new_ids = staging.files_stage(
            request.session, list(form.cleaned_data.get("files") or []), services.attachments.max_bytes()
        )
        form.kept = staging.staged_names(request.session, [*kept, *new_ids])
        form.fresh_token()
        return None
    staging.files_forget(request.session, kept)
    url = reverse("cases_detail", kwargs={"uid": case.uid})
    claim.done(url)
    _success_message(request, case)
    return redirect(url)


def _errors_to_form(form: IntakeForm, exc: Exception) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        names = set(form.fields)
        for field, messages in error_messages_by_field(exc).items():
            target = field if field in names else f"f_{field}" if f"f_{field}" in names else None
            if field == "employees" and "staff_file" in names and form.cleaned_data.get("staff_file"):
                target = "staff_file"
            for message in messages:
                form.add_error(target, message) if target else form.add_error(None, f"{message}")
        form.refused = True
        return
    for message in error_messages(exc):
        form.add_error(None, message)
    form.refused = True


def _success_message(request, case) -> None:
    if case.state == CaseState.COMPLETED:
        messages.success(request, _("办件 %(n)s 已当场办结：%(r)s") % {"n": case.number, "r": case.result_summary})
    elif case.state == CaseState.SUSPENDED:
        messages.warning(request, _("办件 %(n)s 已受理，材料不全，已出具一次性补正告知。") % {"n": case.number})
    else:
        messages.success(request, _("办件 %(n)s 已受理，办结期限 %(d)s。") % {"n": case.number, "d": case.due_date})


@login_required
@permission_required("cases.add_case", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def intake(request):
    search = ApplicantSearchForm(request.POST if request.method == "POST" else None)
    op = search.cleaned_data.get("op", "") if search.is_valid() else ""
    query = search.cleaned_data["q"].strip() if op == "search" else ""
    target = _target(request)
    person, employer = _resolve(request, target)
    items = selectors.items_for_intake(user=request.user)
    item = next((i for i in items if i.code == target["item"]), None)
    employer_search = EmployerSearchForm(request.GET)
    employer_q = employer_search.cleaned_data["employer_q"].strip() if employer_search.is_valid() else ""
    form = None
    if item is not None and (person is not None or item.subject == Subject.EMPLOYER):
        form = _build_form(request, item, employer, employer_q)
        if op == "intake" and form.is_valid():
            response = _take_in(request, form, item, person)
            if response is not None:
                return response
        if op == "intake" and form.errors:
            messages.error(request, _("未受理：") + _join_errors(form))
    context = _context(request, query, person, employer, item, items, form, employer_q)
    return render(request, "cases/intake.html", context)


def _join_errors(form: IntakeForm) -> str:
    return "；".join(str(m) for errors in form.errors.values() for m in errors)


def _context(request, query, person, employer, item, items, form, employer_q) -> dict[str, Any]:
    needs_employer = item is not None and item.subject in (Subject.PERSON_EMPLOYER, Subject.EMPLOYER)
    return {
        "query": query,
        **_applicant_search(request, query),
        "person": person,
        "employer": employer,
        "masked": id_number_mask(person.id_number) if person else "",
        "items": items,
        "window_items": [i for i in items if i.subject == Subject.PERSON],
        "item": item,
        "steps": rules.item_steps(item) if item else [],
        "materials": list(item.materials.all()) if item else [],
        "form": form,
        "kept": getattr(form, "kept", []),
        "item_fields": [form[n] for n in form.item_field_names()] if form else [],
        "preview": _preview(request, item),
        "needs_employer": needs_employer,
        "employer_only": item is not None and item.subject == Subject.EMPLOYER,
        "employer_q": employer_q,
        "window_token": tokens.token_new(),
        "max_mb": services.attachments.max_bytes() / 1048576,
    }
