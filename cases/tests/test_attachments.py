"""The electronic archive: content-checked uploads, hashes re-checked when served, never served inline, frozen
with the case (and, on PostgreSQL, by the database)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.test import Client

from cases import selectors, services
from cases.models import Attachment, Case, CaseEvent, CaseState
from cases.tests.factories import clerk, enrollment_case, item, jpeg_bytes, pdf_bytes, png_bytes, reviewer, upload
from registry.models import Office
from registry.tests.factories import PersonFactory, township_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def hy_town():
    return township_of("331003")


@pytest.fixture
def open_case(hy_town):
    return enrollment_case(township=hy_town)


def test_pdf_png_and_jpeg_are_archived_with_their_hash(open_case, hy_town):
    desk = clerk(hy_town)
    for name, content, kind in [
        ("登记表.pdf", pdf_bytes(), "application/pdf"),
        ("照片.PNG", png_bytes(), "image/png"),
        ("scan.jpeg", jpeg_bytes(), "image/jpeg"),
    ]:
        attachment = services.attachment_add(
            case=open_case, acting_user=desk, file=upload(name, content), material_code="form"
        )
        assert attachment.content_type == kind
        assert attachment.size == len(content)
        assert len(attachment.sha256) == 64
        assert attachment.original_name == name
        assert attachment.file.name.startswith(f"cases/{open_case.uid}/")
        assert name not in attachment.file.name  # opaque storage name
        assert default_storage.open(attachment.file.name).read() == content
    assert open_case.events.filter(action="attach").count() == 3


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("空文件.pdf", b"", "为空（0 字节）"),
        ("setup.pdf", b"MZ\x90\x00" + b"\x00" * 200, "Windows 可执行程序"),
        ("invoice.pdf", b"<html><script>alert(1)</script></html>", "网页或脚本"),
        ("doc.pdf", b"PK\x03\x04" + b"\x00" * 100, "压缩包"),
        ("notes.txt", b"just some text", "不是 PDF、PNG 或 JPEG"),
        ("photo.pdf", None, "扩展名“.pdf”与文件内容（PNG 图片）不符"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj\n", "不完整"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "已损坏"),
    ],
)
def test_bad_files_are_refused_with_a_specific_message_and_nothing_is_stored(
    open_case, hy_town, name, content, expected
):
    if content is None:
        content = png_bytes()
    with pytest.raises(ValidationError) as exc:
        services.attachment_add(case=open_case, acting_user=clerk(hy_town), file=upload(name, content))
    assert expected in exc.value.message_dict["file"][0]
    assert not Attachment.objects.exists()


def test_an_oversized_file_is_refused(open_case, hy_town, settings):
    settings.CASES_ATTACHMENT_MAX_BYTES = 1024
    with pytest.raises(ValidationError) as exc:
        services.attachment_add(
            case=open_case, acting_user=clerk(hy_town), file=upload("big.pdf", pdf_bytes("x" * 2000))
        )
    assert "超过上限" in exc.value.message_dict["file"][0]
    assert not Attachment.objects.exists()


def test_one_bad_file_refuses_the_whole_intake(hy_town):
    with pytest.raises(ValidationError) as exc:
        services.case_intake(
            acting_user=clerk(hy_town),
            item=item("CJ-GR-001"),
            person=PersonFactory(residence_office=hy_town),
            materials_received=["form"],
            form_data={"insurance_type": "res_medical", "start_date": "2025-01-01"},
            files=[upload("ok.pdf"), upload("virus.pdf", b"MZ" + b"\x00" * 64)],
        )
    assert "virus.pdf" in exc.value.message_dict["file"][0]
    assert not Case.objects.exists()
    assert not Attachment.objects.exists()


def test_download_is_an_attachment_with_nosniff_and_the_hash_is_rechecked(open_case, hy_town, caplog):
    desk = clerk(hy_town)
    attachment = services.attachment_add(case=open_case, acting_user=desk, file=upload("登记表.pdf"))
    client = Client()
    client.force_login(desk)
    response = client.get(f"/cases/attachments/{attachment.uid}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response.content == pdf_bytes()

    # Someone alters the stored file: serving refuses and logs it.
    path = default_storage.path(attachment.file.name)
    with open(path, "r+b") as handle:
        handle.seek(10)
        handle.write(b"TAMPERED")
    with caplog.at_level("ERROR", logger="cases.archive"):
        response = client.get(f"/cases/attachments/{attachment.uid}/")
    assert response.status_code == 409
    assert "校验失败" in response.content.decode()
    assert "SHA-256 mismatch" in caplog.text
    with pytest.raises(selectors.AttachmentIntegrityError):
        selectors.attachment_read_verified(attachment)

    # And a file that disappeared.
    default_storage.delete(attachment.file.name)
    response = client.get(f"/cases/attachments/{attachment.uid}/")
    assert response.status_code == 409
    assert "缺失" in response.content.decode()


def test_an_html_file_can_never_be_served_inline(open_case, hy_town):
    # It cannot even be uploaded; and whatever is served carries attachment + nosniff (above).
    with pytest.raises(ValidationError):
        services.attachment_add(
            case=open_case,
            acting_user=clerk(hy_town),
            file=upload("x.html", b"<!DOCTYPE html><h1>hi</h1>", "text/html"),
        )


def test_a_completed_case_and_its_attachments_are_frozen(open_case, hy_town):
    desk = clerk(hy_town)
    attachment = services.attachment_add(case=open_case, acting_user=desk, file=upload())
    case = services.case_pass(case=open_case, acting_user=reviewer(Office.objects.get(code="331003")))
    assert case.state == CaseState.COMPLETED
    with pytest.raises(ValidationError) as exc:
        services.attachment_add(case=case, acting_user=desk, file=upload("late.pdf"))
    assert "档案已封存" in exc.value.message_dict["file"][0]
    with pytest.raises(ValidationError) as exc:
        services.attachment_remove(attachment=attachment, acting_user=desk, reason="传错了")
    assert "档案已封存" in exc.value.message_dict["file"][0]
    assert Attachment.objects.filter(case=case).count() == 1


def test_a_scan_can_be_removed_from_an_open_case_with_a_reason(open_case, hy_town):
    desk = clerk(hy_town)
    attachment = services.attachment_add(case=open_case, acting_user=desk, file=upload())
    with pytest.raises(ValidationError):
        services.attachment_remove(attachment=attachment, acting_user=desk, reason="")
    services.attachment_remove(attachment=attachment, acting_user=desk, reason="传错了人")
    assert not Attachment.objects.exists()
    assert open_case.events.filter(action="detach", note__contains="传错了人").exists()


def test_attachments_outside_the_jurisdiction_are_not_found(open_case, hy_town):
    attachment = services.attachment_add(case=open_case, acting_user=clerk(hy_town), file=upload())
    luqiao = clerk(Office.objects.get(code="331004"))
    with pytest.raises(Attachment.DoesNotExist):
        selectors.attachment_get(user=luqiao, uid=attachment.uid)
    with pytest.raises(Case.DoesNotExist):
        services.attachment_add(case=open_case, acting_user=luqiao, file=upload())
    client = Client()
    client.force_login(luqiao)
    assert client.get(f"/cases/attachments/{attachment.uid}/").status_code == 404


@pytest.mark.postgres
def test_postgresql_refuses_changes_to_closed_cases_their_archive_and_the_log(open_case, hy_town):
    attachment = services.attachment_add(case=open_case, acting_user=clerk(hy_town), file=upload())
    case = services.case_pass(case=open_case, acting_user=reviewer(Office.objects.get(code="331003")))
    for statement in [
        lambda: Case.objects.filter(pk=case.pk).update(result_summary="改"),
        lambda: Attachment.objects.filter(pk=attachment.pk).update(sha256="0" * 64),
        lambda: Attachment.objects.filter(pk=attachment.pk).delete(),
        lambda: case.materials.update(note="改"),
        lambda: CaseEvent.objects.filter(case=case).update(note="改"),
    ]:
        with pytest.raises(DatabaseError), transaction.atomic():
            statement()
    case.refresh_from_db()
    assert case.result_summary.startswith("已新增参保登记")
