"""Admin of contributions: read-only evidence, the stuck-run action, declaration-line import/export."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
import tablib
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contributions.models import (
    Bill,
    BillRun,
    BillRunScope,
    BillRunStatus,
    Declaration,
    DeclarationLine,
    Payment,
    PaymentAllocation,
    ResidentPensionChoice,
    WorkInjuryFloat,
)
from contributions.resources import DeclarationLineResource
from contributions.tests.factories import (
    bill_employer,
    declare,
    employ,
    huangyan_employer,
    huangyan_parameters_2025,
    pay,
)
from registry import roles
from registry.tests.factories import PersonFactory, UserFactory, office, township_of
from registry.tests.helpers import page_client_for

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal
MODELS = [
    Bill,
    BillRun,
    Payment,
    PaymentAllocation,
    Declaration,
    DeclarationLine,
    WorkInjuryFloat,
    ResidentPensionChoice,
]


@pytest.fixture
def params(db):
    huangyan_parameters_2025()


@pytest.fixture
def head(params):
    """A 黄岩 office head with admin access."""
    return UserFactory(username="hy_head", office=office("331003"), roles=[roles.OFFICE_HEAD], is_staff=True)


@pytest.fixture
def city(params):
    return UserFactory(username="city_boss", office=office("331000"), roles=[roles.CITY_ADMIN], is_staff=True)


def url(model, view, *args):
    return reverse(f"admin:contributions_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def billed(head):
    employer = huangyan_employer()
    person = employ(employer)
    employ(employer)
    declare(employer, 202503, {person: "2000"}, head)
    bill = bill_employer(employer, 202503, head)
    pay(bill, "100.00", D(2025, 4, 1), head)
    return bill


def test_every_model_is_registered_with_jurisdiction(city, billed):
    from registry.admin_mixins import JurisdictionAdminMixin

    client = page_client_for(city)
    for model in MODELS:
        assert isinstance(admin.site._registry[model], JurisdictionAdminMixin), model
        response = client.get(url(model, "changelist"))
        assert response.status_code == 200, model


def test_bills_payments_and_allocations_are_read_only(city, billed):
    client = page_client_for(city)
    for model in (Bill, Payment, PaymentAllocation, BillRun, Declaration, DeclarationLine, ResidentPensionChoice):
        assert client.get(url(model, "add")).status_code == 403, model
    payment = Payment.objects.get()
    for model, obj in ((Bill, billed), (Payment, payment), (BillRun, BillRun.objects.get())):
        page = client.get(url(model, "change", obj.pk))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode(), model
        assert client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    bill_page = client.get(url(Bill, "change", billed.pk)).content.decode()
    assert "账单险种合计" in bill_page and "账单明细" in bill_page
    assert "到账分配" in client.get(url(Payment, "change", payment.pk)).content.decode()
    assert Bill.objects.filter(pk=billed.pk).exists()


def test_bill_change_page_query_count_does_not_grow_with_lines(city, head):
    small_employer = huangyan_employer()
    employ(small_employer)
    small = bill_employer(small_employer, 202503, head)
    big_employer = huangyan_employer()
    for _ in range(5):
        employ(big_employer)
    big = bill_employer(big_employer, 202503, head)
    client = page_client_for(city)

    def count(obj):
        client.get(url(Bill, "change", obj.pk))
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(Bill, "change", obj.pk)).status_code == 200
        return len(ctx.captured_queries)

    assert count(small) == count(big)


def test_mark_a_stuck_run_failed(head):
    stuck = BillRun.objects.create(
        period=202503, scope=BillRunScope.DISTRICT, office=office("331003"), status=BillRunStatus.RUNNING
    )
    finished = BillRun.objects.create(
        period=202502, scope=BillRunScope.DISTRICT, office=office("331003"), status=BillRunStatus.DONE
    )
    client = page_client_for(head)
    response = client.post(
        url(BillRun, "changelist"),
        {"action": "mark_failed", "_selected_action": [stuck.pk, finished.pk]},
        follow=True,
    )
    assert response.status_code == 200
    stuck.refresh_from_db()
    finished.refresh_from_db()
    assert stuck.status == BillRunStatus.FAILED and "管理后台标记失败" in stuck.error
    assert finished.status == BillRunStatus.DONE
    assert "未作处理" in response.content.decode()


def test_the_action_needs_the_change_permission(params):
    auditor = UserFactory(office=office("331003"), roles=[roles.AUDITOR], is_staff=True)
    run = BillRun.objects.create(period=202503, scope=BillRunScope.DISTRICT, office=office("331003"))
    client = page_client_for(auditor)
    page = client.get(url(BillRun, "changelist"))
    assert page.status_code == 200
    assert "mark_failed" not in page.content.decode()
    client.post(url(BillRun, "changelist"), {"action": "mark_failed", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == BillRunStatus.QUEUED


def test_work_injury_float_is_editable_within_jurisdiction(city, params):
    employer = huangyan_employer()
    client = page_client_for(city)
    response = client.post(
        url(WorkInjuryFloat, "add"),
        {
            "employer": employer.pk,
            "ratio": "0.80",
            "valid_from": "2025-01-01",
            "valid_to": "",
            "basis": "上年度工伤发生率低",
        },
    )
    assert response.status_code == 302, response.content.decode()
    grade = WorkInjuryFloat.objects.get()
    assert grade.ratio == Y("0.80")
    assert grade.history.get().history_user == city
    huangyan_head = UserFactory(office=office("331003"), roles=[roles.CITY_ADMIN], is_staff=True)
    luqiao_employer = huangyan_employer(office=township_of("331004"))
    response = page_client_for(huangyan_head).post(
        url(WorkInjuryFloat, "add"), {"employer": luqiao_employer.pk, "ratio": "1.20", "valid_from": "2025-01-01"}
    )
    assert response.status_code == 200  # the form refuses the other district's employer
    assert WorkInjuryFloat.objects.count() == 1


# --- import / export of declaration lines -----------------------------------------------------


def _dataset(rows):
    data = tablib.Dataset(headers=["统一社会信用代码", "所属期", "公民身份号码", "申报基数"])
    for row in rows:
        data.append(row)
    return data


def test_import_of_lines_goes_through_the_declaration_service(head):
    employer = huangyan_employer()
    a, b = employ(employer), employ(employer)
    data = _dataset(
        [[employer.credit_code, "202503", a.id_number, "5000"], [employer.credit_code, "202503", b.id_number, "99999"]]
    )
    result = DeclarationLineResource(user=head).import_data(data, dry_run=False, use_transactions=True, user=head)
    assert not result.has_errors() and not result.has_validation_errors()
    lines = {line.person: line for line in DeclarationLine.objects.all()}
    assert lines[a].base == Y("5000.00")
    assert (lines[b].base, lines[b].clamp) == (Y("18000.00"), "ceiling")
    assert Declaration.objects.get().channel == "file"


def test_import_with_a_bad_row_is_refused_as_a_whole(head):
    employer = huangyan_employer()
    a = employ(employer)
    stranger = PersonFactory(residence_office=township_of("331003"))
    luqiao_employer = huangyan_employer(office=township_of("331004"))
    data = _dataset(
        [
            [employer.credit_code, "202503", a.id_number, "5000"],
            [employer.credit_code, "202503", stranger.id_number, "5000"],
            [employer.credit_code, "209901", a.id_number, "5000"],
            [luqiao_employer.credit_code, "202503", a.id_number, "5000"],
            [employer.credit_code, "202503", "123", "5000"],
            [employer.credit_code, "202503", a.id_number, "abc"],
        ]
    )
    result = DeclarationLineResource(user=head).import_data(
        data, dry_run=False, use_transactions=True, rollback_on_validation_errors=True, user=head
    )
    assert result.has_validation_errors()
    invalid = {row.number: row.error_dict for row in result.invalid_rows}
    assert set(invalid) == {2, 3, 4, 5, 6}
    assert "未在本单位参加职工保险" in " ".join(invalid[2]["申报基数"])
    assert "尚未到来" in " ".join(invalid[3]["所属期"])
    assert "不在您的辖区内" in " ".join(invalid[4]["统一社会信用代码"])
    assert "公民身份号码" in invalid[5]
    assert "不是数字" in " ".join(invalid[6]["申报基数"])
    assert Declaration.objects.count() == 0
    assert DeclarationLine.objects.count() == 0


def test_admin_import_flow_and_masked_export(head):
    employer = huangyan_employer()
    a = employ(employer)
    client = page_client_for(head)
    model_admin = admin.site._registry[DeclarationLine]
    formats = model_admin.get_import_formats()
    csv_index = next(i for i, f in enumerate(formats) if f().get_title() == "csv")
    good = f"统一社会信用代码,所属期,公民身份号码,申报基数\n{employer.credit_code},202503,{a.id_number},6000\n"
    bad = f"统一社会信用代码,所属期,公民身份号码,申报基数\n{employer.credit_code},202503,{a.id_number},-1\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    refused = client.post(
        url(DeclarationLine, "import"),
        {"format": csv_index, "import_file": SimpleUploadedFile("lines.csv", bad.encode("utf-8"))},
    )
    assert refused.status_code == 200
    assert "缴费基数必须大于 0" in refused.content.decode()
    assert 'name="import_file_name"' not in refused.content.decode()
    assert DeclarationLine.objects.count() == 0
    preview = client.post(
        url(DeclarationLine, "import"),
        {"format": csv_index, "import_file": SimpleUploadedFile("lines.csv", good.encode("utf-8"))},
    )
    html = preview.content.decode()
    assert DeclarationLine.objects.count() == 0  # the dry run wrote nothing
    confirm = {
        name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
        for name in ("import_file_name", "original_file_name", "format")
    }
    resource = re.search(r'name="resource" value="([^"]*)"', html)
    if resource:
        confirm["resource"] = resource.group(1)
    done = client.post(url(DeclarationLine, "process_import"), confirm)
    assert done.status_code == 302
    assert DeclarationLine.objects.get().base == Y("6000.00")
    exported = DeclarationLineResource(user=head).export(model_admin.get_export_queryset(_request(head)))
    assert exported.headers == [
        "统一社会信用代码",
        "所属期",
        "公民身份号码",
        "姓名",
        "申报基数",
        "核定基数",
        "基数调整",
    ]
    assert exported[0][2] == a.id_number  # an office head may see whole numbers
    assert exported[0][5] == "6000.00"
    clerk = UserFactory(office=office("331003"), roles=[roles.COUNTER_CLERK], is_staff=True)
    masked = DeclarationLineResource(user=clerk).export(model_admin.get_export_queryset(_request(clerk)))
    assert masked[0][2] != a.id_number and masked[0][2].startswith(a.id_number[:6]) and "*" in masked[0][2]


def test_a_clerk_without_the_right_cannot_import(params):
    auditor = UserFactory(office=office("331003"), roles=[roles.AUDITOR], is_staff=True)
    assert page_client_for(auditor).get(url(DeclarationLine, "import")).status_code == 403


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    return request


def test_work_injury_float_admin_refuses_a_ratio_that_is_not_a_grade(city, params):
    employer = huangyan_employer()
    response = page_client_for(city).post(
        url(WorkInjuryFloat, "add"), {"employer": employer.pk, "ratio": "7.00", "valid_from": "2025-01-01"}
    )
    assert response.status_code == 200
    assert "浮动比例只能是" in response.content.decode()
    assert not WorkInjuryFloat.objects.exists()
