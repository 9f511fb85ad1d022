"""Pages of the evaluation: the monthly/yearly report (publish, correct, export), the supervision panel's actions,
the counter tablet rating page and the statistics pages. Input only through form classes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cases.models import Case, RatingChannel
from cases.services import case_escalate, case_rating_create
from funds.reports import report_pdf, report_xlsx
from registry.exceptions import ApplicationError
from registry.jurisdiction import user_sees_everything
from registry.models import Office, OfficeLevel
from registry.replica import replica_view

from . import forms, reports, selectors, services
from .statistics import GROUP_LABELS, TOPICS, statistics_series


def _evaluation(request, form: forms.PeriodForm) -> selectors.Evaluation:
    """The evaluation the form asks for, within the user's jurisdiction (an office outside it is a 404)."""
    office = None
    if form.cleaned_data.get("office"):
        office = selectors.office_for_user(user=request.user, code=form.cleaned_data["office"])
        if office is None:
            raise Http404
    kind, value = form.period()
    if kind == "year":
        return selectors.year_evaluation(year=value, today=timezone.localdate(), user=request.user, office=office)
    return selectors.month_evaluation(month=value, user=request.user, office=office)


@login_required
@permission_required("evaluation.view_evaluationreport", raise_exception=True)
@require_GET
@replica_view  # a statistic / report: read from the replica when one keeps up (registry.replica)
def report(request):
    form = forms.PeriodForm(request.GET)
    evaluation, problem = None, ""
    if form.is_valid():
        try:
            evaluation = _evaluation(request, form)
        except ApplicationError as exc:
            problem = str(exc)
    context = {
        "form": form,
        "evaluation": evaluation,
        "problem": problem,
        "publish_form": forms.PublishForm(initial={"month": f"{evaluation.months[0]:%Y-%m}"}) if evaluation else None,
        "correct_form": forms.CorrectForm(initial={"month": f"{evaluation.months[0]:%Y-%m}"}) if evaluation else None,
        "query": request.GET.urlencode(),
    }
    return render(request, "evaluation/report.html", context)


@login_required
@permission_required("evaluation.view_evaluationreport", raise_exception=True)
@require_GET
@replica_view  # a statistic / report: read from the replica when one keeps up (registry.replica)
def report_export(request, fmt: str):
    form = forms.PeriodForm(request.GET)
    if not form.is_valid():
        messages.error(request, "；".join(m for errors in form.errors.values() for m in errors))
        return redirect("evaluation:report")
    try:
        table = reports.evaluation_report(_evaluation(request, form))
    except ApplicationError as exc:
        messages.error(request, str(exc))
        return redirect("evaluation:report")
    if fmt == "xlsx":
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        body = report_xlsx(table)
    else:
        content_type, body = "application/pdf", report_pdf(table)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{table.filename}.{fmt}"'
    return response


def supervision_panel(request) -> str:
    """The office head's time-limit panel (时限监察) on the clerk's home page (registered in ``apps.py`` with
    cases.counter.panels, so cases does not depend on evaluation). Empty for anyone who may not escalate (only office
    heads and city administrators see it)."""
    user = request.user
    office = getattr(user, "office", None)
    if office is None or not user.has_perm("cases.add_caseescalation"):
        return ""
    context = {
        "office": office,
        "supervision": selectors.supervision_cases(office=office, today=timezone.localdate()),
        "form": forms.EscalateForm(),
    }
    return render_to_string("evaluation/_supervision_panel.html", context, request=request)


def _back_to(month) -> str:
    url = reverse("evaluation:report")
    return f"{url}?month={month:%Y-%m}" if month else url


@login_required
@permission_required("evaluation.add_evaluationreport", raise_exception=True)
@require_POST
def publish(request):
    form = forms.PublishForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(m for errors in form.errors.values() for m in errors))
        return redirect("evaluation:report")
    month = form.cleaned_data["month"]
    try:
        done = services.evaluation_publish(month=month, acting_user=request.user)
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{done.month:%Y-%m} 考核已发布（第 {done.version} 版），当月指标已冻结。")
    return redirect(_back_to(month))


@login_required
@permission_required("evaluation.add_evaluationreport", raise_exception=True)
@require_POST
def correct(request):
    form = forms.CorrectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(m for errors in form.errors.values() for m in errors))
        month = form.cleaned_data.get("month")
        return redirect(_back_to(month))
    month = form.cleaned_data["month"]
    try:
        done = services.evaluation_correct(month=month, acting_user=request.user, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{done.month:%Y-%m} 考核已更正为第 {done.version} 版。")
    return redirect(_back_to(month))


@login_required
@permission_required("cases.add_caseescalation", raise_exception=True)
@require_POST
def escalate(request, uid):
    """Report an overdue case to the office above (from the supervision panel); back to the page it came from."""
    case = Case.objects.visible_to(request.user).filter(uid=uid).first()
    if case is None:
        raise Http404
    form = forms.EscalateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(m for errors in form.errors.values() for m in errors))
        return redirect("home")
    try:
        done = case_escalate(case=case, acting_user=request.user, note=form.cleaned_data["note"])
    except ApplicationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{case.number} 已上报 {done.to_office.name} 督办。")
    return redirect("home")


@login_required
@permission_required("cases.view_case", raise_exception=True)
def tablet(request):
    """The counter tablet rating page: the clerk on duty is logged in, the applicant rates his closed case. The case
    must lie in the clerk's jurisdiction (another district's number is 'not found', as if it did not exist)."""
    form = forms.TabletRatingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        case = Case.objects.visible_to(request.user).filter(number=data["number"]).first()
        if case is None:
            form.add_error("number", "未找到该办件，请核对办件编号。")
        else:
            try:
                case_rating_create(
                    case=case,
                    score=data["score"],
                    comment=data["comment"],
                    channel=RatingChannel.TABLET,
                    acting_user=request.user,
                )
            except ApplicationError as exc:
                form.add_error("number", str(exc))
            else:
                messages.success(request, "感谢您的评价！")
                return redirect("evaluation:tablet")
    return render(request, "evaluation/tablet.html", {"form": form})


def _stat_scope(request, data) -> Office:
    """The area asked for, inside the user's jurisdiction (404 outside it); the user's own office by default."""
    for code in (data.get("township"), data.get("district")):
        if code:
            office = selectors.office_for_user(user=request.user, code=code.strip())
            if office is None:
                raise Http404
            return office
    own = getattr(request.user, "office", None)
    if own is None:
        if not user_sees_everything(request.user):
            raise Http404
        return Office.objects.get(level=OfficeLevel.CITY)
    return own


def _stat_form(request, topic: str) -> forms.StatisticsForm:
    if topic not in TOPICS:
        raise Http404
    groups = [(g, GROUP_LABELS[g]) for g in TOPICS[topic].groups]
    return forms.StatisticsForm(request.GET, groups=groups)


def _series(request, topic: str, form: forms.StatisticsForm):
    data = form.cleaned_data
    scope = _stat_scope(request, data)
    series = statistics_series(
        topic=topic,
        scope=scope,
        first=data["start"],
        last=data["end"],
        group=data["group"],
        insurance=data["insurance"],
    )
    return scope, series


@login_required
@permission_required("evaluation.view_statistics", raise_exception=True)
@require_GET
@replica_view  # a statistic / report: read from the replica when one keeps up (registry.replica)
def statistics(request, topic: str):
    form = _stat_form(request, topic)
    context = {"form": form, "topic": TOPICS[topic], "topics": TOPICS.values(), "query": request.GET.urlencode()}
    if form.is_valid():
        scope, series = _series(request, topic, form)
        context.update(scope=scope, series=series, chart=series.chart())
        context["districts"] = selectors.districts_for_user(user=request.user)
    return render(request, "evaluation/statistics.html", context)


@login_required
@permission_required("evaluation.view_statistics", raise_exception=True)
@require_GET
@replica_view  # a statistic / report: read from the replica when one keeps up (registry.replica)
def statistics_export(request, topic: str):
    form = _stat_form(request, topic)
    if not form.is_valid():
        messages.error(request, "；".join(m for errors in form.errors.values() for m in errors))
        return redirect("evaluation:statistics", topic=topic)
    scope, series = _series(request, topic, form)
    table = reports.statistics_report(series, scope)
    response = HttpResponse(
        report_xlsx(table), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{table.filename}.xlsx"'
    return response
