"""One application error: ``registry.exceptions`` mapped once to pages (middleware) and once to the API format.

A refusal keeps its message and status; Python's own ``PermissionError`` (an OSError: the disk said no) is not a
refusal and stays a logged server error on every channel.
"""

import logging

import pytest
from django.core.files.storage import default_storage
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from cases.models import Case
from cases.selectors import AttachmentIntegrityError
from cases.tests.factories import clerk, upload
from policies.models import PolicyDocument
from registry import roles
from registry.api.errors import exception_handler
from registry.exceptions import ApplicationError, ConflictError, PermissionDeniedError
from registry.middleware import ApplicationErrorMiddleware
from registry.tests.factories import PersonFactory, UserFactory, office, township_of

pytestmark = pytest.mark.django_db


def _api_request(path="/api/v1/persons/"):
    request = RequestFactory().post(path)
    request.request_id = "req-1"
    return request


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ApplicationError("请求有误。"), 400, "validation_error"),
        (PermissionDeniedError("您的角色无权查看完整公民身份号码。"), 403, "permission_denied"),
        (ConflictError("记录当前状态不允许该操作。"), 409, "conflict"),
        (AttachmentIntegrityError("档案文件缺失，已记录并通知管理员。"), 409, "integrity_error"),
    ],
)
def test_api_handler_gives_each_error_its_status_code_and_message(error, status, code):
    response = exception_handler(error, {"request": _api_request()})
    assert response.status_code == status
    assert response.data["code"] == code
    assert response.data["message"] == str(error.message)
    assert response.data["request_id"] == "req-1"


def test_api_handler_puts_extra_under_errors_with_english():
    error = PermissionDeniedError(
        "您的角色无权查看完整公民身份号码。", {"id_number": ["您的角色无权查看完整公民身份号码。"]}
    )
    body = exception_handler(error, {"request": _api_request()}).data
    assert body["errors"] == {"id_number": ["您的角色无权查看完整公民身份号码。"]}
    assert body["message_en"] != body["message"] and body["errors_en"]["id_number"] == [body["message_en"]]


def test_a_real_permission_error_is_not_a_refusal_anywhere():
    disk = PermissionError(13, "Permission denied", "/srv/media/cases/x.pdf")
    assert exception_handler(disk, {"request": _api_request()}) is None  # DRF re-raises: a 500, logged
    assert ApplicationErrorMiddleware(lambda r: None).process_exception(RequestFactory().get("/cases/"), disk) is None


def test_api_route_refusal_keeps_status_message_and_english():
    clerk_user = UserFactory(office=office("331003"), roles=[roles.COUNTER_CLERK])
    person = PersonFactory(residence_office=township_of("331003"))
    client = APIClient()
    client.force_authenticate(clerk_user)
    response = client.post(f"/api/v1/persons/{person.uid}/reveal-id-number/")
    body = response.json()
    assert response.status_code == 403
    assert (body["code"], body["message"]) == ("permission_denied", "您的角色无权查看完整公民身份号码。")
    assert body["message_en"] and body["message_en"] != body["message"]


def test_non_drf_api_view_gets_the_error_format_from_the_middleware():
    response = ApplicationErrorMiddleware(lambda r: None).process_exception(
        _api_request("/api/v1/anything/"), ConflictError("记录当前状态不允许该操作。")
    )
    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/json")
    assert b"conflict" in response.content


def test_page_shows_a_service_refusal_with_its_status():
    township = township_of("331003")
    user = UserFactory(office=township, roles=[roles.COUNTER_CLERK])
    document = PolicyDocument.objects.filter(level="city").first()
    client = Client()
    client.force_login(user)
    response = client.post(
        f"/policies/documents/{document.uid}/repeal/", {"repealed_on": "2030-01-01", "reason": "试废止"}
    )
    assert response.status_code == 403
    assert "您的角色无权废止政策文件。" in response.content.decode()
    document.refresh_from_db()
    assert document.repealed_on is None


def test_disk_permission_error_during_intake_is_a_logged_500_not_a_message(monkeypatch, caplog):
    township = township_of("331003")
    person = PersonFactory(residence_office=township)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(default_storage, "save", refuse)
    client = Client(raise_request_exception=False)
    client.force_login(clerk(township))
    with caplog.at_level(logging.ERROR, logger="django.request"):
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
    assert response.status_code == 500
    assert any(record.exc_info and record.exc_info[0] is PermissionError for record in caplog.records)
    assert not Case.objects.exists()


def test_no_production_code_raises_or_catches_the_builtin_permission_error():
    import pathlib
    import re

    from django.conf import settings

    from registry.tests.helpers import project_apps

    root = pathlib.Path(settings.BASE_DIR)
    pattern = re.compile(r"raise PermissionError\b|except[^:\n]*\bPermissionError\b")
    offenders = [
        str(path.relative_to(root))
        for app in project_apps()
        for path in (root / app).rglob("*.py")
        if "tests" not in path.parts and pattern.search(path.read_text())
    ]
    assert offenders == [], "raise registry.exceptions.PermissionDeniedError; catch ApplicationError"
