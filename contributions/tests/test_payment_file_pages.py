"""Payment-file pages and API: upload and report, the same file twice, strict rejection in the one error
format, the reconciliation page and xlsx per office within jurisdiction, correction of a kept line."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from contributions import services
from contributions.models import Payment, PaymentFile, PaymentFileLine
from contributions.tests.factories import issued_bill, payment_csv
from registry import roles
from registry.identifiers import id_number_mask
from registry.tests.factories import EmployerFactory, PersonFactory, UserFactory, office, township_of
from registry.tests.helpers import ERROR_KEYS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def city_admin_user(db):
    return UserFactory(username="pf_city_admin", office=office("331000"), roles=[roles.CITY_ADMIN])


@pytest.fixture
def city_file(city_admin_user):
    """A city-wide file with one matched payer in 黄岩 and one in 路桥, a 黄岩 person billed but unpaid, and a
    line of an unknown 路桥 employer (kept, skip-bad)."""
    hy = EmployerFactory(office=township_of("331003"), name="黄岩对账单位")
    lq = EmployerFactory(office=township_of("331004"), name="路桥对账单位")
    issued_bill(hy, 202501)
    issued_bill(lq, 202501)
    person = PersonFactory(residence_office=township_of("331003"))
    from django.utils import timezone

    from contributions.models import Bill, BillTotal

    bill = Bill.objects.create(
        kind="flexible",
        period=202501,
        person=person,
        office=person.residence_office,
        total_individual=500,
        total=500,
        due_date="2025-02-15",
        issued_at=timezone.now(),
    )
    BillTotal.objects.create(
        bill=bill, insurance_type="emp_pension", employer_amount=0, individual_amount=500, amount=500
    )
    data = payment_csv(
        [
            ("C-HY", "单位", hy.credit_code, hy.name, 202501, "1795.00", "2025-04-10"),
            ("C-LQ", "单位", lq.credit_code, lq.name, 202501, "1795.00", "2025-04-10"),
            ("C-UNK", "单位", "91331004MA0000000X", "不明单位", 202501, "88.00", "2025-04-10"),
        ]
    )
    payment_file, _created = services.payment_file_upload(
        name="city.csv", data=data, mode="skip_bad", acting_user=city_admin_user
    )
    payment_file = services.payment_file_process(payment_file_id=payment_file.pk)  # the worker's part
    assert payment_file.status == "pending", payment_file.report
    return {"file": payment_file, "hy": hy, "lq": lq, "person": person}


def page(client, name, payment_file, **params):
    return client.get(reverse(name, kwargs={"uid": payment_file.uid}), params)


def test_clerks_see_only_their_offices_rows_of_a_city_file(city_file, huangyan_clerk, luqiao_clerk):
    payment_file = city_file["file"]
    hy_client, lq_client = Client(), Client()
    hy_client.force_login(huangyan_clerk)
    lq_client.force_login(luqiao_clerk)

    listed = hy_client.get(reverse("contributions_payment_file_list"))
    assert listed.status_code == 200 and "city.csv" in listed.content.decode()
    detail = page(hy_client, "contributions_payment_file_detail", payment_file).content.decode()
    assert township_of("331003").name in detail and township_of("331004").name not in detail
    assert "第 4 行" not in detail  # the import report and kept lines belong to the city that imported the file

    items = page(hy_client, "contributions_payment_file_reconciliation", payment_file).content.decode()
    assert "黄岩对账单位" in items and "路桥对账单位" not in items and "91331004MA0000000X" not in items
    person = city_file["person"]
    assert id_number_mask(person.id_number) in items and person.id_number not in items
    lq_items = page(lq_client, "contributions_payment_file_reconciliation", payment_file).content.decode()
    assert "路桥对账单位" in lq_items and "91331004MA0000000X" in lq_items and "黄岩对账单位" not in lq_items

    from openpyxl import load_workbook

    xlsx = page(hy_client, "contributions_payment_file_reconciliation_xlsx", payment_file)
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    detail_rows = [list(r) for r in book.worksheets[1].iter_rows(values_only=True)][1:]
    assert {r[4] for r in detail_rows} == {city_file["hy"].credit_code, id_number_mask(person.id_number)}
    assert {r[2] for r in detail_rows} == {"相符", "已出账、未到账"}


def test_a_file_of_another_district_is_404_for_a_clerk(city_admin_user, huangyan_clerk):
    lq = EmployerFactory(office=township_of("331004"))
    issued_bill(lq, 202501)
    lq_reviewer = UserFactory(username="lq_pf_reviewer", office=office("331004"), roles=[roles.REVIEWER])
    payment_file, _created = services.payment_file_upload(
        name="lq.csv",
        data=payment_csv([("LQ-ONLY", "单位", lq.credit_code, "", 202501, "1.00", "2025-04-10")]),
        mode="strict",
        acting_user=lq_reviewer,
    )
    client = Client()
    client.force_login(huangyan_clerk)
    for name in (
        "contributions_payment_file_detail",
        "contributions_payment_file_reconciliation",
        "contributions_payment_file_reconciliation_xlsx",
    ):
        assert page(client, name, payment_file).status_code == 404, name
    assert "lq.csv" not in client.get(reverse("contributions_payment_file_list")).content.decode()


def test_upload_page_imports_reports_and_says_when_a_file_was_imported_before(
    huangyan_clerk, django_capture_on_commit_callbacks
):
    reviewer = UserFactory(username="hy_pf_page", office=office("331003"), roles=[roles.REVIEWER])
    employer = EmployerFactory(office=township_of("331003"))
    issued_bill(employer, 202501)
    data = payment_csv([("PG-1", "单位", employer.credit_code, "", 202501, "1795.00", "2025-04-10")], encoding="gbk")
    client = Client()
    client.force_login(reviewer)
    url = reverse("contributions_payment_file_list")
    with django_capture_on_commit_callbacks(execute=True):  # the import's task, sent after the commit
        response = client.post(url, {"file": SimpleUploadedFile("到账.csv", data), "mode": "strict"})
    assert response.status_code == 302
    detail = client.get(response["Location"]).content.decode()
    assert "正在后台导入" in detail  # the message of the upload
    assert PaymentFile.objects.get(name="到账.csv").status == "imported"
    detail = client.get(response["Location"]).content.decode()
    assert "已导入" in detail and 'data-testid="imported">1 笔' in detail
    again = client.post(url, {"file": SimpleUploadedFile("again.csv", data), "mode": "strict"}, follow=True)
    assert "本次未做任何更改" in again.content.decode()
    assert Payment.objects.filter(agency_reference="PG-1").count() == 1
    # A counter clerk reads, but may not upload.
    clerk = Client()
    clerk.force_login(huangyan_clerk)
    assert clerk.post(url, {"file": SimpleUploadedFile("x.csv", data)}).status_code == 403


def test_upload_page_shows_the_rejection_report_and_the_wrong_columns_message(django_capture_on_commit_callbacks):
    reviewer = UserFactory(username="hy_pf_page2", office=office("331003"), roles=[roles.REVIEWER])
    employer = EmployerFactory(office=township_of("331003"))
    client = Client()
    client.force_login(reviewer)
    url = reverse("contributions_payment_file_list")
    bad = payment_csv([("B-1", "单位", employer.credit_code, "", 202501, "-1", "2025-04-10")])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"file": SimpleUploadedFile("bad.csv", bad), "mode": "strict"})
    text = client.get(response["Location"]).content.decode()
    assert "已拒收" in text and "第 2 行：金额 -1 不是正数" in text
    wrong = client.post(url, {"file": SimpleUploadedFile("w.csv", "流水号,金额\r\nX,1\r\n".encode())})
    assert wrong.status_code == 400 and "文件缺少列" in wrong.content.decode()
    # Skip-bad is not offered to a reviewer, and refused if sent anyway.
    assert 'value="skip_bad"' not in client.get(url).content.decode()
    refused = client.post(url, {"file": SimpleUploadedFile("s.csv", bad), "mode": "skip_bad"})
    assert refused.status_code == 400 and "只有管理员" in refused.content.decode()


def test_correction_page_records_the_kept_line(city_file, city_admin_user, huangyan_clerk):
    payment_file = city_file["file"]
    kept = PaymentFileLine.objects.get(payment_file=payment_file, status="bad")
    url = reverse("contributions_payment_file_line_correct", kwargs={"uid": payment_file.uid, "line_no": kept.line_no})
    client = Client()
    client.force_login(city_admin_user)
    form = client.get(url)
    assert form.status_code == 200 and "91331004MA0000000X" in form.content.decode()
    lq = city_file["lq"]
    response = client.post(
        url,
        {
            "reference": "C-UNK",
            "payer_type": "employer",
            "payer_code": lq.credit_code,
            "period": "202501",
            "amount": "88.00",
            "paid_on": "2025-04-10",
        },
    )
    assert response.status_code == 302
    kept.refresh_from_db()
    assert kept.status == "corrected" and Payment.objects.get(agency_reference="C-UNK").employer == lq
    payment_file.refresh_from_db()
    assert payment_file.status == "imported" and payment_file.open_bad_count == 0
    # A district clerk cannot reach the city's kept lines.
    other = Client()
    other.force_login(huangyan_clerk)
    assert other.get(url).status_code in (403, 404)


def test_api_upload_answers_202_with_the_status_resource_then_report_repeat_and_strict_rejection(
    city_admin_user, django_capture_on_commit_callbacks
):
    agency = UserFactory(username="pf_agency", office=office("331000"), roles=[roles.SYSTEM], is_system=True)
    employer = EmployerFactory(office=township_of("331003"))
    issued_bill(employer, 202501)
    api = APIClient()
    api.force_authenticate(agency)

    def post(name, data, **extra):
        with django_capture_on_commit_callbacks(execute=True):  # the worker's task, sent after the commit
            return api.post(
                "/api/v1/payment-files/", {"file": SimpleUploadedFile(name, data), **extra}, format="multipart"
            )

    data = payment_csv([("API-F1", "单位", employer.credit_code, "", 202501, "1795.00", "2025-04-10")])
    created = post("n.csv", data)
    assert created.status_code == 202, created.content.decode()
    assert (created.json()["status"], created.json()["already_imported"]) == ("queued", False)
    assert created["Location"] == f"/api/v1/payment-files/{created.json()['uid']}/"
    body = api.get(created["Location"]).json()
    assert (body["status"], body["imported_count"], body["already_imported"]) == ("imported", 1, False)
    assert {(r["office"], r["category"], r["item_count"]) for r in body["reconciliation"]} == {
        (employer.office.code, "matched", 1)
    }
    again = post("n2.csv", data)
    assert again.status_code == 200 and again.json()["already_imported"] and again.json()["uid"] == body["uid"]
    items = api.get(f"/api/v1/payment-files/{body['uid']}/reconciliation/").json()["results"]
    assert [(i["category"], i["due"], i["paid"]) for i in items] == [("matched", "1795.00", "1795.00")]

    bad = payment_csv(
        [
            ("API-F2", "单位", employer.credit_code, "", 202501, "12.345", "2025-04-10"),
            ("API-F3", "单位", employer.credit_code, "", "2025-13", "1.00", "2025-04-10"),
        ]
    )
    rejected = post("b.csv", bad)
    assert rejected.status_code == 202
    result = api.get(rejected["Location"]).json()
    assert result["status"] == "rejected" and result["bad_count"] == 2
    assert result["problems"][0]["message"].startswith("第 2 行：金额 12.345 超过两位小数")
    assert result["problems"][1]["message"].startswith("第 3 行：所属期“202513”不是有效的年月")
    assert not Payment.objects.filter(agency_reference__in=["API-F2", "API-F3"]).exists()
    assert PaymentFile.objects.get(sha256__isnull=False, name="b.csv").status == "rejected"

    wrong = post("w.csv", b"a,b\r\n1,2\r\n")  # unreadable as a whole: refused at once, nothing stored
    assert wrong.status_code == 400 and "文件缺少列" in wrong.json()["errors"]["file"][0]
    assert tuple(wrong.json()) == ERROR_KEYS and wrong.json()["code"] == "validation_error"
    skip = post("s.csv", bad, mode="skip_bad")
    assert skip.status_code == 400 and "mode" in skip.json()["errors"]
