"""``Idempotency-Key`` for POST, PUT and PATCH under /api/, for every route (``ApiMiddleware`` calls in).

Per caller (system account, or staff user) a key stands for one request: method, path and a SHA-256 of the
body. The first request inserts an ``IdempotencyRecord`` in its own, committed transaction before doing the
work; the unique constraint on (caller, key) lets exactly one request through. Its response (status, body,
the headers that matter) is stored on the record afterwards. A repeat gets that response back, marked
``Idempotent-Replayed: true``, without the work being done again; a request arriving while the first is still
working waits for it (``IDEMPOTENCY_WAIT_SECONDS``) and then gets the stored response, or 409
``idempotency_in_progress``. The same key with another method, path or body is 422. Responses of 5xx (and
401/403/409/429, which did no work) are not stored: the record is deleted and the key may be retried.
Records expire after ``IDEMPOTENCY_KEY_TTL_HOURS``; an in-progress record older than
``IDEMPOTENCY_STALE_SECONDS`` (its worker died) may be taken over.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import tempfile
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import APIException

from registry.api.auth import NO_API_KEY, request_api_key
from registry.api.calllog import route_of
from registry.api.errors import error_response
from registry.models import IdempotencyRecord, IdempotencyState

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PUT", "PATCH"})
KEY_RE = re.compile(r"^[\x20-\x7e]{1,100}$")
# Outcomes of requests that did no work: storing them would replay a refusal after its cause was fixed.
NOT_STORED = frozenset({401, 403, 409, 429})
STORED_HEADERS = ("Content-Type", "Location", "Content-Disposition", "ETag", "Last-Modified")
POLL_SECONDS = 0.05


def _principal(request) -> str | None:
    key = request_api_key(request)
    if key is NO_API_KEY:
        user = getattr(request, "user", None)
        return f"user:{user.pk}" if user is not None and user.is_authenticated else None
    return f"system:{key.account_id}" if key is not None else None


def _body_digest(request) -> str:
    """SHA-256 of the body, leaving the body readable for the view.

    A multipart body is hashed without its boundary: clients pick a new random boundary for every request,
    also for a retry of the same upload.
    """
    boundary = b""
    if request.content_type == "multipart/form-data":
        boundary = request.content_params.get("boundary", "").encode("latin-1")
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if limit is None or length <= limit:
        body = request.body
        return hashlib.sha256(body.replace(boundary, b"") if boundary else body).hexdigest()
    # A multipart upload beyond the in-memory limit (its file parts are not counted against it): hash it
    # while copying it to a temporary file, and let the view read that copy.
    digest = hashlib.sha256()
    spool = tempfile.SpooledTemporaryFile(max_size=limit)  # noqa: SIM115 — closed in idempotency_finish
    carry = b""
    while chunk := request.read(64 * 1024):
        spool.write(chunk)
        if not boundary:
            digest.update(chunk)
            continue
        # Keep the last len(boundary) - 1 bytes back: a boundary may straddle two chunks.
        buffer = (carry + chunk).replace(boundary, b"")
        cut = max(0, len(buffer) - len(boundary) + 1)
        digest.update(buffer[:cut])
        carry = buffer[cut:]
    digest.update(carry)
    spool.seek(0)
    request._stream = spool
    request._read_started = False
    request._idempotency_spool = spool
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.status)
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def _still_permitted(request, view_func, view_args, view_kwargs) -> bool:
    """Would the view let this caller in now? Its authentication and permission checks (the system's operations,
    the user's roles), run as DRF runs them, before a stored response is handed out again: a grant withdrawn
    since the first call must not keep answering. (A view that is not DRF's has no such checks to repeat.)"""
    cls = getattr(view_func, "cls", None)
    if cls is None or not hasattr(cls, "check_permissions"):
        return True
    view = cls(**getattr(view_func, "initkwargs", {}))
    actions = getattr(view_func, "actions", None)
    if actions:  # as ViewSetMixin.as_view binds them; initialize_request then sets view.action
        view.action_map = actions
        for method, action in actions.items():
            setattr(view, method, getattr(view, action))
    view.args, view.kwargs, view.format_kwarg, view.headers = view_args, view_kwargs, None, {}
    view.request = drf_request = view.initialize_request(request)
    try:
        view.perform_authentication(drf_request)
        view.check_permissions(drf_request)
    except APIException:
        return False
    return True


def idempotency_begin(request, view_func=None, view_args=(), view_kwargs=None) -> HttpResponse | None:
    """Before the view: None to go on (the request then owns its key, if it has one), or the response.

    A completed key is replayed only to a caller the view would still let in; otherwise the request goes on
    to the view, which refuses it as it refuses any call it does not permit."""
    if request.method not in METHODS or HEADER not in request.headers:
        return None
    key = request.headers[HEADER]
    if not KEY_RE.match(key) or not key.strip():
        return error_response(
            request,
            400,
            _("请求头 Idempotency-Key 须为 1 至 100 个可打印 ASCII 字符。"),
            {HEADER: [_("格式无效。")]},
            code="invalid_idempotency_key",
        )
    principal = _principal(request)
    if principal is None:
        return None  # nobody to keep the key for: the view answers 401/403
    fingerprint = _fingerprint(request)
    stale = datetime.timedelta(seconds=settings.IDEMPOTENCY_STALE_SECONDS)
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while True:
        now = timezone.now()
        record = _claim(request, principal, key, fingerprint, now)
        if record is not None:
            request._idempotency_record = record
            return None
        record = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
        if record is None:
            continue  # the first attempt failed and released the key meanwhile: claim it
        if record.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=record.pk, expires_at__lte=now).delete()
            continue
        if record.fingerprint != fingerprint:
            return error_response(
                request,
                422,
                _("该 Idempotency-Key 已用于另一个请求（方法、地址或请求体不同）；新的请求请使用新的键。"),
                {HEADER: [_("与首次请求不一致。")]},
                code="idempotency_key_reused",
            )
        if record.state == IdempotencyState.COMPLETED:
            if not _still_permitted(request, view_func, view_args, view_kwargs or {}):
                return None
            return _replay(record)
        if record.locked_at <= now - stale:
            if _take_over(record, now):
                request._idempotency_record = record
                return None
            continue
        if time.monotonic() >= deadline:
            return error_response(
                request,
                409,
                _("使用同一 Idempotency-Key 的请求仍在处理中，请稍后重试。"),
                code="idempotency_in_progress",
            )
        time.sleep(POLL_SECONDS)


def _fingerprint(request) -> str:
    """What makes a repeat the same request: method, path with query, body."""
    return hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n{_body_digest(request)}".encode()).hexdigest()


def _claim(request, principal: str, key: str, fingerprint: str, now: datetime.datetime) -> IdempotencyRecord | None:
    """The key's new record, in progress; None when another request holds the key (or held it)."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                principal=principal,
                key=key,
                fingerprint=fingerprint,
                method=request.method,
                route=route_of(request)[:200],
                created_at=now,
                locked_at=now,
                expires_at=now + datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS),
            )
    except IntegrityError:
        return None


def _take_over(record: IdempotencyRecord, now: datetime.datetime) -> bool:
    """The request that claimed the key never finished (its worker died): take the key over, unless another
    request has just done so."""
    return bool(
        IdempotencyRecord.objects.filter(
            pk=record.pk, state=IdempotencyState.IN_PROGRESS, locked_at=record.locked_at
        ).update(locked_at=now)
    )


def idempotency_finish(request, response) -> None:
    """After the view: store the outcome on the request's record, or release the key."""
    spool = getattr(request, "_idempotency_spool", None)
    if spool is not None:
        spool.close()
    record = getattr(request, "_idempotency_record", None)
    if record is None:
        return
    if response.status_code >= 500 or response.status_code in NOT_STORED or response.streaming:
        IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyState.IN_PROGRESS).delete()
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyState.COMPLETED,
        status=response.status_code,
        response_headers={name: response[name] for name in STORED_HEADERS if response.has_header(name)},
        response_body=response.content,
        completed_at=timezone.now(),
    )


@transaction.atomic
def idempotency_record_purge() -> int:
    """Delete expired records (``IDEMPOTENCY_KEY_TTL_HOURS`` after their first use): one DELETE."""
    deleted, _per_model = IdempotencyRecord.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
