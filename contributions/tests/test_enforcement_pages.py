"""Counter pages of the enforcement of arrears: late-fee waiver propose/approve, orders to pay (bulk issue, PDF),
penalty propose/approve; errors next to their fields, the proposer refused in place, nothing written."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contributions.models import Bill, DecisionStatus, LateFeeWaiver, PaymentOrder, PenaltyDecision
from contributions.tests.factories import bill_employer, declare, employ, huangyan_employer, huangyan_parameters_2025
from registry import roles
from registry.tests.factories import UserFactory, office

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


def login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def setup(db):
    huangyan_parameters_2025()
    maker = UserFactory(username="hy_maker", office=office("331003"), roles=[roles.REVIEWER])
    checker = UserFactory(username="hy_checker", office=office("331003"), roles=[roles.OFFICE_HEAD])
    employer = huangyan_employer()
    person = employ(employer)
    declare(employer, 202503, {person: "5000"}, maker)
    bill = bill_employer(employer, 202503, maker)
    return {"maker": maker, "checker": checker, "employer": employer, "bill": bill}


def test_waiver_propose_with_errors_next_to_fields_then_approved_by_another(setup):
    bill, maker, checker = setup["bill"], login(setup["maker"]), login(setup["checker"])
    url = reverse("contributions_late_fee_waivers", kwargs={"uid": bill.uid})
    page = maker.get(url)
    assert page.status_code == 200 and "提出减免" in page.content.decode()
    bad = maker.post(url, {"amount": "999999", "reason": "困难"})
    assert bad.status_code == 400 and "超过可减免的滞纳金" in bad.content.decode()
    assert not LateFeeWaiver.objects.exists()
    assert maker.post(url, {"amount": "1.00", "reason": "受灾"}).status_code == 302
    waiver = LateFeeWaiver.objects.get()
    decide = reverse("contributions_late_fee_waiver_decide", kwargs={"uid": bill.uid})
    own = maker.post(decide, {"target": waiver.uid, "decision": "approve", "note": ""})
    assert own.status_code == 400 and "提出人不能审批" in own.content.decode()
    assert LateFeeWaiver.objects.get().status == DecisionStatus.PROPOSED  # nothing written
    assert checker.post(decide, {"target": waiver.uid, "decision": "approve", "note": "同意"}).status_code == 302
    assert LateFeeWaiver.objects.get().status == DecisionStatus.APPROVED
    assert "已批准" in checker.get(url).content.decode()


def test_orders_bulk_issue_pdf_and_penalty_with_two_people(setup):
    maker, checker = login(setup["maker"]), login(setup["checker"])
    listing = reverse("contributions_payment_orders")
    assert maker.post(listing, {"office": "331003"}).status_code == 302
    order = PaymentOrder.objects.get()
    assert order.employer == setup["employer"] and order.amount == setup["bill"].total
    assert order.number in maker.get(listing).content.decode()
    pdf = maker.get(reverse("contributions_payment_order_pdf", kwargs={"uid": order.uid}))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    # The limit has not passed (the order is issued today): no penalty yet.
    detail = reverse("contributions_payment_order", kwargs={"uid": order.uid})
    early = maker.post(detail, {"multiple": "2", "reason": "逾期"})
    assert early.status_code == 400 and "期限届满后" in early.content.decode()
    PaymentOrder.objects.filter(pk=order.pk).update(issued_on=D(2025, 5, 1), pay_by=D(2025, 5, 12))
    too_much = maker.post(detail, {"multiple": "3.5", "reason": "逾期"})
    assert too_much.status_code == 400 and "1 至 3 倍" in too_much.content.decode()
    assert not PenaltyDecision.objects.exists()
    assert maker.post(detail, {"multiple": "1.5", "reason": "逾期仍不缴纳"}).status_code == 302
    penalty = PenaltyDecision.objects.get()
    assert penalty.amount == (setup["bill"].total * Y("1.5")).quantize(Y("0.01"))
    decide = reverse("contributions_penalty_decide", kwargs={"uid": order.uid})
    # The maker (a reviewer) may not approve penalties at all; the office head approves.
    assert maker.post(decide, {"target": penalty.uid, "decision": "approve"}).status_code == 403
    assert checker.post(decide, {"target": penalty.uid, "decision": "approve", "note": "同意"}).status_code == 302
    assert PenaltyDecision.objects.get().status == DecisionStatus.APPROVED
    # The employer's page at the counter shows the penalty.
    employer_page = checker.get(reverse("counter_employer_detail", kwargs={"uid": setup["employer"].uid}))
    assert "罚款决定" in employer_page.content.decode() and order.number in employer_page.content.decode()


def test_a_head_who_proposed_cannot_approve_his_own_penalty(setup):
    head = login(setup["checker"])
    PaymentOrder.objects.all().delete()
    head.post(reverse("contributions_payment_orders"), {"office": "331003"})
    order = PaymentOrder.objects.get()
    PaymentOrder.objects.filter(pk=order.pk).update(issued_on=D(2025, 5, 1), pay_by=D(2025, 5, 12))
    detail = reverse("contributions_payment_order", kwargs={"uid": order.uid})
    assert head.post(detail, {"multiple": "1", "reason": "逾期"}).status_code == 302
    penalty = PenaltyDecision.objects.get()
    own = head.post(
        reverse("contributions_penalty_decide", kwargs={"uid": order.uid}),
        {"target": penalty.uid, "decision": "approve"},
    )
    assert own.status_code == 400 and "提出人不能审批" in own.content.decode()
    assert PenaltyDecision.objects.get().status == DecisionStatus.PROPOSED


def test_bill_page_documents_the_moved_due_date(setup):
    maker = login(setup["maker"])
    bill = Bill.objects.get(pk=setup["bill"].pk)  # March 2025: due 15 April 2025, a Tuesday
    page = maker.get(reverse("contributions_bill_detail", kwargs={"uid": bill.uid})).content.decode()
    assert 'data-testid="due-note"' not in page and "减免申请与审批" in page


def test_the_order_list_and_the_waiver_page_read_a_fixed_number_of_queries(setup):
    maker = login(setup["maker"])
    bill = setup["bill"]

    def make_order(n):
        order = PaymentOrder.objects.create(
            number=f"台社责缴〔2025〕331003-T{n}",
            employer=setup["employer"],
            office=bill.office,
            amount=bill.total,
            issued_on=D(2025, 5, 1),
            pay_by=D(2025, 5, 12),
            issued_by=setup["maker"],
        )
        order.bills.add(bill)

    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert maker.get(url).status_code == 200
        return len(ctx.captured_queries)

    make_order(1)
    listing = reverse("contributions_payment_orders")
    one = count(listing)
    make_order(2)
    make_order(3)
    assert count(listing) == one
    waivers = reverse("contributions_late_fee_waivers", kwargs={"uid": bill.uid})
    first = count(waivers)
    for amount in ("0.01", "0.02"):
        LateFeeWaiver.objects.create(bill=bill, amount=Y(amount), reason="测试", proposed_by=setup["maker"])
    assert count(waivers) == first
