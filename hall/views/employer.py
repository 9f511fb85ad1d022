"""An employer's pages: staff and enrollments, the monthly declaration (form or payroll upload), bills, arrears and
late fees, the statement (PDF/xlsx), staff changes as applications, the employer's certificate, and (for its
administrator) the agents and their rights. Every id is looked up among the employer's own records."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.models import Case, ServiceItem, Subject
from contributions.periods import period_label, period_of
from contributions.resources import payroll_template_csv
from contributions.selectors import declaration_candidates, declaration_find, late_fees_for
from registry.exceptions import ApplicationError, error_messages
from registry.identifiers import id_number_mask

from .. import selectors, statements
from ..forms import (
    AgentForm,
    AgentUpdateForm,
    ApplicationForm,
    DeclarationForm,
    PayrollUploadForm,
    PeriodForm,
    YearForm,
    apply_errors,
)
from ..models import HallAccount, Right
from ..services import accounts, applications
from ..services import employer as employer_services
from ._common import employer_required, hall_render
from .person import act_on_case, case_context

EMPLOYER_SUBJECTS = (Subject.PERSON_EMPLOYER, Subject.EMPLOYER)


@employer_required()
@require_GET
def dashboard(request):
    account = request.hall_account
    today = timezone.localdate()
    arrears = list(selectors.employer_arrears(account, on=today)[:5]) if account.has_right(Right.BILLS) else []
    return hall_render(
        request,
        "hall/employer.html",
        {"staff_count": selectors.employer_staff(account).values("person_id").distinct().count(), "arrears": arrears},
    )


@employer_required()
@require_GET
def staff(request):
    rows = [(e, id_number_mask(e.person.id_number)) for e in selectors.employer_staff(request.hall_account)]
    return hall_render(request, "hall/staff.html", {"rows": rows})


def _period(request) -> int:
    form = PeriodForm(request.GET or None)
    period = form.cleaned_data.get("period") if form.is_valid() else None
    return period or period_of(timezone.localdate())


@employer_required(Right.DECLARE)
@require_http_methods(["GET", "POST"])
def declaration(request):
    account = request.hall_account
    period = _period(request)
    candidates = declaration_candidates(employer=account.employer, period=period)
    form = DeclarationForm(None, candidates=candidates, initial={"period": period, **_initial(candidates)})
    upload = PayrollUploadForm(initial={"period": period})
    errors: list[str] = []
    if request.method == "POST":
        upload_form = PayrollUploadForm(request.POST, request.FILES)
        upload_posted = bool(upload_form["payroll"].data)  # a file was sent (read through the form)
        if upload_posted:
            bound = upload_form
        else:
            bound = form = DeclarationForm(request.POST, candidates=candidates)
        errors = _declare(account, bound, upload_posted)
        if not errors:
            messages.success(request, _("%(p)s 的申报已保存。") % {"p": period_label(period)})
            return redirect(f"{request.path}?period={period}")
    existing = declaration_find(employer=account.employer, period=period)
    context = {
        "form": form,
        "upload": upload,
        "period": period,
        "period_label": period_label(period),
        "errors": errors,
        "existing": existing,
        "rows": [(c, form[f"base_{c.person.uid}"], id_number_mask(c.person.id_number)) for c in candidates],
    }
    return hall_render(request, "hall/declaration.html", context, status=400 if errors else 200)


@employer_required(Right.DECLARE)
@require_GET
def payroll_template(request):
    """The counter's payroll template (columns and the totals lines the reader checks)."""
    response = HttpResponse(payroll_template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="payroll-template.csv"'
    return response


def _declare(account, bound, upload_posted: bool) -> list[str]:
    """Submit the bound form (the payroll file or the per-employee bases); the messages, empty when saved."""
    if not bound.is_valid():
        return [str(e) for errs in bound.errors.values() for e in errs]
    try:
        if upload_posted:
            file = bound.cleaned_data["payroll"]
            employer_services.declaration_online_upload(
                account=account, period=bound.cleaned_data["period"], name=file.name, data=file.read()
            )
        else:
            employer_services.declaration_online_form(
                account=account, period=bound.cleaned_data["period"], entries=bound.entries()
            )
    except (ValidationError, ApplicationError) as exc:
        return error_messages(exc)
    return []


def _initial(candidates) -> dict:
    return {f"base_{c.person.uid}": c.declared_base for c in candidates if c.declared_base is not None}


@employer_required(Right.BILLS)
@require_GET
def bills(request):
    account = request.hall_account
    today = timezone.localdate()
    bill_rows = list(selectors.employer_bills(account)[:60])
    arrears = list(selectors.employer_arrears(account, on=today))
    fees = late_fees_for(arrears, on=today)
    return hall_render(
        request,
        "hall/bills.html",
        {
            "bills": bill_rows,
            "arrears": [(b, fees.get(b.pk)) for b in arrears],
            "year": today.year,
            "years": sorted({b.period // 100 for b in bill_rows} | {today.year}, reverse=True),
        },
    )


def _year(request) -> int:
    form = YearForm(request.GET or None)
    return (form.cleaned_data.get("year") if form.is_valid() else None) or timezone.localdate().year


@employer_required(Right.BILLS)
@require_GET
def statement(request, fmt):
    account = request.hall_account
    year = _year(request)
    if fmt == "pdf":
        response = HttpResponse(statements.statement_pdf(account, year=year), content_type="application/pdf")
    elif fmt == "xlsx":
        response = HttpResponse(
            statements.statement_xlsx(account, year=year),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        raise Http404
    response["Content-Disposition"] = f'attachment; filename="statement-{year}.{fmt}"'
    return response


@employer_required()
@require_GET
def certificate(request):
    response = HttpResponse(statements.employer_certificate_pdf(request.hall_account), content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="employer-certificate.pdf"'
    return response


@employer_required(Right.APPLY)
@require_GET
def applications_list(request):
    return hall_render(
        request,
        "hall/applications.html",
        {
            "cases": selectors.employer_cases(request.hall_account),
            "items": selectors.online_items(subjects=EMPLOYER_SUBJECTS),
            "base": "hall:employer_application",
            "employer_view": True,
        },
    )


@employer_required(Right.APPLY)
@require_http_methods(["GET", "POST"])
def application_new(request, code):
    account = request.hall_account
    try:
        item = ServiceItem.objects.prefetch_related("materials", "steps").get(
            code=code, is_active=True, subject__in=EMPLOYER_SUBJECTS
        )
    except ServiceItem.DoesNotExist:
        raise Http404 from None
    needs_person = item.subject == Subject.PERSON_EMPLOYER
    form = ApplicationForm(
        request.POST or None,
        request.FILES or None,
        item=item,
        offices=selectors.intake_offices(account),
        for_employer=needs_person,
    )
    if request.method == "POST" and form.is_valid():
        try:
            person = (
                applications.employee_for_application(
                    id_number=form.cleaned_data["employee_id_number"], name=form.cleaned_data["employee_name"]
                )
                if needs_person
                else None
            )
            case = applications.application_submit(
                account=account,
                item=item,
                form_data=form.effect_data(),
                files=form.material_files(),
                intake_office=form.cleaned_data["intake_office"],
                note=form.cleaned_data["note"],
                person=person,
            )
        except (ValidationError, ApplicationError) as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("申请已提交，办件编号 %(n)s。") % {"n": case.number})
            return redirect("hall:employer_application", uid=case.uid)
    status = 400 if form.errors else 200
    return hall_render(request, "hall/application_new.html", {"form": form, "item": item}, status=status)


def _case_or_404(account, uid) -> Case:
    try:
        return selectors.employer_case_get(account, uid)
    except Case.DoesNotExist:
        raise Http404 from None


@employer_required(Right.APPLY)
@require_GET
def application_detail(request, uid):
    case = _case_or_404(request.hall_account, uid)
    return hall_render(request, "hall/application_detail.html", case_context(request.hall_account, case))


@employer_required(Right.APPLY)
@require_POST
def application_action(request, uid, action):
    if action not in ("supplement", "withdraw", "rate"):
        raise Http404
    case = _case_or_404(request.hall_account, uid)
    return act_on_case(request, case, action, "hall:employer_application")


@employer_required()
@require_http_methods(["GET", "POST"])
def agents(request):
    account = request.hall_account
    if not account.is_employer_admin:
        raise Http404
    form = AgentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.agent_create(admin=account, **form.cleaned_data)
        except (ValidationError, ApplicationError) as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("经办人账户已添加。"))
            return redirect("hall:agents")
    rows = [
        (a, AgentUpdateForm(initial={"rights": a.rights, "active": a.is_active}, prefix=f"a{a.pk}"))
        for a in selectors.employer_agents(account)
    ]
    return hall_render(request, "hall/agents.html", {"form": form, "rows": rows}, status=400 if form.errors else 200)


@employer_required()
@require_POST
def agent_update(request, uid):
    account = request.hall_account
    if not account.is_employer_admin:
        raise Http404
    try:
        agent = selectors.employer_agent_get(account, uid)
    except HallAccount.DoesNotExist:
        raise Http404 from None
    form = AgentUpdateForm(request.POST, prefix=f"a{agent.pk}")
    if form.is_valid():
        try:
            accounts.agent_update(admin=account, agent=agent, **form.cleaned_data)
        except (ValidationError, ApplicationError) as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            messages.success(request, _("经办人权限已更新。"))
    return redirect("hall:agents")
