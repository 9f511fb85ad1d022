"""Attachments chosen before a validation error are kept: the files of a refused intake are staged (Django's storage,
under ``staging/``) and listed in the clerk's session; the re-shown form names them, and the next submit takes them
again. Only the session that staged a file can take it back."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

SESSION_KEY = "staged_files"
MAX_STAGED = 20


def _staged(session) -> dict[str, dict]:
    return dict(session.get(SESSION_KEY) or {})


def files_stage(session, files: list[Any], limit_bytes: int) -> list[str]:
    """Store ``files`` (each at most ``limit_bytes``; larger ones are not kept) and return their ids."""
    staged = _staged(session)
    ids = []
    for upload in files[:MAX_STAGED]:
        if getattr(upload, "size", 0) > limit_bytes:
            continue
        upload.seek(0)
        sid = uuid.uuid4().hex
        path = default_storage.save(f"staging/{sid}", ContentFile(upload.read(limit_bytes + 1)))
        staged[sid] = {"name": str(upload.name)[:200], "path": path}
        ids.append(sid)
    session[SESSION_KEY] = staged
    return ids


def staged_names(session, ids: list[str]) -> list[tuple[str, str]]:
    staged = _staged(session)
    return [(sid, staged[sid]["name"]) for sid in ids if sid in staged]


def staged_ids(session) -> list[str]:
    return list(_staged(session))


def files_unstage(session, ids: list[str]) -> list[ContentFile]:
    """The staged files as uploads again (still staged: ``files_forget`` once they are stored with the case)."""
    staged = _staged(session)
    out = []
    for sid in ids:
        entry = staged.get(sid)
        if entry is None:
            continue
        with default_storage.open(entry["path"], "rb") as handle:
            out.append(ContentFile(handle.read(), name=entry["name"]))
    return out


def files_forget(session, ids: list[str]) -> None:
    staged = _staged(session)
    for sid in ids:
        entry = staged.pop(sid, None)
        if entry is not None:
            default_storage.delete(entry["path"])
    session[SESSION_KEY] = staged
