"""The electronic archive (档案电子化): attachments checked on their content, stored with a SHA-256.

- Types are recognised from the first bytes (PDF ``%PDF-``, PNG, JPEG), never from the file name; an
  executable, HTML, an archive or anything else is refused, and so is a name whose extension does not
  match the content (an ``.exe`` renamed ``.pdf``).
- Size: more than 0 bytes and at most ``CASES_ATTACHMENT_MAX_BYTES`` (setting, default 10 MiB).
- Stored through Django's default storage under an opaque name (``cases/<case uid>/<attachment uid>.<ext>``),
  so the archive can move to object storage by configuration.
- Frozen with the case: nothing is added to or removed from a closed case (PostgreSQL also refuses
  UPDATE/DELETE of such rows by trigger).
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from registry.audit import recorded_user

from ..models import Attachment, AttachmentKind, Case, CaseAction, ServiceItemMaterial
from ..rules import check_jurisdiction, check_system_channel
from ._common import event_record

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


def max_bytes() -> int:
    return int(getattr(settings, "CASES_ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


@dataclass(frozen=True)
class FileType:
    content_type: str
    label: str
    extensions: tuple[str, ...]


PDF = FileType("application/pdf", "PDF 文件", (".pdf",))
PNG = FileType("image/png", "PNG 图片", (".png",))
JPEG = FileType("image/jpeg", "JPEG 图片", (".jpg", ".jpeg"))
ALLOWED_TYPES = (PDF, PNG, JPEG)

# Signatures of content that is refused with a specific message.
_REFUSED_SIGNATURES: list[tuple[bytes, str]] = [
    (b"MZ", "Windows 可执行程序（EXE/DLL）"),
    (b"\x7fELF", "Linux 可执行程序（ELF）"),
    (b"PK\x03\x04", "压缩包或 Office 文档（ZIP）"),
    (b"Rar!", "RAR 压缩包"),
    (b"7z\xbc\xaf", "7z 压缩包"),
    (b"#!", "脚本文件"),
    (b"GIF8", "GIF 图片"),
]


def detect_type(head: bytes) -> FileType | None:
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def _describe_refused(head: bytes) -> str:
    for signature, label in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return label
    sniff = head[:512].lstrip().lower()
    if sniff.startswith((b"<!doctype", b"<html", b"<script", b"<svg", b"<?xml")) or b"<script" in sniff:
        return "网页或脚本（HTML/SVG/XML）"
    return ""


def file_check(*, name: str, content: bytes) -> FileType:
    """The type of an upload, recognised from its content; ValidationError on the ``file`` field otherwise."""
    size = len(content)
    limit = max_bytes()
    if size == 0:
        raise ValidationError({"file": [_("文件“%(name)s”为空（0 字节）。") % {"name": name}]})
    if size > limit:
        raise ValidationError(
            {
                "file": [
                    _("文件“%(name)s”大小为 %(size).1f MB，超过上限 %(limit).1f MB。")
                    % {"name": name, "size": size / 1048576, "limit": limit / 1048576}
                ]
            }
        )
    head = content[:1024]
    detected = detect_type(head)
    if detected is None:
        refused = _describe_refused(head)
        if refused:
            raise ValidationError(
                {
                    "file": [
                        _("文件“%(name)s”的内容是%(what)s，不能作为档案附件上传；只接受 PDF、PNG、JPEG。")
                        % {"name": name, "what": refused}
                    ]
                }
            )
        raise ValidationError(
            {"file": [_("文件“%(name)s”的内容不是 PDF、PNG 或 JPEG，不能作为档案附件上传。") % {"name": name}]}
        )
    extension = os.path.splitext(name)[1].lower()
    if extension and extension not in detected.extensions:
        raise ValidationError(
            {
                "file": [
                    _("文件“%(name)s”的扩展名“%(ext)s”与文件内容（%(what)s）不符。")
                    % {"name": name, "ext": extension, "what": detected.label}
                ]
            }
        )
    if detected is PDF and b"%%EOF" not in content[-2048:]:
        raise ValidationError({"file": [_("PDF 文件“%(name)s”不完整（缺少文件结束标记）。") % {"name": name}]})
    if detected in (PNG, JPEG):
        try:
            with Image.open(io.BytesIO(content)) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ValidationError({"file": [_("图片文件“%(name)s”已损坏，无法识别。") % {"name": name}]}) from None
    return detected


def _clean_name(name: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"/\\|?*')
    return (base or "附件")[:200]


def _read_upload(file: Any) -> tuple[str, bytes]:
    name = _clean_name(getattr(file, "name", "") or "")
    limit = max_bytes()
    size = getattr(file, "size", None)
    if size is not None and size > limit:
        # Do not read a huge upload into memory just to refuse it.
        file_check(name=name, content=b"\0" * (limit + 1))
    if hasattr(file, "seek"):
        file.seek(0)
    content = file.read(limit + 1)
    return name, content


def _store(case: Case, *, content: bytes, file_type: FileType, original_name: str, material, kind: str, acting_user):
    attachment_uid = uuid.uuid4()
    path = f"cases/{case.uid}/{attachment_uid}{file_type.extensions[0]}"
    stored = default_storage.save(path, ContentFile(content))
    attachment = Attachment(
        uid=attachment_uid,
        case=case,
        material=material,
        kind=kind,
        file=stored,
        original_name=original_name,
        content_type=file_type.content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=recorded_user(acting_user),
    )
    attachment.full_clean()
    attachment.save()
    return attachment


def _material_for(case: Case, code: str) -> ServiceItemMaterial | None:
    code = (code or "").strip()
    if not code:
        return None
    material = ServiceItemMaterial.objects.filter(item_id=case.item_id, code=code).first()
    if material is None:
        raise ValidationError({"material": [_("本事项没有编码为“%(code)s”的申请材料。") % {"code": code}]})
    return material


def _open_case_or_refuse(case: Case, what: str) -> Case:
    case = Case.objects.select_for_update().get(pk=case.pk)
    if case.is_closed:
        raise ValidationError(
            {
                "file": [
                    _("本件已“%(state)s”，档案已封存，不能%(what)s。")
                    % {"state": case.get_state_display(), "what": what}
                ]
            }
        )
    return case


def attachments_precheck(files: list[Any]) -> None:
    """Check every upload before anything is stored (an intake with one bad file stores none)."""
    for upload in files:
        name, content = _read_upload(upload)
        file_check(name=name, content=content)
        if hasattr(upload, "seek"):
            upload.seek(0)


@transaction.atomic
def attachment_add(
    *, case: Case, acting_user: Any, file: Any, material_code: str = "", kind: str = AttachmentKind.SCAN
) -> Attachment:
    """Archive one uploaded file on an open case (checks type, size and name on the content)."""
    check_jurisdiction(case, acting_user)
    check_system_channel(case, acting_user)
    if kind not in (AttachmentKind.SCAN, AttachmentKind.OTHER):
        raise ValidationError({"kind": [_("只能上传申请材料扫描件或其他附件。")]})
    case = _open_case_or_refuse(case, _("再添加附件"))
    material = _material_for(case, material_code)
    name, content = _read_upload(file)
    file_type = file_check(name=name, content=content)
    attachment = _store(
        case,
        content=content,
        file_type=file_type,
        original_name=name,
        material=material,
        kind=kind,
        acting_user=acting_user,
    )
    event_record(
        case,
        action=CaseAction.ATTACH,
        acting_user=acting_user,
        note=name,
        data={"attachment": str(attachment.uid), "sha256": attachment.sha256, "size": attachment.size},
    )
    return attachment


def attachment_store_generated(
    *, case: Case, acting_user: Any, content: bytes, name: str, kind: str = AttachmentKind.CERTIFICATE
) -> Attachment:
    """Archive a file the system generated (a certificate) — called inside the completing transaction."""
    file_type = file_check(name=name, content=content)
    return _store(
        case,
        content=content,
        file_type=file_type,
        original_name=_clean_name(name),
        material=None,
        kind=kind,
        acting_user=acting_user,
    )


@transaction.atomic
def attachment_remove(*, attachment: Attachment, acting_user: Any, reason: str) -> None:
    """Remove a wrongly uploaded scan from an open case (the log keeps its name and hash)."""
    check_jurisdiction(attachment.case, acting_user)
    check_system_channel(attachment.case, acting_user)
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("请填写删除附件的原因。")]})
    case = _open_case_or_refuse(attachment.case, _("删除附件"))
    if attachment.kind == AttachmentKind.CERTIFICATE:
        raise ValidationError({"file": [_("系统出具的证明文件不能删除。")]})
    name, digest, path = attachment.original_name, attachment.sha256, attachment.file.name
    attachment.delete()
    transaction.on_commit(lambda: default_storage.delete(path))
    event_record(
        case,
        action=CaseAction.DETACH,
        acting_user=acting_user,
        note=f"{name}：{reason.strip()}",
        data={"sha256": digest},
    )
