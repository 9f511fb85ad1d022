"""The clerk pages: queue with filters and SLA colours, intake, case page with the actions allowed to me,
receipt, archive, catalogue, the public verification page; 404 outside the jurisdiction."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from cases import services
from cases.models import Attachment, Case, CaseState
from cases.tests.factories import (
    _out_attachment,
    _out_certificate,
    clerk,
    enrollment_case,
    item,
    person_with_card,
    reviewer,
    upload,
)
from registry.models import CardStatus, Enrollment, Office
from registry.tests.factories import EnrollmentFactory, PersonFactory, UserFactory, township_of
from registry.tests.helpers import page_client_for

D = datetime.date
pytestmark = pytest.mark.django_db


@pytest.fixture
def hy_town():
    return township_of("331003")


@pytest.fixture
def hy_district():
    return Office.objects.get(code="331003")


def test_pages_need_login_and_the_case_permissions(hy_town):
    assert Client().get("/cases/").status_code == 302
    nobody = UserFactory(office=hy_town, roles=[])
    assert page_client_for(nobody).get("/cases/").status_code == 403
    assert page_client_for(nobody).get("/cases/new/").status_code == 403


def test_the_queue_shows_the_offices_cases_with_filters_and_sla(hy_town, hy_district):
    mine = enrollment_case(township=hy_town)
    paused = enrollment_case(township=hy_town, materials=())
    enrollment_case(township=township_of("331004"))
    boss = reviewer(hy_district)
    page = page_client_for(boss).get("/cases/").content.decode()
    assert mine.number in page and paused.number in page
    assert "正常（剩" in page or "即将到期" in page
    assert "补正暂停计时" in page
    assert "路桥" not in page
    filtered = page_client_for(boss).get("/cases/?scope=todo&sla=paused").content.decode()
    assert paused.number in filtered and mine.number not in filtered
    by_state = page_client_for(boss).get("/cases/?scope=todo&state=approval").content.decode()
    assert mine.number in by_state and paused.number not in by_state
    by_item = page_client_for(boss).get("/cases/?scope=todo&item=ZM-001").content.decode()
    assert mine.number not in by_item
    # The township's own queue is empty (the cases wait at the district) but "taken in" lists them.
    desk = clerk(hy_town)
    assert mine.number not in page_client_for(desk).get("/cases/").content.decode()
    assert mine.number in page_client_for(desk).get("/cases/?scope=taken_in").content.decode()


def test_the_queue_marks_overdue_cases(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    Case.objects.filter(pk=case.pk).update(due_date=D(2020, 1, 2))
    page = page_client_for(reviewer(hy_district)).get("/cases/?sla=overdue").content.decode()
    assert case.number in page
    assert "已超期" in page


def test_intake_page_search_pick_tick_and_take_in(hy_town, hy_district):
    person = PersonFactory(residence_office=hy_town, name="陈静")
    desk = clerk(hy_town)
    client = page_client_for(desk)
    page = client.post("/cases/new/", {"op": "search", "q": "陈静"}).content.decode()
    assert f"?person={person.uid}" in page
    page = client.get(f"/cases/new/?person={person.uid}&item=CJ-GR-001").content.decode()
    assert "社会保险参保登记表" in page
    assert "系统核验，免提交" in page
    assert "10 个工作日" in page
    response = client.post(
        f"/cases/new/?person={person.uid}&item=CJ-GR-001",
        {
            "op": "intake",
            "person": str(person.uid),
            "item": "CJ-GR-001",
            "materials": ["form"],
            "f_insurance_type": "res_medical",
            "f_start_date": "2025-05-01",
            "files": [upload("登记表.pdf")],
        },
    )
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.uid}/"
    assert case.state == CaseState.APPROVAL
    assert Attachment.objects.filter(case=case).count() == 1


def test_intake_page_shows_what_is_wrong_and_writes_nothing(hy_town):
    person = PersonFactory(residence_office=hy_town)
    client = page_client_for(clerk(hy_town))
    response = client.post(
        "/cases/new/",
        {
            "op": "intake",
            "person": str(person.uid),
            "item": "CJ-GR-001",
            "materials": ["form"],
            "f_insurance_type": "emp_pension",
            "f_start_date": "2025-05-01",
            "files": [upload("tool.pdf", b"MZ" + b"\0" * 64)],
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "未受理" in page
    assert "职工险种必须填写参保单位" in page
    assert not Case.objects.exists()
    response = client.post(
        "/cases/new/",
        {
            "op": "intake",
            "person": str(person.uid),
            "item": "CJ-GR-001",
            "materials": ["form"],
            "f_insurance_type": "res_medical",
            "f_start_date": "2025-05-01",
            "files": [upload("tool.pdf", b"MZ" + b"\0" * 64)],
        },
    )
    assert "Windows 可执行程序" in response.content.decode()
    assert not Case.objects.exists()


def test_intake_offers_only_items_for_my_office_level(hy_town):
    page = page_client_for(clerk(hy_town)).get("/cases/new/").content.decode()
    assert "CJ-GR-001" in page and "DY-001" in page


def test_the_case_page_offers_only_my_actions(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    desk_page = page_client_for(clerk(hy_town)).get(f"/cases/{case.uid}/").content.decode()
    assert 'value="withdraw"' in desk_page and 'value="pass"' not in desk_page
    boss_page = page_client_for(reviewer(hy_district)).get(f"/cases/{case.uid}/").content.decode()
    assert 'value="pass"' in boss_page and "审批通过并办结" in boss_page
    low = page_client_for(reviewer(hy_town)).get(f"/cases/{case.uid}/").content.decode()
    assert 'value="pass"' not in low
    assert "区级及以上经办机构办理" in low  # says why and who


def test_acting_on_the_case_page(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    boss = page_client_for(reviewer(hy_district))
    response = boss.post(f"/cases/{case.uid}/action/", {"action": "reject", "reason": ""})
    assert response.status_code == 302
    page = boss.get(response["Location"]).content.decode()
    assert "不予办理的理由" in page
    boss.post(f"/cases/{case.uid}/action/", {"action": "pass", "note": "同意"})
    case.refresh_from_db()
    assert case.state == CaseState.COMPLETED
    assert Enrollment.objects.filter(person=case.person).exists()
    page = boss.get(f"/cases/{case.uid}/").content.decode()
    assert "已新增参保登记" in page and "本件已结束" in page


def test_wrong_role_on_the_case_page_is_a_message_not_an_error(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    client = page_client_for(clerk(hy_district))
    response = client.post(f"/cases/{case.uid}/action/", {"action": "pass"}, follow=True)
    assert response.status_code == 200
    assert "须由“审核”角色办理" in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.APPROVAL


def test_upload_on_the_case_page(hy_town):
    case = enrollment_case(township=hy_town)
    client = page_client_for(clerk(hy_town))
    response = client.post(
        f"/cases/{case.uid}/attachments/", {"files": [upload("a.pdf")], "material": "form"}, follow=True
    )
    assert "已上传 1 个附件" in response.content.decode()
    response = client.post(f"/cases/{case.uid}/attachments/", {"files": [upload("b.pdf", b"")]}, follow=True)
    assert "0 字节" in response.content.decode()


def test_the_receipt_shows_the_due_date_and_the_correction_notice(hy_town):
    case = enrollment_case(township=hy_town)
    page = page_client_for(clerk(hy_town)).get(f"/cases/{case.uid}/receipt/").content.decode()
    assert "受理回执" in page
    assert case.due_date.strftime("%Y年") in page
    assert f"{case.due_date.month}月{case.due_date.day}日" in page
    paused = enrollment_case(township=hy_town, materials=())
    page = page_client_for(clerk(hy_town)).get(f"/cases/{paused.uid}/receipt/").content.decode()
    assert "一次性补正告知书" in page and "社会保险参保登记表" in page


def test_the_person_archive_lists_all_cases_and_files(hy_town, hy_district):
    person = person_with_card(hy_town)
    EnrollmentFactory(person=person, insurance_type="res_medical", employer=None)
    desk = clerk(hy_town)
    services.case_intake(acting_user=desk, item=item("ZM-001"), person=person)
    services.case_intake(acting_user=desk, item=item("KA-002"), person=person)
    page = page_client_for(desk).get(f"/cases/persons/{person.uid}/archive/").content.decode()
    assert "社会保险参保证明" in page
    assert "社会保障卡挂失" in page
    person.refresh_from_db()
    assert person.card_status == CardStatus.LOST


def test_the_catalogue_page(hy_town):
    page = page_client_for(clerk(hy_town)).get("/cases/catalogue/").content.decode()
    for name in [
        "个人参保登记",
        "社会保险参保证明",
        "失业保险金申领",
        "社会保障卡挂失",
        "被征地农民基本生活保障金申领",
    ]:
        assert name in page
    assert "演示值" in page and "即办" in page


def test_the_public_verification_page_needs_no_login(hy_town):
    certificate = _out_certificate(hy_town)
    client = Client()
    page = client.get(f"/verify/{certificate.code}/").content.decode()
    assert "真实有效" in page
    assert certificate.content["person"]["id_number_masked"] in page
    assert certificate.person.id_number not in page
    # Lower case and dashes are normalised.
    dashed = "-".join(certificate.code[i : i + 4] for i in range(0, 16, 4)).lower()
    assert client.get(f"/verify/{dashed}/").status_code == 302
    assert "未找到" in client.get("/verify/AAAABBBBCCCCDDDD/").content.decode()
    # Comparing the PDF itself.
    from django.core.files.storage import default_storage
    from django.core.files.uploadedfile import SimpleUploadedFile

    pdf = default_storage.open(certificate.attachment.file.name).read()
    page = client.post(f"/verify/{certificate.code}/", {"pdf": SimpleUploadedFile("c.pdf", pdf)}).content.decode()
    assert "完全一致" in page
    page = client.post(
        f"/verify/{certificate.code}/", {"pdf": SimpleUploadedFile("c.pdf", pdf + b"\n")}
    ).content.decode()
    assert "不一致" in page


def test_every_case_page_with_an_id_is_404_outside_the_jurisdiction(hy_town):
    """Like tests/test_jurisdiction_routes.py, limited to the cases pages: a 黄岩 user, 路桥 records."""
    luqiao = township_of("331004")
    records = [
        enrollment_case(township=luqiao),
        _out_attachment(luqiao),
        _out_certificate(luqiao),
        PersonFactory(residence_office=luqiao),
    ]
    user = UserFactory(office=Office.objects.get(code="331003"), is_superuser=True, is_staff=True, roles=[])
    client = page_client_for(user)
    checked = 0
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) != "cases/":
            continue
        for entry in pattern.url_patterns:
            if "uid" not in entry.pattern.regex.groupindex:
                continue
            for record in records:
                url = reverse(entry.name, kwargs={"uid": record.uid})
                statuses = {client.get(url).status_code, client.post(url).status_code}
                assert statuses <= {404, 405} and 404 in statuses, f"{url} gave {statuses}"
                checked += 1
    assert checked >= 7 * 4


def test_the_nav_links(hy_town):
    page = page_client_for(clerk(hy_town)).get("/").content.decode()
    assert 'href="/cases/"' in page and 'href="/cases/new/"' in page


def test_case_numbers_are_per_office_and_day(hy_town):
    first = enrollment_case(township=hy_town)
    second = enrollment_case(township=hy_town)
    assert re.fullmatch(rf"{hy_town.code}\d{{8}}0001", first.number)
    assert second.number.endswith("0002")


def test_the_queue_and_case_pages_do_a_constant_number_of_queries(hy_town, hy_district, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    boss = page_client_for(reviewer(hy_district))
    enrollment_case(township=hy_town)
    boss.get("/cases/")  # warm-up (session, calendar years)
    with CaptureQueriesContext(connection) as few:
        boss.get("/cases/")
    for _i in range(5):
        enrollment_case(township=hy_town)
    with CaptureQueriesContext(connection) as many:
        boss.get("/cases/")
    assert len(many) == len(few)
    case = enrollment_case(township=hy_town)
    with django_assert_max_num_queries(40):
        boss.get(f"/cases/{case.uid}/")
