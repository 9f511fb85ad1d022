"""Counter pages of residents and land-expropriated farmers (城乡居民, 被征地农民): a person's yearly resident pension
grade and contribution, resident medical contribution and land-farmer funding; the yearly resident medical run of
an area with its progress. Input through ``contributions.forms``; writes through ``contributions.services``."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from contributions import selectors, services
from contributions.forms import (
    FlexibleBaseForm,
    LandFarmerContributionForm,
    ResidentMedicalContributionForm,
    ResidentMedicalRunForm,
    ResidentOpForm,
    ResidentPensionGradeForm,
)
from contributions.models import BillRunStatus, ResidentMedicalRun
from policies import codes
from policies.selectors import ParameterNotFound, parameter_value
from registry import selectors as registry_selectors
from registry.identifiers import id_number_mask
from registry.jurisdiction import scope_to_user
from registry.models import Office, OfficeLevel, Person
from registry.pages import form_errors_add, page_number


def _run_offices(user) -> list[Office]:
    levels = [OfficeLevel.CITY, OfficeLevel.DISTRICT, OfficeLevel.TOWNSHIP]
    return list(scope_to_user(Office.objects.filter(level__in=levels), user).order_by("path")[:200])


@login_required
@permission_required("contributions.view_residentmedicalrun", raise_exception=True)
@require_http_methods(["GET", "POST"])
def resident_medical_runs(request):
    offices = _run_offices(request.user)
    initial = {"year": timezone.localdate().year, "office": offices[0].code if offices else ""}
    form = ResidentMedicalRunForm(initial=initial, offices=offices)
    if request.method == "POST":
        if not request.user.has_perm("contributions.add_residentmedicalrun"):
            raise Http404
        form = ResidentMedicalRunForm(request.POST, offices=offices)
        if form.is_valid():
            try:
                run = services.resident_medical_run_start(
                    year=form.cleaned_data["year"],
                    office=form.offices[form.cleaned_data["office"]],
                    acting_user=request.user,
                )
            except ValidationError as exc:
                form_errors_add(form, exc)
            else:
                messages.success(request, _("已发起 %(year)s 年度居民医保核定。") % {"year": run.year})
                return redirect("contributions_resident_medical_run", uid=run.uid)
    runs = scope_to_user(ResidentMedicalRun.objects.select_related("office", "started_by"), request.user)
    page = Paginator(runs, 20).get_page(page_number(request.GET))
    return render(
        request,
        "contributions/resident_medical_runs.html",
        {"form": form, "page": page, "can_start": request.user.has_perm("contributions.add_residentmedicalrun")},
        status=400 if form.errors else 200,
    )


@login_required
@permission_required("contributions.view_residentmedicalrun", raise_exception=True)
@require_GET
def resident_medical_run(request, uid):
    run = scope_to_user(ResidentMedicalRun.objects.select_related("office"), request.user).filter(uid=uid).first()
    if run is None:
        raise Http404
    active = run.status in (BillRunStatus.QUEUED, BillRunStatus.RUNNING)
    return render(request, "contributions/resident_medical_run.html", {"run": run, "active": active})


def _grades(year: int, person: Person) -> list[dict]:
    try:
        on = datetime.date(year, 1, 1)
        return parameter_value(codes.RES_PENSION_GRADES, on=on, office=person.residence_office).value
    except (ParameterNotFound, ValueError, OverflowError):
        return []


def _person_forms(request, person: Person):
    year = timezone.localdate().year
    sent = ResidentOpForm(request.POST if request.method == "POST" else None).values()
    op = sent["op"]
    data = request.POST if request.method == "POST" else None
    pension_year = int(sent["year"]) if op == "pension" and sent["year"].isdigit() and len(sent["year"]) == 4 else year
    return op, {
        "pension": ResidentPensionGradeForm(
            data if op == "pension" else None, initial={"year": year}, grades=_grades(pension_year, person)
        ),
        "medical": ResidentMedicalContributionForm(data if op == "medical" else None, initial={"year": year}),
        "land": LandFarmerContributionForm(data if op == "land" else None),
        "flexible": FlexibleBaseForm(data if op == "flexible" else None, initial={"percent": "60"}),
    }


def _contribute(op: str, form, person: Person, user):
    if op == "pension":
        data = form.cleaned_data
        return services.resident_pension_contribute(
            person=person, year=data["year"], grade=data["grade"], acting_user=user
        )
    if op == "medical":
        return services.resident_medical_contribute(person=person, year=form.cleaned_data["year"], acting_user=user)
    if op == "flexible":
        data = form.cleaned_data
        return services.flexible_base_choose(
            person=person, from_period=data["from_period"], percent=data["percent"], acting_user=user
        )
    return services.land_farmer_contribute(person=person, acting_user=user)


def _done(request, op: str, result, person: Person):
    if op == "flexible":
        messages.success(
            request,
            _("已记录：自 %(p)s 起按平均工资的 %(pct)d%% 缴费。") % {"p": result.valid_from, "pct": result.percent},
        )
        return redirect("contributions_person_residents", uid=person.uid)
    messages.success(
        request, _("已生成账单：%(kind)s %(total)s 元。") % {"kind": result.get_kind_display(), "total": result.total}
    )
    return redirect("contributions_bill_detail", uid=result.uid)


@login_required
@permission_required("contributions.add_residentpensionchoice", raise_exception=True)
@require_http_methods(["GET", "POST"])
def person_residents(request, uid):
    try:
        person = registry_selectors.person_get(user=request.user, uid=uid)
    except (Person.DoesNotExist, ValidationError, ValueError):
        raise Http404 from None
    op, forms = _person_forms(request, person)
    if op in forms and forms[op].is_valid():
        try:
            result = _contribute(op, forms[op], person, request.user)
        except ValidationError as exc:
            form_errors_add(forms[op], exc)
        else:
            return _done(request, op, result, person)
    bills = selectors.bill_list(user=request.user).filter(person=person).order_by("-period")[:20]
    waiting = selectors.resident_medical_waiting_of_person(person)
    return render(
        request,
        "contributions/person_residents.html",
        {
            "person": person,
            "masked_id": id_number_mask(person.id_number),
            "forms": forms,
            "bills": bills,
            "waiting": waiting,
        },
        status=400 if op in forms and forms[op].errors else 200,
    )
