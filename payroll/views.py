"""Counter pages of the payroll (Chinese): runs with their bank files and returns, the certification due list with
recording a certification, suspensions and resumptions, payee accounts, a person's payment history."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from registry.exceptions import ApplicationError
from registry.identifiers import id_number_mask
from registry.jurisdiction import scope_to_user
from registry.models import Office, OfficeLevel, Person
from registry.pages import form_errors_add, page_number, query_string_without_page

from . import selectors, services
from .forms import (
    AccountForm,
    CertificationForm,
    DueFilterForm,
    RepaymentForm,
    ResumeForm,
    ReturnUploadForm,
    RunStartForm,
    SuspendForm,
)
from .models import (
    BankFile,
    BankReturnJob,
    CertificationChannel,
    PayrollRun,
    Recovery,
    ReturnJobStatus,
    RunStatus,
    Suspension,
    SuspensionReason,
)


@login_required
@permission_required("payroll.view_payrollrun", raise_exception=True)
@require_http_methods(["GET", "POST"])
def run_list(request):
    today = timezone.localdate()
    form = RunStartForm(initial={"period": today.strftime("%Y-%m"), "pay_date": today})
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("payroll.add_payrollrun"):
            raise Http404
        form = RunStartForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                run = services.payroll_run_start(
                    period=d["period"].year * 100 + d["period"].month, pay_date=d["pay_date"], acting_user=request.user
                )
            except (ValidationError, ApplicationError) as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("已发起 %(period)s 的待遇发放。") % {"period": run.period})
                return redirect("payroll_run_list")
        status = 400
    runs = Paginator(selectors.run_list(user=request.user), 20).get_page(page_number(request.GET))
    return render(
        request,
        "payroll/run_list.html",
        {
            "form": form,
            "runs": runs,
            "active": any(r.status in (RunStatus.QUEUED, RunStatus.RUNNING) for r in runs),
            "can_start": request.user.has_perm("payroll.add_payrollrun"),
            "query_string": query_string_without_page(request),
        },
        status=status,
    )


def _form_error(form, exc: Exception) -> None:
    if isinstance(exc, ValidationError):
        form_errors_add(form, exc)
    else:
        form.add_error(None, str(exc))


def _run_or_404(request, uid) -> PayrollRun:
    try:
        return selectors.run_get(user=request.user, uid=uid)
    except PayrollRun.DoesNotExist:
        raise Http404 from None


@login_required
@permission_required("payroll.view_payrollrun", raise_exception=True)
@require_GET
def run_detail(request, uid, upload_form=None, upload_for=None, status=200):
    run = _run_or_404(request, uid)
    files = list(selectors.run_bank_files(run))
    return render(
        request,
        "payroll/run_detail.html",
        {
            "run": run,
            "files": files,
            "files_total": sum((f.total for f in files), 0),
            "postings": selectors.run_postings(run),
            "posted_total": sum((p.amount for p in selectors.run_postings(run)), 0),
            "problems": selectors.run_problem_lines(user=request.user, run=run)[:200],
            "upload_form": upload_form or ReturnUploadForm(),
            "upload_for": upload_for,
            "active": run.status in (RunStatus.QUEUED, RunStatus.RUNNING),
            "can_change": request.user.has_perm("payroll.change_bankfile"),
        },
        status=status,
    )


def _bank_file_or_404(request, pk) -> BankFile:
    try:
        return selectors.bank_file_get(user=request.user, pk=pk)
    except BankFile.DoesNotExist:
        raise Http404 from None


@login_required
@permission_required("payroll.view_bankfile", raise_exception=True)
@require_GET
def bank_file_download(request, pk):
    bank_file = _bank_file_or_404(request, pk)
    response = HttpResponse(services.bank_file_csv(bank_file), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{bank_file.number}.csv"'
    return response


@login_required
@permission_required("payroll.change_bankfile", raise_exception=True)
@require_POST
def bank_file_return(request, pk):
    """Keep the return file and queue its recording (a Celery task); the job's page shows the outcome."""
    bank_file = _bank_file_or_404(request, pk)
    form = ReturnUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.bank_return_upload(
                bank_file=bank_file, name=upload.name, data=upload.read(), acting_user=request.user
            )
        except (ValidationError, ApplicationError) as exc:
            _form_error(form, exc)
        else:
            return redirect("payroll_return_job", job.uid)
    request.method = "GET"
    return run_detail(request, bank_file.run.uid, upload_form=form, upload_for=bank_file.pk, status=400)


@login_required
@permission_required("payroll.view_bankfile", raise_exception=True)
@require_GET
def return_job(request, uid):
    """A return file's job: queued, being recorded, recorded (the file's figures) or refused (the problems)."""
    try:
        job = selectors.return_job_get(user=request.user, uid=uid)
    except BankReturnJob.DoesNotExist:
        raise Http404 from None
    return render(
        request,
        "payroll/return_job.html",
        {"job": job, "active": job.status in (ReturnJobStatus.QUEUED, ReturnJobStatus.PROCESSING)},
    )


@login_required
@permission_required("payroll.change_bankfile", raise_exception=True)
@require_POST
def run_reissue(request, uid):
    run = _run_or_404(request, uid)
    try:
        files = services.payroll_reissue(run=run, acting_user=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("已生成 %(n)d 个重发文件。") % {"n": len(files)})
    return redirect("payroll_run_detail", run.uid)


def _person_or_error(request, form) -> Person | None:
    try:
        return selectors.person_by_id_number(
            user=request.user, id_number=form.cleaned_data["id_number"].strip().upper()
        )
    except Person.DoesNotExist:
        form.add_error("id_number", _("在您的辖区内没有找到该公民身份号码的人员。"))
        return None


def _offices(user) -> list[Office]:
    return list(scope_to_user(Office.objects.filter(level__lte=OfficeLevel.TOWNSHIP), user).order_by("path"))


@login_required
@permission_required("payroll.view_certification", raise_exception=True)
@require_http_methods(["GET", "POST"])
def certification_due_list(request):
    today = timezone.localdate()
    form = CertificationForm(initial={"certified_on": today})
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("payroll.add_certification"):
            raise Http404
        form = CertificationForm(request.POST)
        person = _person_or_error(request, form) if form.is_valid() else None
        if person is not None:
            try:
                services.certification_record(
                    person=person,
                    certified_on=form.cleaned_data["certified_on"],
                    channel=CertificationChannel.COUNTER,
                    acting_user=request.user,
                    note=form.cleaned_data["note"],
                )
            except (ValidationError, ApplicationError) as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("已登记 %(name)s 的资格认证。") % {"name": person.name})
                return redirect("payroll_certification_due")
        status = 400
    offices = _offices(request.user)
    filter_form = DueFilterForm(request.GET)
    code = filter_form.cleaned_data["office"] if filter_form.is_valid() else ""
    office = next((o for o in offices if o.code == code), None)
    rows = selectors.certification_due(user=request.user, on=today, office=office)
    return render(
        request,
        "payroll/certification.html",
        {
            "form": form,
            "rows": [(r, id_number_mask(r.id_number)) for r in rows],
            "offices": offices,
            "office": office,
            "recent": selectors.certification_list(user=request.user)[:20],
            "can_add": request.user.has_perm("payroll.add_certification"),
            "due_unavailable": not selectors.certification_due_available(),
        },
        status=status,
    )


@login_required
@permission_required("payroll.view_suspension", raise_exception=True)
@require_http_methods(["GET", "POST"])
def suspension_list(request):
    form = SuspendForm()
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("payroll.add_suspension"):
            raise Http404
        form = SuspendForm(request.POST)
        person = _person_or_error(request, form) if form.is_valid() else None
        if person is not None and _suspend(request, form, person):
            return redirect("payroll_suspensions")
        status = 400
    return render(
        request,
        "payroll/suspensions.html",
        {
            "form": form,
            "suspensions": selectors.suspension_list(user=request.user)[:100],
            "recoveries": selectors.recovery_list(user=request.user)[:50],
            "resume_form": ResumeForm(),
            "can_change": request.user.has_perm("payroll.change_suspension"),
            "can_add": request.user.has_perm("payroll.add_suspension"),
        },
        status=status,
    )


def _suspend(request, form: SuspendForm, person: Person) -> bool:
    d = form.cleaned_data
    try:
        with transaction.atomic():  # every award of the person, or none
            _suspend_awards(request, person, d)
    except ObjectDoesNotExist:
        form.add_error("id_number", _("在您的辖区内没有找到该人员的待遇。"))
        return False
    except (ValidationError, ApplicationError) as exc:
        _form_error(form, exc)
        return False
    messages.success(request, _("已登记 %(name)s 的停发。") % {"name": person.name})
    return True


def _suspend_awards(request, person: Person, d: dict[str, Any]) -> None:
    if d["reason"] == SuspensionReason.DEATH:
        services.person_death_record(person=person, died_on=d["died_on"], acting_user=request.user)
        return
    awards = list(selectors.person_awards(person=person))
    if not awards:
        raise ValidationError({"id_number": [_("该人员没有社会保险待遇。")]})
    for award in awards:
        services.suspension_record(
            award=award, reason=d["reason"], from_month=d["from_month"], acting_user=request.user, note=d["note"]
        )


@login_required
@permission_required("payroll.view_recovery", raise_exception=True)
@require_http_methods(["GET", "POST"])
def recovery_detail(request, pk):
    """One overpaid benefit to recover: the months, what came back (receipts), and recording money received back."""
    try:
        recovery = selectors.recovery_get(user=request.user, pk=pk)
    except Recovery.DoesNotExist:
        raise Http404 from None
    can_add = request.user.has_perm("payroll.add_recoveryrepayment")
    form = RepaymentForm(initial={"received_on": timezone.localdate()})
    if request.method == "POST":
        if not can_add:
            raise Http404
        form = RepaymentForm(request.POST)
        if form.is_valid():
            try:
                services.recovery_repayment_record(recovery=recovery, acting_user=request.user, **form.cleaned_data)
            except (ValidationError, ApplicationError) as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("已登记追回到账，并记入基金。"))
                return redirect("payroll_recovery_detail", pk=recovery.pk)
    repaid = services.recovery_repaid(recovery)
    return render(
        request,
        "payroll/recovery.html",
        {"recovery": recovery, "repaid": repaid, "owed": recovery.amount - repaid, "form": form, "can_add": can_add},
        status=400 if form.errors else 200,
    )


@login_required
@permission_required("payroll.change_suspension", raise_exception=True)
@require_POST
def suspension_resume(request, pk):
    try:
        suspension = selectors.suspension_get(user=request.user, pk=pk)
    except Suspension.DoesNotExist:
        raise Http404 from None
    form = ResumeForm(request.POST)
    if form.is_valid():
        try:
            services.suspension_resume(
                suspension=suspension,
                resumed_month=form.cleaned_data["resumed_month"],
                acting_user=request.user,
                note=form.cleaned_data["note"],
            )
        except (ValidationError, ApplicationError) as exc:
            for message in getattr(exc, "messages", [str(exc)]):
                messages.error(request, message)
        else:
            messages.success(request, _("已恢复发放。"))
    else:
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
    return redirect("payroll_suspensions")


@login_required
@permission_required("payroll.change_payeeaccount", raise_exception=True)
@require_http_methods(["GET", "POST"])
def account_edit(request):
    form = AccountForm()
    status = 200
    if request.method == "POST":
        form = AccountForm(request.POST)
        person = _person_or_error(request, form) if form.is_valid() else None
        if person is not None:
            try:
                services.payee_account_save(
                    person=person,
                    bank=form.cleaned_data["bank"],
                    account_number=form.cleaned_data["account_number"],
                    holder_name=form.cleaned_data["holder_name"],
                    holder_id_number=form.cleaned_data["holder_id_number"],
                    acting_user=request.user,
                )
            except (ValidationError, ApplicationError) as exc:
                _form_error(form, exc)
            else:
                messages.success(request, _("已保存 %(name)s 的待遇发放账户。") % {"name": person.name})
                return redirect("payroll_person_history", person.uid)
        status = 400
    return render(request, "payroll/account.html", {"form": form}, status=status)


@login_required
@permission_required("payroll.view_payrollline", raise_exception=True)
@require_GET
def person_history(request, uid):
    try:
        person = selectors.person_get(user=request.user, uid=uid)
    except (Person.DoesNotExist, ValidationError):
        raise Http404 from None
    lines = Paginator(selectors.person_payments(user=request.user, person=person), 24).get_page(
        page_number(request.GET)
    )
    return render(
        request,
        "payroll/person_history.html",
        {
            "person": person,
            "masked_id": id_number_mask(person.id_number),
            "lines": lines,
            "awards": selectors.person_awards(person=person),
            "suspensions": selectors.suspension_list(user=request.user).filter(award__person=person),
            "query_string": query_string_without_page(request),
        },
    )
