"""Bill files for the collecting agency: CSV in UTF-8 and GBK and xlsx, header counts and totals, the SHA-256
file beside it, the nightly job and its beat schedule, the download page and API within jurisdiction."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from contributions import services
from contributions.models import Bill, BillExport, BillTotal
from contributions.tests.factories import MONTH, issued_bill, pay
from registry import roles
from registry.tests.factories import EmployerFactory, PersonFactory, UserFactory, office, township_of

pytestmark = pytest.mark.django_db
D = datetime.date
Y = Decimal


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def reviewer(db):
    return UserFactory(username="hy_export_reviewer", office=office("331003"), roles=[roles.REVIEWER])


@pytest.fixture
def bills(reviewer):
    """黄岩, 202510: two employer bills of 1795.00 (one of them 1000.00 paid) and a flexible worker's bill of
    500.00 (person, name outside GBK); 路桥: one bill of 1795.00, outside 黄岩's scope."""
    township = township_of("331003")
    first = EmployerFactory(office=township, name="台州第一机械有限公司")
    second = EmployerFactory(office=township, name="台州第二机械有限公司")
    issued_bill(first, 202510)
    issued_bill(second, 202510)
    pay(first, "1000.00", D(2025, 11, 5), reviewer, reference="EXP-PAID")
    person = PersonFactory(residence_office=township, name="王䶮")  # 䶮 (U+4DAE) is not in GBK
    flexible = Bill.objects.create(
        kind="flexible",
        period=202510,
        person=person,
        office=township,
        total_employer=0,
        total_individual=Y("500.00"),
        total=Y("500.00"),
        due_date=D(2025, 11, 15),
        issued_at=timezone.now(),
    )
    BillTotal.objects.create(
        bill=flexible,
        insurance_type="emp_pension",
        employer_amount=0,
        individual_amount=Y("500.00"),
        amount=Y("500.00"),
    )
    issued_bill(EmployerFactory(office=township_of("331004")), 202510)
    return {"first": first, "second": second, "person": person}


def export(fmt, encoding, user, code="331003", period=202510) -> BillExport:
    made = services.bill_export_start(
        period=period, office=office(code), format=fmt, encoding=encoding, acting_user=user
    )
    assert made.status == "queued"
    made = services.bill_export_execute(bill_export_id=made.pk)  # as the worker does after commit
    assert made.status == "done", made.error
    return made


def content(made: BillExport) -> bytes:
    with made.file.open("rb") as handle:
        return handle.read()


def check_header(rows: list[list[str]]) -> dict[str, list[str]]:
    header = {}
    for row in rows:
        if not row[0].startswith("#"):
            break
        header.setdefault(row[0], []).append(row[1:])
    return header


def test_csv_utf8_has_header_counts_totals_rows_and_a_sha256_that_verifies(bills, reviewer):
    made = export("csv", "utf-8", reviewer)
    data = content(made)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header = check_header(rows)
    assert header["#所属期"] == [["202510"]]
    assert header["#范围机构"] == [["331003", office("331003").name]]
    assert header["#账单数"] == [["3", "单位", "2", "个人", "1"]]
    assert header["#应缴合计"] == [["4090.00", "单位部分", "2540.00", "个人部分", "1550.00"]]
    assert header["#已缴合计"] == [["1000.00"]] and header["#未缴合计"] == [["3090.00"]]
    assert ["employer", "单位", "2", "3590.00"] in header["#缴费方合计"]
    assert ["person", "个人", "1", "500.00"] in header["#缴费方合计"]
    assert ["emp_pension", "职工基本养老保险", "2900.00"] in header["#险种合计"]
    at = next(i for i, r in enumerate(rows) if not r[0].startswith("#"))
    columns = rows[at]
    assert columns[:5] == ["账单编号", "账单类型", "所属期", "缴费方类型", "缴费方代码"]
    body = [dict(zip(columns, r, strict=True)) for r in rows[at + 1 :]]
    assert len(body) == 3 == made.bill_count
    first = next(r for r in body if r["缴费方代码"] == bills["first"].credit_code)
    assert (first["应缴合计"], first["已缴"], first["未缴"], first["职工基本养老保险应缴"]) == (
        "1795.00",
        "1000.00",
        "795.00",
        "1200.00",
    )
    person_row = next(r for r in body if r["缴费方类型"] == "person")
    assert person_row["缴费方代码"] == bills["person"].id_number and person_row["缴费方名称"] == "王䶮"
    # The SHA-256 is right and sits beside the file in sha256sum format.
    assert made.sha256 == hashlib.sha256(data).hexdigest() and made.size == len(data)
    with default_storage.open(made.file.name + ".sha256") as handle:
        assert handle.read().decode() == f"{made.sha256}  {made.file_name}\n"
    assert (made.total, made.open_amount, made.employer_bill_count, made.person_bill_count) == (
        Y("4090.00"),
        Y("3090.00"),
        2,
        1,
    )


def test_csv_gbk_replaces_what_gbk_cannot_hold_and_says_how_much(bills, reviewer):
    made = export("csv", "gbk", reviewer)
    data = content(made)
    text = data.decode("gbk")
    assert "台州第一机械有限公司" in text and "王?" in text
    assert made.replaced_chars == 1
    assert made.sha256 == hashlib.sha256(data).hexdigest()
    rows = list(csv.reader(io.StringIO(text)))
    assert check_header(rows)["#账单数"] == [["3", "单位", "2", "个人", "1"]]


def test_xlsx_has_the_same_layout(bills, reviewer):
    from openpyxl import load_workbook

    made = export("xlsx", "", reviewer)
    data = content(made)
    assert made.sha256 == hashlib.sha256(data).hexdigest() and made.encoding == ""
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = {r[0]: r[1:] for r in rows if r[0] and str(r[0]).startswith("#")}
    assert list(header["#账单数"][:5]) == ["3", "单位", "2", "个人", "1"]
    data_rows = [r for r in rows if r[0] and not str(r[0]).startswith("#")][1:]
    assert len(data_rows) == 3
    assert sum(Decimal(str(r[10])) for r in data_rows) == Y("4090.00")


def test_city_scope_includes_every_district(bills, reviewer):
    admin = UserFactory(username="exp_city", office=office("331000"), roles=[roles.CITY_ADMIN])
    made = export("csv", "utf-8", admin, code="331000")
    assert made.bill_count == 4 and made.total == Y("5885.00")


def test_an_office_outside_jurisdiction_is_refused(bills, reviewer):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.bill_export_start(
            period=202510, office=office("331004"), format="csv", encoding="utf-8", acting_user=reviewer
        )


def test_nightly_exports_the_current_period_per_scope_and_skips_unchanged(bills):
    made = services.bill_exports_nightly(on=D(2025, 11, 29))
    assert {(e.office.code, e.period, e.format, e.encoding) for e in made} == {
        ("331000", 202510, "csv", "utf-8"),
        ("331003", 202510, "csv", "utf-8"),
        ("331004", 202510, "csv", "utf-8"),
    }
    assert all(e.status == "done" and e.created_by is None for e in made)
    assert services.bill_exports_nightly(on=D(2025, 11, 29)) == []
    issued_bill(EmployerFactory(office=township_of("331003")), 202510, totals=MONTH)
    again = services.bill_exports_nightly(on=D(2025, 11, 29), formats=[("csv", "utf-8"), ("xlsx", "")])
    assert {(e.office.code, e.format) for e in again} == {
        ("331000", "csv"),
        ("331003", "csv"),
        ("331000", "xlsx"),
        ("331003", "xlsx"),
        ("331004", "xlsx"),
    }


def test_the_nightly_beat_schedule_is_registered():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="contributions.bill_exports_nightly")
    assert task.enabled and task.crontab.hour == "2" and task.crontab.minute == "30"
    assert '"csv"' in task.kwargs


def test_download_page_and_api_within_jurisdiction(bills, reviewer):
    mine = export("csv", "utf-8", reviewer)
    admin = UserFactory(username="exp_lq_admin", office=office("331000"), roles=[roles.CITY_ADMIN])
    theirs = export("csv", "utf-8", admin, code="331004")
    client = Client()
    client.force_login(reviewer)
    page = client.get(reverse("contributions_bill_export_list"))
    assert page.status_code == 200 and mine.sha256[:12] in page.content.decode()
    assert theirs.sha256[:12] not in page.content.decode()
    download = client.get(reverse("contributions_bill_export_download", kwargs={"uid": mine.uid}))
    assert download.status_code == 200 and download["X-Content-SHA256"] == mine.sha256
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == mine.sha256
    checksum = client.get(reverse("contributions_bill_export_sha256", kwargs={"uid": mine.uid}))
    assert checksum.content.decode() == f"{mine.sha256}  {mine.file_name}\n"
    assert client.get(reverse("contributions_bill_export_download", kwargs={"uid": theirs.uid})).status_code == 404
    # A counter clerk has no access to files that carry full ID numbers.
    clerk = Client()
    clerk.force_login(UserFactory(username="exp_counter", office=office("331003")))
    assert clerk.get(reverse("contributions_bill_export_list")).status_code == 403

    api = APIClient()
    api.force_authenticate(reviewer)
    listed = api.get("/api/v1/bill-exports/")
    assert listed.status_code == 200
    assert [e["uid"] for e in listed.json()["results"]] == [str(mine.uid)]
    assert listed.json()["results"][0]["bill_count"] == 3
    got = api.get(f"/api/v1/bill-exports/{mine.uid}/download/")
    assert got.status_code == 200 and hashlib.sha256(b"".join(got.streaming_content)).hexdigest() == mine.sha256
    assert api.get(f"/api/v1/bill-exports/{mine.uid}/sha256/").content.decode().startswith(mine.sha256)
    assert api.get(f"/api/v1/bill-exports/{theirs.uid}/download/").status_code == 404


def test_page_generates_an_export(bills, reviewer, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("contributions_bill_export_list"), {"period": "202510", "office": "331003", "format": "csv-gbk"}
        )
    assert response.status_code == 302
    made = BillExport.objects.get()
    assert (made.status, made.encoding, made.bill_count, made.created_by) == ("done", "gbk", 3, reviewer)
