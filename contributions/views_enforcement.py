"""Clerk pages of the enforcement of arrears (社会保险法第八十六条): late-fee waivers (减免) proposed and approved by
two people, orders to pay within a time limit (责令限期缴纳通知) issued in bulk with their PDF, penalty decisions
proposed and approved by two people. Errors next to their fields; a refusal (the proposer approving) in place."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contributions import selectors, services
from contributions.forms import (
    BackdatedConfirmForm,
    DecisionForm,
    LateFeeWaiverForm,
    PaymentOrderIssueForm,
    PenaltyProposeForm,
)
from contributions.models import Bill, BillKind, DecisionStatus, LateFeeWaiver, PaymentOrder, PenaltyDecision
from contributions.pdf import payment_order_pdf
from contributions.services.backdated import (
    backdated_corrections_apply,
    backdated_corrections_preview,
    backdated_rate_values,
)
from registry.exceptions import ApplicationError, error_messages
from registry.jurisdiction import scope_to_user
from registry.models import Office, OfficeLevel
from registry.pages import form_errors_add, page_number


def _bill_or_404(request, uid) -> Bill:
    try:
        return selectors.bill_get(user=request.user, uid=uid)
    except (Bill.DoesNotExist, ValidationError, ValueError):
        raise Http404 from None


def _waiver_page(request, bill: Bill, *, form=None, decision=None, status=200):
    today = timezone.localdate()
    fee = selectors.late_fees_for([bill], on=today)[bill.pk] if bill.kind != BillKind.REFUND else None
    return render(
        request,
        "contributions/late_fee_waivers.html",
        {
            "bill": bill,
            "fee": fee,
            "today": today,
            "late_fee_bill": Bill.objects.filter(fee_for=bill).first(),
            "waivers": list(selectors.late_fee_waiver_list(user=request.user, bill=bill)),
            "form": form or LateFeeWaiverForm(),
            "decision": decision or DecisionForm(),
            "can_propose": request.user.has_perm("contributions.add_latefeewaiver"),
            "can_decide": request.user.has_perm("contributions.change_latefeewaiver"),
        },
        status=status,
    )


@login_required
@permission_required("contributions.view_latefeewaiver", raise_exception=True)
@require_http_methods(["GET", "POST"])
def late_fee_waivers(request, uid):
    bill = _bill_or_404(request, uid)
    if request.method == "GET":
        return _waiver_page(request, bill)
    if not request.user.has_perm("contributions.add_latefeewaiver"):
        raise Http404
    form = LateFeeWaiverForm(request.POST)
    if form.is_valid():
        try:
            services.late_fee_waiver_propose(
                bill=bill,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, _("已提出滞纳金减免，待另一名经办人审批。"))
            return redirect("contributions_late_fee_waivers", uid=bill.uid)
    return _waiver_page(request, bill, form=form, status=400)


def _decision_post(request, *, proposals, decide, success: str, done_url: str, page):
    """A second person approves or rejects a proposal (waiver or penalty): the form names the proposal among
    ``proposals``; the service refuses the proposer (ApplicationError) and a decided proposal (ValidationError),
    shown on the page. Redirects to ``done_url`` when decided."""
    form = DecisionForm(request.POST)
    if form.is_valid():
        proposal = proposals.filter(uid=form.cleaned_data["target"]).first()
        if proposal is None:
            raise Http404
        try:
            decide(proposal, approve=form.cleaned_data["decision"] == "approve", note=form.cleaned_data["note"])
        except ValidationError as exc:
            form_errors_add(form, exc)
        except ApplicationError as exc:  # the proposer approving his own proposal
            form.add_error(None, error_messages(exc))
        else:
            messages.success(request, success)
            return redirect(done_url)
    return page(decision=form, status=400 if form.errors else 200)


@login_required
@permission_required("contributions.change_latefeewaiver", raise_exception=True)
@require_POST
def late_fee_waiver_decide(request, uid):
    bill = _bill_or_404(request, uid)
    return _decision_post(
        request,
        proposals=LateFeeWaiver.objects.filter(bill=bill),
        decide=lambda waiver, **decision: services.late_fee_waiver_decide(
            waiver=waiver, acting_user=request.user, **decision
        ),
        success=_("已审批滞纳金减免。"),
        done_url=reverse("contributions_late_fee_waivers", kwargs={"uid": bill.uid}),
        page=lambda **kw: _waiver_page(request, bill, **kw),
    )


# ---------------------------------------------------------------------------------------------
# Orders to pay and penalties.


def _issue_offices(user) -> list[Office]:
    """The offices a user may issue orders for: the city, districts and townships in his jurisdiction."""
    levels = [OfficeLevel.CITY, OfficeLevel.DISTRICT, OfficeLevel.TOWNSHIP]
    return list(scope_to_user(Office.objects.filter(level__in=levels), user).order_by("path")[:200])


@login_required
@permission_required("contributions.view_paymentorder", raise_exception=True)
@require_http_methods(["GET", "POST"])
def payment_orders(request):
    offices = _issue_offices(request.user)
    form = PaymentOrderIssueForm(initial={"office": offices[0].code if offices else ""}, offices=offices)
    if request.method == "POST":
        if not request.user.has_perm("contributions.add_paymentorder"):
            raise Http404
        form = PaymentOrderIssueForm(request.POST, offices=offices)
        if form.is_valid():
            try:
                made = services.payment_orders_issue(
                    office=form.offices[form.cleaned_data["office"]], acting_user=request.user
                )
            except ValidationError as exc:
                form_errors_add(form, exc)
            else:
                messages.success(request, _("已发出 %(n)d 份责令限期缴纳通知。") % {"n": len(made)})
                return redirect("contributions_payment_orders")
    page = Paginator(selectors.payment_order_list(user=request.user), 30).get_page(page_number(request.GET))
    return render(
        request,
        "contributions/payment_orders.html",
        {"form": form, "page": page, "can_issue": request.user.has_perm("contributions.add_paymentorder")},
        status=400 if form.errors else 200,
    )


def _order_or_404(request, uid) -> PaymentOrder:
    try:
        return selectors.payment_order_list(user=request.user).get(uid=uid)
    except (PaymentOrder.DoesNotExist, ValidationError, ValueError):
        raise Http404 from None


def _order_page(request, order: PaymentOrder, *, form=None, decision=None, status=200):
    today = timezone.localdate()
    return render(
        request,
        "contributions/payment_order.html",
        {
            "order": order,
            "bills": list(selectors.with_amounts(order.bills.all()).order_by("due_date", "id")),
            "unpaid": services.order_unpaid(order),
            "penalties": list(
                PenaltyDecision.objects.filter(order=order).select_related("proposed_by", "decided_by").order_by("-id")
            ),
            "past_limit": today > order.pay_by,
            "form": form or PenaltyProposeForm(initial={"multiple": "1"}),
            "decision": decision or DecisionForm(),
            "can_propose": request.user.has_perm("contributions.add_penaltydecision"),
            "can_decide": request.user.has_perm("contributions.change_penaltydecision"),
            "proposed": DecisionStatus.PROPOSED,
        },
        status=status,
    )


@login_required
@permission_required("contributions.view_paymentorder", raise_exception=True)
@require_http_methods(["GET", "POST"])
def payment_order(request, uid):
    order = _order_or_404(request, uid)
    if request.method == "GET":
        return _order_page(request, order)
    if not request.user.has_perm("contributions.add_penaltydecision"):
        raise Http404
    form = PenaltyProposeForm(request.POST)
    if form.is_valid():
        try:
            services.penalty_propose(
                order=order,
                multiple=form.cleaned_data["multiple"],
                reason=form.cleaned_data["reason"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, _("已提出罚款决定，待负责人审批。"))
            return redirect("contributions_payment_order", uid=order.uid)
    return _order_page(request, order, form=form, status=400)


@login_required
@permission_required("contributions.change_penaltydecision", raise_exception=True)
@require_POST
def penalty_decide(request, uid):
    order = _order_or_404(request, uid)
    return _decision_post(
        request,
        proposals=PenaltyDecision.objects.filter(order=order),
        decide=lambda penalty, **decision: services.penalty_decide(
            penalty=penalty, acting_user=request.user, **decision
        ),
        success=_("已审批罚款决定。"),
        done_url=reverse("contributions_payment_order", kwargs={"uid": order.uid}),
        page=lambda **kw: _order_page(request, order, **kw),
    )


@login_required
@permission_required("contributions.view_paymentorder", raise_exception=True)
@require_GET
def payment_order_pdf_view(request, uid):
    order = _order_or_404(request, uid)
    bills = list(selectors.with_amounts(order.bills.all()).order_by("due_date", "id"))
    # The amounts of the day of issue are those stored on the order; each bill shows what is open today.
    response = HttpResponse(payment_order_pdf(order, bills), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="payment-order-{order.uid}.pdf"'
    return response


# ---------------------------------------------------------------------------------------------
# A rate back-dated into billed months: preview, then confirm the corrections.


@login_required
@permission_required("contributions.add_billrun", raise_exception=True)
@require_GET
def backdated_rates(request):
    return render(
        request, "contributions/backdated_rates.html", {"values": list(backdated_rate_values(user=request.user))}
    )


@login_required
@permission_required("contributions.add_billrun", raise_exception=True)
@require_http_methods(["GET", "POST"])
def backdated_rate(request, pk):
    value = next((v for v in backdated_rate_values(user=request.user) if v.pk == pk), None)
    if value is None:
        raise Http404
    form = BackdatedConfirmForm(request.POST) if request.method == "POST" else BackdatedConfirmForm()
    if request.method == "POST" and form.is_valid():
        try:
            made = backdated_corrections_apply(value=value, acting_user=request.user)
        except ValidationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, _("已生成 %(n)d 张补缴或退费账单。") % {"n": len(made)})
            return redirect("contributions_backdated_rate", pk=value.pk)
    try:
        preview = backdated_corrections_preview(value=value, user=request.user)
    except ValidationError as exc:
        preview = []
        form_errors_add(form, exc)
    return render(
        request,
        "contributions/backdated_rate.html",
        {"value": value, "preview": preview, "form": form},
        status=400 if form.errors else 200,
    )
