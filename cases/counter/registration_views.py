"""Registering a person and an employer at the counter, and 通城通办 intake for a person of another district.

A number registered in another district is never registered twice: the clerk is told only "已在本市登记（路桥区）"
and may take in a case for the person, who stands at the window with his card.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from registry import services as registry_services
from registry.counter_selectors import district_of
from registry.exceptions import ApplicationError, error_messages
from registry.identifiers import id_number_mask
from registry.pages import form_errors_add

from .. import rules, selectors, services
from ..models import Case, CaseState, Subject
from . import tokens
from .forms import EmployerRegisterForm, PersonRegisterForm, WindowIntakeForm


def _apply_errors(form, exc: ValidationError) -> None:
    form_errors_add(form, exc)


def _claimed(request, form):
    """The form's one-time token: None to go on, or the response for a second submit."""
    claim = tokens.token_claim(form.token())
    if claim.won:
        return claim, None
    messages.info(request, tokens.ALREADY_SUBMITTED if claim.earlier else tokens.STILL_RUNNING)
    return claim, redirect(claim.earlier or request.path)


def _person_save(request, form: PersonRegisterForm):
    data = form.cleaned_data
    try:
        return registry_services.person_create(
            acting_user=request.user,
            id_number=data["id_number"],
            name=data["name"],
            household_type=data["household_type"],
            residence_office=form.office(),
            phone=data["phone"],
            address=data["address"],
        ), None
    except registry_services.PersonRegisteredElsewhere as exc:
        district = exc.district
        return None, (district.short_name or district.name) if district else _("其他辖区")


@login_required
@permission_required("registry.add_person", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def person_register(request):
    form = PersonRegisterForm(request.POST or None, user=request.user)
    elsewhere = ""
    if request.method == "POST" and form.is_valid():
        claim, response = _claimed(request, form)
        if response is not None:
            return response
        try:
            person, elsewhere = _person_save(request, form)
        except ValidationError as exc:
            person = None
            _apply_errors(form, exc)
        if person is not None:
            url = reverse("person_detail", kwargs={"uid": person.uid})
            claim.done(url)
            messages.success(
                request,
                _("已登记：%(name)s（%(id)s）。") % {"name": person.name, "id": id_number_mask(person.id_number)},
            )
            if warning := form.area_warning():
                messages.warning(request, warning)
            return redirect(url)
        claim.release()
        form.fresh_token()
    context = {
        "form": form,
        "elsewhere": elsewhere,
        "area_warning": form.area_warning() if form.is_bound and not form.errors else "",
        "window_number": form.cleaned_data.get("id_number", "") if elsewhere else "",
        "window_items": [i for i in selectors.items_for_intake(user=request.user) if i.subject == Subject.PERSON],
        "window_token": tokens.token_new(),
    }
    return render(request, "cases/counter/person_register.html", context)


@login_required
@permission_required("registry.add_employer", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def employer_register(request):
    form = EmployerRegisterForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        claim, response = _claimed(request, form)
        if response is not None:
            return response
        data = {k: v for k, v in form.cleaned_data.items() if k not in ("form_token", "office")}
        try:
            employer = registry_services.employer_create(acting_user=request.user, office=form.office(), **data)
        except ValidationError as exc:
            claim.release()
            _apply_errors(form, exc)
            form.fresh_token()
        else:
            url = reverse("counter_employer_detail", kwargs={"uid": employer.uid})
            claim.done(url)
            messages.success(request, _("已登记参保单位：%(name)s。") % {"name": employer.name})
            return redirect(url)
    return render(request, "cases/counter/employer_register.html", {"form": form})


@login_required
@permission_required("cases.add_case", raise_exception=True)
@require_POST
def window_intake(request):
    form = WindowIntakeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("通城通办受理信息不完整，请重新查找申请人。"))
        return redirect("cases_intake")
    claim, response = _claimed(request, form)
    if response is not None:
        return response
    item = next((i for i in selectors.items_for_intake(user=request.user) if i.code == form.cleaned_data["item"]), None)
    try:
        if item is None:
            raise ValidationError({"item": [_("请选择本机构可受理的事项。")]})
        case = services.case_window_intake(
            acting_user=request.user,
            item=item,
            id_number=form.cleaned_data["id_number"],
            note=form.cleaned_data["note"],
        )
    except (ValidationError, ApplicationError) as exc:
        claim.release()
        messages.error(request, _("未受理：") + "；".join(error_messages(exc)))
        return redirect("cases_intake")
    url = reverse("counter_window_case", kwargs={"uid": case.uid})
    claim.done(url)
    messages.success(
        request, _("办件 %(n)s 已收件，转%(o)s受理办理。") % {"n": case.number, "o": case.intake_office.name}
    )
    return redirect(url)


@login_required
@permission_required("cases.view_case", raise_exception=True)
@require_GET
def window_case(request, uid):
    """The window's view of a 通城通办 case: its state and its receipt, nothing else of the person."""
    try:
        case = selectors.case_for_window(user=request.user, uid=uid)
    except Case.DoesNotExist:
        raise Http404 from None
    district = district_of(case.person) if case.person_id else None
    return render(
        request,
        "cases/counter/window_case.html",
        {
            "case": case,
            "masked": id_number_mask(case.person.id_number) if case.person_id else "",
            "district": district,
            "steps": rules.item_steps(case.item),
            "materials": list(selectors.case_materials(case)),
            "done": case.state == CaseState.COMPLETED,
        },
    )
