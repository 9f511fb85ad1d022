"""Issue 14, faults 1 and 6 for payment files: every file is imported by a worker (202 and the status resource), a
file whose import never finished is resumed — by its re-upload or by the sweeper — and imported exactly once, each
file has its own lock, and the file's totals lines are checked (a file cut short is refused with a clear message).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import psycopg2
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from contributions import services
from contributions.models import Payment, PaymentAllocation, PaymentFile, PaymentFileLine
from contributions.tests.factories import huangyan_employer, huangyan_parameters_2025, issued_bill, payment_csv
from registry import roles
from registry.locks import AdvisoryLock
from registry.tests.factories import UserFactory, office

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def setup(db):
    huangyan_parameters_2025()
    employer = huangyan_employer()
    issued_bill(employer, 202501)
    agency = UserFactory(username="pf_rec_agency", office=office("331000"), roles=[roles.SYSTEM], is_system=True)
    api = APIClient()
    api.force_authenticate(agency)
    return {"employer": employer, "agency": agency, "api": api}


def _file(employer, reference="REC-1", amount="1795.00", **kwargs) -> bytes:
    return payment_csv([(reference, "单位", employer.credit_code, "", 202501, amount, "2025-04-10")], **kwargs)


def _post(api, data, name="rec.csv"):
    return api.post("/api/v1/payment-files/", {"file": SimpleUploadedFile(name, data)}, format="multipart")


def test_a_file_whose_import_never_finished_is_resumed_by_its_re_upload(setup, django_capture_on_commit_callbacks):
    """Fault 1: the import's message is lost (a killed process): the file stays queued with no payment. The same
    bytes uploaded again resume it — 202, not "already imported" — and it is imported exactly once."""
    api, data = setup["api"], _file(setup["employer"])
    with django_capture_on_commit_callbacks(execute=False):
        first = _post(api, data)
    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert Payment.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        again = _post(api, data, name="rec-again.csv")
    assert again.status_code == 202, again.content
    assert again.json()["uid"] == first.json()["uid"] and again.json()["already_imported"] is False
    result = api.get(again["Location"]).json()
    assert (result["status"], result["imported_count"]) == ("imported", 1)
    assert PaymentFile.objects.count() == 1 and Payment.objects.filter(agency_reference="REC-1").count() == 1
    assert sum(a.amount for a in PaymentAllocation.objects.all()) == Decimal("1795.00")

    with django_capture_on_commit_callbacks(execute=True):
        third = _post(api, data, name="rec-third.csv")
    assert third.status_code == 200 and third.json()["already_imported"] is True
    assert Payment.objects.count() == 1


def test_a_queued_file_nobody_imports_is_imported_by_the_sweeper(setup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        payment_file, created = services.payment_file_upload(
            name="swept.csv", data=_file(setup["employer"]), mode="strict", acting_user=setup["agency"]
        )
    assert created and payment_file.status == "queued"
    PaymentFile.objects.filter(pk=payment_file.pk).update(created_at=timezone.now() - datetime.timedelta(hours=1))
    assert services.jobs_sweep(stale_seconds=60).requeued == {"payment_file": [payment_file.pk]}
    payment_file.refresh_from_db()
    assert payment_file.status == "imported" and payment_file.requeue_count == 1
    assert Payment.objects.count() == 1


def _other_connection():
    settings = connection.settings_dict
    return psycopg2.connect(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"],
        host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432,
    )  # fmt: skip


@pytest.mark.postgres
def test_each_file_has_its_own_lock(setup, django_capture_on_commit_callbacks):
    """A worker importing file A holds A's lock only: the sweeper and a re-upload leave A alone, file B is not
    mistaken for being worked on, and a second message for A returns at once."""
    with django_capture_on_commit_callbacks(execute=False):
        a, _created = services.payment_file_upload(
            name="a.csv", data=_file(setup["employer"], "LOCK-A"), mode="strict", acting_user=setup["agency"]
        )
        b, _created = services.payment_file_upload(
            name="b.csv", data=_file(setup["employer"], "LOCK-B", "1.00"), mode="strict", acting_user=setup["agency"]
        )
    PaymentFile.objects.update(created_at=timezone.now() - datetime.timedelta(hours=1))
    worker = _other_connection()
    try:
        with worker.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s, %s)", [int(AdvisoryLock.PAYMENT_FILE), a.pk])
        stuck = [(kind.name, job.pk) for kind, job in services.jobs_stuck(stale_seconds=60)]
        assert stuck == [("payment_file", b.pk)]
        assert services.payment_file_process(payment_file_id=a.pk).status == "queued"  # returns at once
        with django_capture_on_commit_callbacks(execute=True) as sent:
            again, created = services.payment_file_upload(
                name="a2.csv", data=_file(setup["employer"], "LOCK-A"), mode="strict", acting_user=setup["agency"]
            )
        assert not created and again.pk == a.pk and sent == []  # its worker is alive: nothing sent again
        with worker.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [int(AdvisoryLock.PAYMENT_FILE), a.pk])
    finally:
        worker.close()
    assert services.payment_file_process(payment_file_id=a.pk).status == "imported"


def test_header_totals_over_a_single_line_refuse_the_file_with_a_clear_message(setup):
    """Fault 6: `#合计金额,99999.00` over a single 10.00 line was imported; now the whole file is refused."""
    employer = setup["employer"]
    data = (
        "#合计笔数,1\r\n#合计金额,99999.00\r\n流水号,缴费方类型,缴费方代码,缴费方名称,所属期,金额,到账日期\r\n"
        f"CUT-1,单位,{employer.credit_code},,202501,10.00,2025-04-10\r\n"
    ).encode()
    payment_file, _created = services.payment_file_upload(
        name="cut.csv", data=data, mode="skip_bad", acting_user=UserFactory(
            username="pf_rec_admin", office=office("331000"), roles=[roles.CITY_ADMIN])
    )  # fmt: skip
    payment_file = services.payment_file_process(payment_file_id=payment_file.pk)
    assert payment_file.status == "rejected"
    assert payment_file.error == (
        "合计行与明细不符：#合计金额为 99999.00，1 行明细的金额合计为 10.00。文件可能不完整，已整份拒收。"
    )
    assert Payment.objects.count() == 0 and PaymentFileLine.objects.count() == 0
    detail = setup["api"].get(f"/api/v1/payment-files/{payment_file.uid}/").json()
    assert detail["status"] == "rejected" and "#合计金额为 99999.00" in detail["error"]


def test_a_line_count_that_does_not_match_and_missing_totals_are_refused(setup):
    employer = setup["employer"]
    short = _file(employer, "CNT-1", totals=(2, "1795.00"))  # the second line was lost on the way
    payment_file, _created = services.payment_file_upload(
        name="short.csv", data=short, mode="strict", acting_user=setup["agency"]
    )
    payment_file = services.payment_file_process(payment_file_id=payment_file.pk)
    assert payment_file.status == "rejected" and "#合计笔数为 2，文件中有 1 行明细" in payment_file.error
    bare = f"流水号,缴费方类型,缴费方代码,缴费方名称,所属期,金额,到账日期\r\nNO-T,单位,{employer.credit_code},,202501,1.00,2025-04-10\r\n"
    payment_file, _created = services.payment_file_upload(
        name="bare.csv", data=bare.encode(), mode="strict", acting_user=setup["agency"]
    )
    payment_file = services.payment_file_process(payment_file_id=payment_file.pk)
    assert payment_file.status == "failed" and "文件缺少合计行 #合计笔数、#合计金额" in payment_file.error
    assert Payment.objects.count() == 0


def test_an_xlsx_bomb_payment_file_is_refused_by_the_worker_with_a_message(setup):
    """Fault 5: a 2 KB workbook claiming A1:XFD1048576 is stored by the request (not parsed there) and refused by
    the worker before any row is read."""
    from registry.tests.xlsx_bombs import claimed_range_bomb

    payment_file, _created = services.payment_file_upload(
        name="bomb.xlsx", data=claimed_range_bomb(), mode="strict", acting_user=setup["agency"]
    )
    payment_file = services.payment_file_process(payment_file_id=payment_file.pk)
    assert payment_file.status == "failed" and "声明了 1048576 行 16384 列" in payment_file.error
    assert PaymentFileLine.objects.count() == 0
