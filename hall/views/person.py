"""A person's own pages: enrollments, contribution record (and its PDF), certificates, applications, the pension
grade for next year, messages and preferences. Every id in a URL is looked up among the account's own records."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import selectors as case_selectors
from cases.models import Case, Certificate, Effect, MaterialStatus, ServiceItem
from cases.rules import waiting_for
from contributions.pdf import contribution_record_pdf
from policies import codes
from policies.selectors import ParameterNotFound, parameter_value
from registry.exceptions import ApplicationError
from registry.identifiers import id_number_mask

from .. import selectors
from ..forms import (
    ApplicationForm,
    CertificateForm,
    CertifyForm,
    GradeForm,
    PreferencesForm,
    RateForm,
    SupplementForm,
    WithdrawForm,
    YearForm,
    apply_errors,
)
from ..services import accounts, applications
from ._common import account_required, base_url, hall_render, person_required


@person_required
@require_GET
def dashboard(request):
    account = request.hall_account
    return hall_render(
        request,
        "hall/me.html",
        {
            "masked_id": id_number_mask(account.person.id_number),
            "open_cases": selectors.person_cases(account).filter(completed_at__isnull=True)[:5],
            "enrollments": selectors.person_enrollments(account)[:10],
        },
    )


@person_required
@require_GET
def enrollments(request):
    return hall_render(
        request, "hall/enrollments.html", {"enrollments": selectors.person_enrollments(request.hall_account)}
    )


@person_required
@require_GET
def record(request):
    form = YearForm(request.GET or None)
    year = form.cleaned_data.get("year") if form.is_valid() else None
    data = selectors.person_record(request.hall_account)
    rows = [r for r in data.rows if year is None or r.period // 100 == year]
    years = sorted({r.period // 100 for r in data.rows}, reverse=True)
    return hall_render(
        request, "hall/record.html", {"record": data, "rows": rows, "years": years, "year": year, "form": form}
    )


@person_required
@require_GET
def record_pdf(request):
    data = selectors.person_record(request.hall_account)
    response = HttpResponse(contribution_record_pdf(data), content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="contribution-record.pdf"'
    return response


def _certificate_items():
    return ServiceItem.objects.filter(
        effect__in=[Effect.CERTIFICATE_ENROLLMENT, Effect.CERTIFICATE_RECORD], offered_online=True, is_active=True
    ).order_by("sort_order")


@person_required
@require_http_methods(["GET", "POST"])
def certificates(request):
    account = request.hall_account
    if request.method == "POST":
        form = CertificateForm(request.POST, items=_certificate_items())
        if form.is_valid():
            try:
                certificate = applications.certificate_self_issue(
                    account=account, item=form.cleaned_data["item"], public_base_url=base_url(request)
                )
            except (ValidationError, ApplicationError) as exc:
                messages.error(request, "；".join(exc.messages))
            else:
                messages.success(request, _("证明已出具，验证码 %(c)s。") % {"c": certificate.code})
        return redirect("hall:certificates")
    return hall_render(
        request,
        "hall/certificates.html",
        {"certificates": selectors.person_certificates(account), "items": _certificate_items()},
    )


@person_required
@require_GET
def certificate_pdf(request, uid):
    try:
        certificate = selectors.person_certificate_get(request.hall_account, uid)
    except Certificate.DoesNotExist:
        raise Http404 from None
    content = case_selectors.attachment_read_verified(certificate.attachment)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="certificate-{certificate.code}.pdf"'
    return response


@person_required
@require_GET
def applications_list(request):
    account = request.hall_account
    return hall_render(
        request,
        "hall/applications.html",
        {
            "cases": selectors.person_cases(account),
            "items": selectors.online_items(subjects=applications.PERSON_SUBJECTS),
            "base": "hall:application",
        },
    )


@person_required
@require_http_methods(["GET", "POST"])
def application_new(request, code):
    account = request.hall_account
    try:
        item = ServiceItem.objects.prefetch_related("materials", "steps").get(code=code, is_active=True)
    except ServiceItem.DoesNotExist:
        raise Http404 from None
    form = ApplicationForm(
        request.POST or None, request.FILES or None, item=item, offices=selectors.intake_offices(account)
    )
    if request.method == "POST" and form.is_valid():
        try:
            case = applications.application_submit(
                account=account,
                item=item,
                form_data=form.effect_data(),
                files=form.material_files(),
                intake_office=form.cleaned_data["intake_office"],
                note=form.cleaned_data["note"],
            )
        except (ValidationError, ApplicationError) as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("申请已提交，办件编号 %(n)s。") % {"n": case.number})
            return redirect("hall:application", uid=case.uid)
    offline = "" if item.offered_online else _("“%(name)s”暂不支持网上申请，请到经办机构办理。") % {"name": item.name}
    status = 400 if form.errors else 200
    context = {"form": form, "item": item, "offline": offline}
    return hall_render(request, "hall/application_new.html", context, status=status)


def case_context(account, case: Case) -> dict:
    missing = [m.material for m in case.materials.select_related("material") if m.status == MaterialStatus.MISSING]
    may_act = selectors.may_act(account, case)
    return {
        "case": case,
        "waiting": waiting_for(case),
        "materials": case.materials.select_related("material"),
        "events": case.events.exclude(action="claim").order_by("at", "id"),
        "may_act": may_act,
        "supplement": SupplementForm(materials=missing) if may_act and missing else None,
        "withdraw": WithdrawForm() if may_act and case.is_open else None,
        "rate": RateForm() if case.state in ("completed", "rejected") and not hasattr(case, "rating") else None,
        "rating": getattr(case, "rating", None),
    }


def _case_or_404(account, uid) -> Case:
    try:
        return selectors.person_case_get(account, uid)
    except Case.DoesNotExist:
        raise Http404 from None


@person_required
@require_GET
def application_detail(request, uid):
    case = _case_or_404(request.hall_account, uid)
    return hall_render(request, "hall/application_detail.html", {**case_context(request.hall_account, case)})


def act_on_case(request, case: Case, action: str, back: str):
    """The three actions of an applicant on his case: 补正 upload, withdraw, rate; refusals shown as messages."""
    account = request.hall_account
    if action == "supplement":
        missing = [m.material for m in case.materials.select_related("material") if m.status == MaterialStatus.MISSING]
        form = SupplementForm(request.POST, request.FILES, materials=missing)
    elif action == "withdraw":
        form = WithdrawForm(request.POST)
    else:
        form = RateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back, uid=case.uid)
    try:
        if action == "supplement":
            applications.application_supplement(account=account, case=case, files=form.material_files())
            messages.success(request, _("补正材料已提交，办件恢复办理。"))
        elif action == "withdraw":
            applications.application_withdraw(account=account, case=case, reason=form.cleaned_data["reason"])
            messages.success(request, _("申请已撤回。"))
        else:
            applications.application_rate(
                account=account, case=case, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"]
            )
            messages.success(request, _("感谢您的评价。"))
    except Case.DoesNotExist:
        raise Http404 from None
    except (ValidationError, ApplicationError) as exc:
        messages.error(request, "；".join(exc.messages))
    return redirect(back, uid=case.uid)


@person_required
@require_POST
def application_action(request, uid, action):
    if action not in ("supplement", "withdraw", "rate"):
        raise Http404
    case = _case_or_404(request.hall_account, uid)
    return act_on_case(request, case, action, "hall:application")


def _grades(account) -> list[tuple[int, str]]:
    year = timezone.localdate().year + 1
    on = timezone.datetime(year, 1, 1).date()
    try:
        value = parameter_value(codes.RES_PENSION_GRADES, on=on, office=account.person.residence_office).value
    except ParameterNotFound:  # no grades in force for next year yet: nothing to choose
        return []
    return [
        (
            int(g["grade"]),
            _("第 %(g)s 档：%(a)s 元（政府补贴 %(s)s 元）") % {"g": g["grade"], "a": g["amount"], "s": g["subsidy"]},
        )
        for g in value
    ]


@person_required
@require_http_methods(["GET", "POST"])
def pension_grade(request):
    account = request.hall_account
    grades = _grades(account)
    form = GradeForm(request.POST or None, grades=grades)
    if request.method == "POST" and form.is_valid():
        try:
            bill = applications.pension_grade_choose(account=account, grade=form.cleaned_data["grade"])
        except (ValidationError, ApplicationError) as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("已选择 %(y)s 年第 %(g)s 档，应缴 %(a)s 元。")
                % {"y": bill.period // 100, "g": form.cleaned_data["grade"], "a": bill.total},
            )
            return redirect("hall:pension_grade")
    context = {
        "form": form,
        "year": timezone.localdate().year + 1,
        "choices": selectors.pension_choices(account),
        "enrolled": selectors.person_enrollments(account).filter(insurance_type="res_pension").exists(),
    }
    return hall_render(request, "hall/pension_grade.html", context, status=400 if form.errors else 200)


@person_required
@require_http_methods(["GET", "POST"])
def certification(request):
    """待遇资格认证: a benefit recipient confirms once a year that he is alive and entitled."""
    account = request.hall_account
    form = CertifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            done = applications.certification_online(account=account)
        except (ValidationError, ApplicationError) as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已完成 %(d)s 的待遇资格认证。") % {"d": done.certified_on})
            return redirect("hall:certification")
    context = {"form": form, "history": selectors.person_certifications(account)}
    return hall_render(request, "hall/certification.html", context, status=400 if form.errors else 200)


@account_required
@require_http_methods(["GET", "POST"])
def messages_view(request):
    account = request.hall_account
    box = selectors.messages_for(account)
    form = PreferencesForm(request.POST or None, initial={"notify_opt_out": account.notify_opt_out})
    if request.method == "POST" and form.is_valid():
        accounts.notify_opt_out_set(account=account, opt_out=form.cleaned_data["notify_opt_out"])
        messages.success(request, _("通知设置已保存。"))
        return redirect("hall:messages")
    page = list(box[:100])
    box.filter(read_at__isnull=True, pk__in=[m.pk for m in page]).update(read_at=timezone.now())
    return hall_render(request, "hall/messages.html", {"box": page, "form": form})
