"""Pages a clerk works in all day: the home page (my office's queue counts, my recent cases, the window's 通城通办
cases), the employer list and the employer page (staff, enrollments, bills, arrears, cases, buttons for its items)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from contributions import selectors as contributions_selectors
from registry import selectors as registry_selectors
from registry.identifiers import id_number_mask
from registry.jurisdiction import scope_to_user

from .. import selectors
from ..models import Case
from .forms import EmployerListForm, employer_of
from .panels import home_panels_render

EMPLOYER_ITEMS = ("CJ-DW-001", "CJ-DW-002", "BG-DW-002", "CJ-ZG-001")


@login_required
@require_GET
def home(request):
    user = request.user
    context = {"counts": None, "recent": [], "window": []}
    if user.has_perm("cases.view_case"):
        context["counts"] = selectors.queue_counts(user=user)
        context["recent"] = list(selectors.case_list(user=user).filter(created_by=user).order_by("-submitted_at")[:10])
        context["window"] = selectors.window_cases(user=user, limit=10)
    context["panels"] = home_panels_render(request)
    return render(request, "cases/counter/home.html", context)


@login_required
@permission_required("registry.view_employer", raise_exception=True)
@require_GET
def employer_list(request):
    query, page_number = EmployerListForm(request.GET).values()
    employers = registry_selectors.employer_list(user=request.user, query=query)
    if not employers.ordered:
        employers = employers.order_by("name", "id")
    page = Paginator(employers, 30).get_page(page_number)
    return render(request, "cases/counter/employer_list.html", {"page": page, "query": query})


def _enrollment_rows(user, employer):
    enrollments = (
        registry_selectors.enrollment_list(user=user)
        .filter(employer=employer)
        .order_by("person__name", "person_id", "insurance_type", "start_date")
    )
    staff: dict[int, dict] = {}
    for e in enrollments:
        row = staff.setdefault(
            e.person_id,
            {"person": e.person, "masked": id_number_mask(e.person.id_number), "running": [], "ended": []},
        )
        (row["ended"] if e.end_date and e.end_date < timezone.localdate() else row["running"]).append(e)
    return list(enrollments), list(staff.values())


@login_required
@permission_required("registry.view_employer", raise_exception=True)
@require_GET
def employer_detail(request, uid):
    employer = employer_of(request.user, uid)
    if employer is None:
        raise Http404
    enrollments, staff = _enrollment_rows(request.user, employer)
    today = timezone.localdate()
    can_bills = request.user.has_perm("contributions.view_bill")
    bills = list(contributions_selectors.bill_list(user=request.user, employer=employer)[:12]) if can_bills else []
    arrears = (
        list(contributions_selectors.arrears_list(user=request.user, on=today).filter(employer=employer)[:20])
        if can_bills
        else []
    )
    can_orders = request.user.has_perm("contributions.view_paymentorder")
    orders = (
        list(contributions_selectors.payment_order_list(user=request.user, employer=employer)[:10])
        if can_orders
        else []
    )
    penalties = list(contributions_selectors.employer_penalties(employer)[:10]) if can_orders else []
    cases = (
        list(scope_to_user(Case.objects.select_related("item"), request.user).filter(employer=employer)[:20])
        if request.user.has_perm("cases.view_case")
        else []
    )
    return render(
        request,
        "cases/counter/employer_detail.html",
        {
            "employer": employer,
            "staff": [s for s in staff if s["running"]],
            "former": [s for s in staff if not s["running"]],
            "enrollments": enrollments,
            "bills": bills,
            "arrears": arrears,
            "orders": orders,
            "penalties": penalties,
            "cases": cases,
            "items": [i for i in selectors.items_for_intake(user=request.user) if i.code in EMPLOYER_ITEMS],
            "history": registry_selectors.object_history(employer, limit=20),
        },
    )
