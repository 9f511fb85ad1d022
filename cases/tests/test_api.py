"""The cases API: catalogue (read), online/API applications, transitions allowed to the caller, attachments —
jurisdiction applied, specific Chinese messages, 4xx for bad input, in the OpenAPI schema."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from cases.models import Attachment, Case, CaseState
from cases.tests.factories import clerk, enrollment_case, head, pdf_bytes, reviewer, upload
from registry import roles
from registry.models import Enrollment, Office
from registry.services import api_key_issue, system_account_create
from registry.tests.factories import PersonFactory, UserFactory, township_of
from registry.tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def hy_town():
    return township_of("331003")


@pytest.fixture
def hy_district():
    return Office.objects.get(code="331003")


@pytest.fixture
def district_system(hy_district):
    admin = UserFactory(office=Office.objects.get(level=1), roles=[], is_superuser=True)
    account = system_account_create(
        acting_user=admin,
        code="hy-online",
        name="黄岩网上办事大厅",
        office=hy_district,
        operations=["case:read", "case:write", "service-item:read"],
    )
    _key, secret = api_key_issue(account=account, acting_user=admin)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def test_the_catalogue_is_readable_with_steps_materials_and_fields(hy_town):
    response = client_for(clerk(hy_town)).get("/api/v1/service-items/")
    assert response.status_code == 200
    codes = [row["code"] for row in response.json()["results"]]
    assert {"CJ-GR-001", "ZM-001", "KA-002", "DY-001", "DY-002"} <= set(codes)
    detail = client_for(clerk(hy_town)).get("/api/v1/service-items/CJ-GR-001/").json()
    assert [s["kind"] for s in detail["steps"]] == ["intake", "approval"]
    assert detail["steps"][1]["lowest_level"] == 2
    assert detail["materials"][0]["system_source"] == "identity"
    assert {f["name"] for f in detail["form_fields"]} == {"insurance_type", "start_date", "is_flexible"}
    assert detail["time_limit_parameter"] == "case.time_limit_days.registration"


def test_an_external_system_submits_and_a_clerk_accepts_through_the_api(district_system, hy_town, hy_district):
    person = PersonFactory(residence_office=hy_town)
    response = district_system.post(
        "/api/v1/cases/",
        {
            "item": "CJ-GR-001",
            "person": str(person.uid),
            "channel": "online",
            "materials_provided": ["form"],
            "form_data": {"insurance_type": "res_medical", "start_date": "2025-03-01"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "submitted"
    assert body["channel"] == "online"
    assert body["intake_office"] == hy_town.code
    assert body["due_date"] is None
    uid = body["uid"]

    # The system may not do the clerk's step.
    response = district_system.post(f"/api/v1/cases/{uid}/transition/", {"action": "accept"}, format="json")
    assert response.status_code == 403

    desk = clerk(hy_town)
    response = client_for(desk).post(f"/api/v1/cases/{uid}/transition/", {"action": "accept"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "approval"
    assert response.json()["current_office"] == hy_district.code
    assert response.json()["due_date"]

    boss = reviewer(hy_district)
    detail = client_for(boss).get(f"/api/v1/cases/{uid}/").json()
    assert "pass" in detail["allowed_actions"]
    assert [e["action"] for e in detail["events"]] == ["submit", "accept"]
    response = client_for(boss).post(
        f"/api/v1/cases/{uid}/transition/", {"action": "pass", "note": "同意"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "completed"
    assert Enrollment.objects.filter(person=person, insurance_type="res_medical").exists()


def test_bad_input_gets_specific_messages(hy_town):
    client = client_for(clerk(hy_town))
    response = client.post("/api/v1/cases/", {"item": "NOPE", "person": "not-a-uuid"}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "未知的经办事项编码" in errors["item"][0]
    assert "编号格式无效" in errors["person"][0]
    # The same messages in English for systems that read message_en / errors_en.
    english = response.json()["errors_en"]
    assert english["item"][0] and not re.search(r"[\u4e00-\u9fff]", english["item"][0]), english
    response = client.post(
        "/api/v1/cases/",
        {"item": "CJ-GR-001", "person": str(PersonFactory(residence_office=hy_town).uid), "surprise": 1},
        format="json",
    )
    assert response.status_code == 400
    assert "未知字段" in response.json()["errors"]["surprise"][0]
    response = client.post(
        "/api/v1/cases/",
        {
            "item": "CJ-GR-001",
            "person": str(PersonFactory(residence_office=hy_town).uid),
            "form_data": {"insurance_type": "res_medical", "start_date": "someday"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "参保开始日期格式" in response.json()["errors"]["start_date"][0]
    assert not re.search(r"[\u4e00-\u9fff]", response.json()["errors_en"]["start_date"][0])
    assert not Case.objects.exists()


def test_transition_guards_through_the_api(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    url = f"/api/v1/cases/{case.uid}/transition/"
    # Wrong state.
    response = client_for(clerk(hy_town)).post(url, {"action": "accept"}, format="json")
    assert response.status_code == 400
    assert "不能“受理”" in response.json()["errors"]["action"][0]
    # Wrong role.
    response = client_for(clerk(hy_district)).post(url, {"action": "pass"}, format="json")
    assert response.status_code == 403
    assert "审核" in response.json()["message"]
    # Level too low.
    response = client_for(reviewer(hy_town)).post(url, {"action": "pass"}, format="json")
    assert response.status_code == 403
    assert "区级及以上" in response.json()["message"]
    # Out of jurisdiction.
    response = client_for(reviewer(Office.objects.get(code="331004"))).post(url, {"action": "pass"}, format="json")
    assert response.status_code == 404
    # Unknown action and reasonless rejection.
    response = client_for(reviewer(hy_district)).post(url, {"action": "approve-all"}, format="json")
    assert response.status_code == 400
    response = client_for(reviewer(hy_district)).post(url, {"action": "reject"}, format="json")
    assert response.status_code == 400
    assert "不予办理的理由" in response.json()["errors"]["reason"][0]
    case.refresh_from_db()
    assert case.state == CaseState.APPROVAL


def test_same_person_rule_through_the_api(hy_district):
    both = UserFactory(office=hy_district, roles=[roles.COUNTER_CLERK, roles.REVIEWER])
    case = enrollment_case(
        township=hy_district, user=both, person=PersonFactory(residence_office=township_of("331003"))
    )
    response = client_for(both).post(f"/api/v1/cases/{case.uid}/transition/", {"action": "pass"}, format="json")
    assert response.status_code == 403
    assert "双人办理" in response.json()["message"]


def test_listing_is_scoped_and_filterable(hy_town, hy_district):
    mine = enrollment_case(township=hy_town)
    other = enrollment_case(township=township_of("331004"))
    rows = client_for(reviewer(hy_district)).get("/api/v1/cases/?queue=1").json()["results"]
    assert [r["uid"] for r in rows] == [str(mine.uid)]
    rows = client_for(reviewer(hy_district)).get("/api/v1/cases/?item=CJ-GR-001&sla=on_time").json()["results"]
    assert str(other.uid) not in [r["uid"] for r in rows]
    assert client_for(reviewer(hy_district)).get(f"/api/v1/cases/{other.uid}/").status_code == 404


def test_unknown_list_filter_values_are_refused_and_empty_ones_ignored(hy_town, hy_district):
    enrollment_case(township=hy_town)
    client = client_for(reviewer(hy_district))
    for query, field in (("sla=late-ish", "sla"), ("queue=2", "queue")):
        response = client.get(f"/api/v1/cases/?{query}")
        assert response.status_code == 400, query
        assert field in response.json()["errors"]
    assert len(client.get("/api/v1/cases/?sla=&queue=").json()["results"]) == 1


def test_attachments_through_the_api(hy_town):
    case = enrollment_case(township=hy_town)
    client = client_for(clerk(hy_town))
    response = client.post(
        "/api/v1/case-attachments/",
        {"case": str(case.uid), "material": "form", "file": upload("登记表.pdf")},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    uid = response.json()["uid"]
    assert response.json()["material"] == "form"
    download = client.get(f"/api/v1/case-attachments/{uid}/download/")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download.content == pdf_bytes()

    bad = client.post(
        "/api/v1/case-attachments/",
        {"case": str(case.uid), "file": SimpleUploadedFile("tool.pdf", b"MZ\x90\x00" + b"\x00" * 100)},
        format="multipart",
    )
    assert bad.status_code == 400
    assert "Windows 可执行程序" in bad.json()["errors"]["file"][0]
    empty = client.post(
        "/api/v1/case-attachments/",
        {"case": str(case.uid), "file": SimpleUploadedFile("e.pdf", b"")},
        format="multipart",
    )
    assert empty.status_code == 400
    assert Attachment.objects.count() == 1

    # Tampered file: 409 with a message.
    from django.core.files.storage import default_storage

    attachment = Attachment.objects.get()
    with open(default_storage.path(attachment.file.name), "ab") as handle:
        handle.write(b"x")
    response = client.get(f"/api/v1/case-attachments/{uid}/download/")
    assert response.status_code == 409
    assert "校验失败" in response.json()["message"]


def test_attachments_of_a_completed_case_are_refused(hy_town, hy_district):
    case = enrollment_case(township=hy_town)
    client_for(reviewer(hy_district)).post(f"/api/v1/cases/{case.uid}/transition/", {"action": "pass"}, format="json")
    response = client_for(clerk(hy_town)).post(
        "/api/v1/case-attachments/", {"case": str(case.uid), "file": upload()}, format="multipart"
    )
    assert response.status_code == 400
    assert "档案已封存" in response.json()["errors"]["file"][0]


def test_clerks_cannot_delete_or_edit_cases_through_the_api(hy_town):
    case = enrollment_case(township=hy_town)
    client = client_for(head(hy_town))
    assert client.delete(f"/api/v1/cases/{case.uid}/").status_code == 405
    assert client.patch(f"/api/v1/cases/{case.uid}/", {"state": "completed"}, format="json").status_code == 405


def test_the_schema_documents_the_cases_api_in_chinese(hy_town):
    response = client_for(clerk(hy_town)).get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert "/api/v1/cases/{uid}/transition/" in paths
    assert "/api/v1/case-attachments/{uid}/download/" in paths
    assert "/api/v1/service-items/" in paths
    assert paths["/api/v1/cases/"]["post"]["summary"].startswith("提交申请")
    assert paths["/api/v1/cases/{uid}/transition/"]["post"]["summary"].startswith("办理操作")
