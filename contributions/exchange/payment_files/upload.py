"""Upload checks: the file is checked as a whole (type, encoding, columns) and stored with its SHA-256, and its
import queued for a worker; the same bytes are imported once (a second upload returns the first import and
changes nothing — or resumes it, when it never finished)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.exchange.layout import payment_file_check
from contributions.models import PAYMENT_FILE_LIVE, Channel, PaymentFile, PaymentFileMode, PaymentFileStatus
from contributions.uploads import UploadError
from registry.audit import recorded_user
from registry.jurisdiction import user_office
from registry.locks import AdvisoryLock, advisory_lock_held
from registry.models import Office, OfficeLevel
from registry.task_queue import task_enqueue_on_commit


def payment_file_upload(
    *, name: str, data: bytes, mode: str, acting_user: Any, channel: str = Channel.FILE
) -> tuple[PaymentFile, bool]:
    """Take an uploaded payment file: check its header, store it, and queue its import for a Celery worker
    (``contributions.payment_file_process``, sent after the commit). Returns (file, created), the file ``queued``.

    The same bytes are imported once: ``created`` is False when they were uploaded before, and that file is
    returned — imported (nothing changes), or still queued because its import never finished (the worker died,
    the message was lost): then its import is sent again, as the sweeper would, unless a worker holds its lock.
    Raises ValidationError for a file that cannot be read as a whole (type, encoding, columns) and for a mode the
    user may not choose.
    """
    if mode not in PaymentFileMode.values:
        raise ValidationError({"mode": _("导入方式“%(mode)s”无效。") % {"mode": mode}})
    if mode == PaymentFileMode.SKIP_BAD and not acting_user.has_perm("contributions.import_skip_bad"):
        raise ValidationError({"mode": _("只有管理员可以选择“跳过错误行”导入；请按严格方式导入。")})
    name = (name or "").strip()[-200:] or "payment-file.csv"
    try:
        payment_file_check(name, data)  # a file that cannot be read is refused before anything is stored
    except UploadError as exc:
        raise ValidationError({"file": str(exc)}) from None
    digest = hashlib.sha256(data).hexdigest()
    existing = PaymentFile.objects.filter(sha256=digest, status__in=PAYMENT_FILE_LIVE).first()
    if existing is not None:
        return _resume_if_unfinished(existing), False
    office = user_office(acting_user) or Office.objects.get(level=OfficeLevel.CITY)
    payment_file = PaymentFile(
        name=name,
        sha256=digest,
        size=len(data),
        office=office,
        mode=mode,
        channel=channel,
        uploaded_by=recorded_user(acting_user),
    )
    payment_file.full_clean(exclude=["file"], validate_constraints=False)
    try:
        _store(payment_file, data)
    except IntegrityError:
        # The same bytes uploaded at the same moment by someone else: theirs is the import.
        return PaymentFile.objects.get(sha256=digest, status__in=PAYMENT_FILE_LIVE), False
    # Every file is imported by a worker: a web process killed mid-import left a file queued with nothing to
    # resume it; a worker's message is acknowledged only when the import committed, and the sweeper resends.
    task_enqueue_on_commit("contributions.payment_file_process", payment_file.pk)
    return payment_file, True


def _resume_if_unfinished(payment_file: PaymentFile) -> PaymentFile:
    """A re-upload of a file whose import never finished sends its import again (nothing of it was written: the
    import is one transaction); a file a worker is importing now, or imported, is returned as it is."""
    if payment_file.status not in (PaymentFileStatus.QUEUED, PaymentFileStatus.PROCESSING):
        return payment_file
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            if advisory_lock_held(cur, AdvisoryLock.PAYMENT_FILE, payment_file.pk):
                return payment_file
    task_enqueue_on_commit("contributions.payment_file_process", payment_file.pk)
    return payment_file


def _store(payment_file: PaymentFile, data: bytes) -> None:
    """Save the file row and its bytes together (the unique SHA-256 of a live file may refuse the row)."""
    with transaction.atomic():
        payment_file.save()
        stored = default_storage.save(
            f"exchange/payments/{timezone.localdate():%Y/%m}/{payment_file.uid}.{_suffix(payment_file.name)}",
            ContentFile(data),
        )
        PaymentFile.objects.filter(pk=payment_file.pk).update(file=stored)
        payment_file.file.name = stored


def _suffix(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else "csv"
    return suffix if re.fullmatch(r"[a-z0-9]{1,5}", suffix) else "csv"
