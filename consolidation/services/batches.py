"""Receiving batches: created through the API and filled chunk by chunk (each chunk its own object in storage,
with its SHA-256), or found in the import folder; submitted for loading once every file is complete. The same
files delivered again for the same district are the batch already delivered: nothing changes.

Work is done by Celery tasks dispatched on commit (consolidation.tasks); ``import_batch_requeue_stuck`` puts a
batch whose worker died back in the queue.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consolidation.models import (
    FILE_ORDER,
    LIVE_STATUSES,
    WORKING_STATUSES,
    BatchChannel,
    BatchChunk,
    BatchFile,
    BatchStatus,
    FileKind,
    FileStatus,
    ImportBatch,
)
from consolidation.services.runner import batch_lock_held
from registry.jurisdiction import office_in_jurisdiction
from registry.models import Office, OfficeLevel
from registry.task_queue import task_enqueue_on_commit

MANIFEST = "batch.json"
HASH_READ = 1 << 20


def _user(acting_user: Any) -> Any:
    return acting_user if getattr(acting_user, "pk", None) else None


def _district(code: str, acting_user: Any) -> Office:
    office = Office.objects.filter(code=(code or "").strip(), level=OfficeLevel.DISTRICT).first()
    if office is None:
        raise ValidationError(
            {"district": _("区代码“%(code)s”不是市区的一个区（331002、331003、331004）。") % {"code": code}}
        )
    if acting_user is not None and not office_in_jurisdiction(acting_user, office):
        raise ValidationError({"district": _("%(district)s不在您的辖区内。") % {"district": office.name}})
    return office


@transaction.atomic
def import_batch_create(*, district_code: str, source_system: str, label: str = "", acting_user: Any) -> ImportBatch:
    """A new batch of one district, receiving files (the caller's jurisdiction must cover the district)."""
    batch = ImportBatch(
        district=_district(district_code, acting_user),
        source_system=(source_system or "").strip(),
        label=(label or "").strip(),
        channel=BatchChannel.API,
        created_by=_user(acting_user),
    )
    batch.full_clean(exclude=["fingerprint"])
    batch.save()
    return batch


def _receiving(batch: ImportBatch) -> None:
    if batch.status != BatchStatus.RECEIVING:
        raise ValidationError(
            {"batch": _("批次已提交（%(status)s），不能再更改文件。") % {"status": batch.get_status_display()}}
        )


@transaction.atomic
def batch_file_declare(*, batch: ImportBatch, kind: str, name: str, size: int, sha256: str) -> BatchFile:
    """Announce a file of the batch (its kind, name, size and SHA-256); its chunks follow. One file per kind."""
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    _receiving(batch)
    if kind not in FileKind.values:
        raise ValidationError({"kind": _("文件类型应为 employers、persons、enrollments 或 history。")})
    if size <= 0 or size > settings.CONSOLIDATION_FILE_MAX_BYTES:
        raise ValidationError(
            {
                "size": _("文件大小应在 1 字节到 %(gb)s GB 之间。")
                % {"gb": settings.CONSOLIDATION_FILE_MAX_BYTES // 1024**3}
            }
        )
    sha256 = (sha256 or "").strip().lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValidationError({"sha256": _("SHA-256 应为 64 位十六进制数字。")})
    existing = BatchFile.objects.filter(batch=batch, kind=kind).first()
    if existing is not None:
        if (existing.name, existing.size, existing.sha256) == (name, size, sha256):
            return existing  # the same declaration again
        raise ValidationError({"kind": _("本批次已有%(kind)s文件。") % {"kind": FileKind(kind).label}})
    batch_file = BatchFile(
        batch=batch, kind=kind, name=(name or "").strip()[:200] or f"{kind}.csv", size=size, sha256=sha256
    )
    batch_file.full_clean()
    batch_file.save()
    return batch_file


def batch_chunk_store(*, batch_file: BatchFile, index: int, stream: Any, length: int, sha256: str = "") -> BatchChunk:
    """Store one chunk (read from ``stream``, ``length`` bytes at most CONSOLIDATION_CHUNK_MAX_BYTES) as its own
    object. The same chunk again (same index and bytes) changes nothing; other bytes for a received index are
    refused. ``sha256``, when given, must be the chunk's."""
    if index < 0 or index > 1_000_000:
        raise ValidationError({"index": _("分块序号应为 0 到 1000000 之间的整数。")})
    if length <= 0 or length > settings.CONSOLIDATION_CHUNK_MAX_BYTES:
        raise ValidationError(
            {
                "chunk": _("每个分块应为 1 字节到 %(mb)s MB。")
                % {"mb": settings.CONSOLIDATION_CHUNK_MAX_BYTES // (1024 * 1024)}
            }
        )
    batch_file = BatchFile.objects.select_related("batch").get(pk=batch_file.pk)
    _receiving(batch_file.batch)
    if batch_file.status != FileStatus.RECEIVING:
        raise ValidationError({"chunk": _("文件已接收完整，不能再上传分块。")})
    data = stream.read(length + 1)
    if len(data) != length:
        raise ValidationError(
            {
                "chunk": _("分块内容的长度（%(got)s）与声明的 %(length)s 字节不符。")
                % {"got": len(data), "length": length}
            }
        )
    digest = hashlib.sha256(data).hexdigest()
    if sha256 and sha256.strip().lower() != digest:
        raise ValidationError({"sha256": _("分块的 SHA-256 不符：收到的内容为 %(digest)s。") % {"digest": digest}})
    existing = BatchChunk.objects.filter(file=batch_file, index=index).first()
    if existing is not None:
        if existing.sha256 == digest:
            return existing
        raise ValidationError(
            {"index": _("第 %(index)s 块已收到且内容不同；如需重传整份文件，请新建批次。") % {"index": index}}
        )
    name = default_storage.save(f"consolidation/{batch_file.batch.uid}/{batch_file.uid}/{index:07d}", ContentFile(data))
    try:
        with transaction.atomic():
            return BatchChunk.objects.create(
                file=batch_file, index=index, size=length, sha256=digest, storage_name=name
            )
    except IntegrityError:  # the same chunk stored at the same moment by a retry: theirs counts
        default_storage.delete(name)
        chunk = BatchChunk.objects.get(file=batch_file, index=index)
        if chunk.sha256 != digest:
            raise ValidationError({"index": _("第 %(index)s 块已收到且内容不同。") % {"index": index}}) from None
        return chunk


@transaction.atomic
def batch_file_complete(*, batch_file: BatchFile) -> BatchFile:
    """Every chunk is there (0…n-1), the sizes add up and the SHA-256 of the whole is the declared one."""
    batch_file = BatchFile.objects.select_for_update().select_related("batch").get(pk=batch_file.pk)
    if batch_file.status == FileStatus.COMPLETE:
        return batch_file
    _receiving(batch_file.batch)
    chunks = list(batch_file.chunks.order_by("index"))
    missing = sorted(set(range(len(chunks) and chunks[-1].index + 1)) - {c.index for c in chunks})
    if not chunks or missing:
        raise ValidationError(
            {"chunks": _("缺少分块：%(missing)s。") % {"missing": ", ".join(map(str, missing[:20])) or "0"}}
        )
    size = sum(c.size for c in chunks)
    if size != batch_file.size:
        raise ValidationError(
            {"size": _("各分块共 %(got)s 字节，与声明的 %(size)s 字节不符。") % {"got": size, "size": batch_file.size}}
        )
    digest = hashlib.sha256()
    for chunk in chunks:
        with default_storage.open(chunk.storage_name, "rb") as handle:
            while piece := handle.read(HASH_READ):
                digest.update(piece)
    if digest.hexdigest() != batch_file.sha256:
        raise ValidationError(
            {
                "sha256": _("整份文件的 SHA-256 为 %(digest)s，与声明的不符：请检查后重传。")
                % {"digest": digest.hexdigest()}
            }
        )
    batch_file.status = FileStatus.COMPLETE
    batch_file.save(update_fields=["status"])
    return batch_file


def batch_fingerprint(files: list[BatchFile]) -> str:
    text = "\n".join(f"{f.kind}:{f.sha256}" for f in sorted(files, key=lambda f: f.kind))
    return hashlib.sha256(text.encode()).hexdigest()


def import_batch_submit(*, batch: ImportBatch, acting_user: Any) -> tuple[ImportBatch, bool]:
    """Queue a batch whose files are all complete for loading and checking. Returns (batch, queued): when the
    same files were delivered for the district before, that batch is returned, this one is marked a duplicate
    and nothing is loaded."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status != BatchStatus.RECEIVING:
            return batch, False
        files = list(batch.files.all())
        if not any(f.kind == FileKind.PERSONS for f in files) and not any(f.kind == FileKind.EMPLOYERS for f in files):
            raise ValidationError({"files": _("批次至少应有参保人员文件或参保单位文件。")})
        unfinished = [f.name for f in files if f.status != FileStatus.COMPLETE]
        if unfinished:
            raise ValidationError({"files": _("文件尚未接收完整：%(names)s。") % {"names": "、".join(unfinished)}})
        return _queue(batch, files)


def _queue(batch: ImportBatch, files: list[BatchFile]) -> tuple[ImportBatch, bool]:
    """In the caller's transaction: the batch gets its fingerprint and is queued, or is a duplicate."""
    fingerprint = batch_fingerprint(files)
    earlier = (
        ImportBatch.objects.filter(district=batch.district, fingerprint=fingerprint, status__in=LIVE_STATUSES)
        .exclude(pk=batch.pk)
        .first()
    )
    if earlier is not None:
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.DUPLICATE, duplicate_of=earlier, fingerprint=fingerprint
        )
        return earlier, False
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.QUEUED, fingerprint=fingerprint, submitted_at=timezone.now(), heartbeat_at=None
    )
    batch_id = batch.pk
    _dispatch("load", batch_id)
    batch.refresh_from_db()
    return batch, True


def _dispatch(work: str, batch_id: int) -> None:
    """Queue the load or the apply (by the task's name: the tasks module imports these services)."""
    task_enqueue_on_commit("consolidation.batch_load" if work == "load" else "consolidation.batch_apply", batch_id)


@transaction.atomic
def import_batch_apply_start(*, batch: ImportBatch, acting_user: Any) -> ImportBatch:
    """Confirm a checked batch (or retry a failed one): queue its apply."""
    if not acting_user.has_perm("consolidation.apply_importbatch"):
        raise PermissionDenied(_("您的角色不能确认导入批次。"))
    batch = ImportBatch.objects.select_for_update().select_related("district").get(pk=batch.pk)
    if not office_in_jurisdiction(acting_user, batch.district):
        raise ImportBatch.DoesNotExist
    if batch.status == BatchStatus.FAILED and batch.checked_at is None:
        return import_batch_requeue(batch=batch)
    if batch.status not in (BatchStatus.CHECKED, BatchStatus.FAILED):
        raise ValidationError(
            {"batch": _("批次状态为“%(status)s”，不能导入。") % {"status": batch.get_status_display()}}
        )
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.APPLY_QUEUED, applied_by=_user(acting_user), heartbeat_at=None, error=""
    )
    _dispatch("apply", batch.pk)
    batch.refresh_from_db()
    return batch


def import_batch_requeue(*, batch: ImportBatch) -> ImportBatch:
    """Dispatch the task a working (or failed) batch needs again: the load or the apply (both resume)."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        applying = batch.status in (BatchStatus.APPLY_QUEUED, BatchStatus.APPLYING) or (
            batch.status == BatchStatus.FAILED and batch.checked_at is not None
        )
        status = BatchStatus.APPLY_QUEUED if applying else BatchStatus.QUEUED
        ImportBatch.objects.filter(pk=batch.pk).update(status=status, heartbeat_at=timezone.now())
        _dispatch("apply" if applying else "load", batch.pk)
    batch.refresh_from_db()
    return batch


def import_batches_stuck(*, stale_seconds: int | None = None) -> list[ImportBatch]:
    """Working batches whose worker is gone: nobody holds their lock and their heartbeat (or, never started,
    their submission) is older than the staleness limit (setting CONSOLIDATION_STALE_SECONDS)."""
    limit = timezone.now() - datetime.timedelta(seconds=stale_seconds or settings.CONSOLIDATION_STALE_SECONDS)
    candidates = ImportBatch.objects.filter(status__in=WORKING_STATUSES).order_by("id")
    return [
        b
        for b in candidates
        if (b.heartbeat_at or b.submitted_at or b.created_at) < limit and not batch_lock_held(b.pk)
    ]


def import_batch_requeue_stuck(*, batch_id: int, stale_seconds: int | None = None) -> bool:
    """The one function a sweeper calls per batch: re-enqueue the batch when it is stuck (see
    ``import_batches_stuck``); False when it is not (its worker is alive, or it is not working)."""
    stuck = {b.pk for b in import_batches_stuck(stale_seconds=stale_seconds)}
    if batch_id not in stuck:
        return False
    import_batch_requeue(batch=ImportBatch.objects.get(pk=batch_id))
    return True


# ---------------------------------------------------------------------------------------------
# The import folder.


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while piece := handle.read(HASH_READ):
            digest.update(piece)
    return digest.hexdigest()


def import_folder_scan(*, root: str | None = None) -> list[ImportBatch]:
    """Register and queue every batch folder of the import folder not registered yet: a folder is ready when it
    holds ``batch.json`` (written last): ``{"district": "331003", "source_system": "…", "label": "…",
    "files": {"persons": "persons.csv", …}}``. A folder whose manifest cannot be used gets a rejected batch with
    the reason. Returns the batches queued now."""
    root_path = Path(root or settings.CONSOLIDATION_IMPORT_DIR or "")
    if not str(root_path) or not root_path.is_dir():
        return []
    queued = []
    for folder in sorted(p for p in root_path.iterdir() if p.is_dir() and (p / MANIFEST).is_file()):
        if ImportBatch.objects.filter(channel=BatchChannel.FOLDER, folder=str(folder)).exists():
            continue
        batch, is_new = folder_batch_register(folder=folder)
        if is_new and batch.status == BatchStatus.QUEUED:
            queued.append(batch)
    return queued


def folder_batch_register(*, folder: Path) -> tuple[ImportBatch, bool]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        district = _district(str(manifest.get("district", "")), None)
        files = manifest.get("files") or {}
        if not isinstance(files, dict) or not files:
            raise ValueError(_("batch.json 中没有 files。"))
    except (ValueError, OSError, ValidationError, AttributeError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        city = Office.objects.get(level=OfficeLevel.CITY)
        bad = ImportBatch.objects.create(
            district=Office.objects.filter(level=OfficeLevel.DISTRICT).order_by("code").first() or city,
            source_system="",
            channel=BatchChannel.FOLDER,
            folder=str(folder),
            status=BatchStatus.REJECTED,
            error=_("导入目录 %(folder)s 的 batch.json 无法使用：%(error)s")
            % {"folder": folder.name, "error": message},
        )
        return bad, True
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            district=district,
            source_system=str(manifest.get("source_system", ""))[:100],
            label=str(manifest.get("label", "") or folder.name)[:200],
            channel=BatchChannel.FOLDER,
            folder=str(folder),
        )
        problems = []
        rows = []
        for kind, name in files.items():
            path = (folder / str(name)).resolve()
            if kind not in FILE_ORDER or not path.is_file() or folder.resolve() not in path.parents:
                problems.append(f"{kind}: {name}")
                continue
            rows.append(
                BatchFile(
                    batch=batch,
                    kind=kind,
                    name=path.name[:200],
                    size=path.stat().st_size,
                    sha256=_sha256_of(path),
                    path=str(path),
                    status=FileStatus.COMPLETE,
                )
            )
        if problems:
            ImportBatch.objects.filter(pk=batch.pk).update(
                status=BatchStatus.REJECTED,
                error=_(
                    "batch.json 列出的文件不可用（类型应为 employers、persons、enrollments、history，文件须在本目录内）：%(files)s"
                )
                % {"files": "、".join(problems)},
            )
            batch.refresh_from_db()
            return batch, True
        BatchFile.objects.bulk_create(rows)
        queued, is_new = _queue(batch, rows)
    return queued, is_new
