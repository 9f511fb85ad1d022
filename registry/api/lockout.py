"""Failed API-key attempts (guessing a system's secret): after ``API_KEY_FAILURE_LIMIT`` failures within
``API_KEY_FAILURE_WINDOW_SECONDS`` the key prefix and the calling address are each locked for
``API_KEY_LOCKOUT_SECONDS`` — every call with that prefix, or from that address, is answered 429 without the key
being checked — and the lock is written to the security log.

Counters live in the Django cache (Redis in production, shared by every web process), incremented atomically.
A success forgets the prefix's failures (the caller holds the secret), never the address's.
"""

from __future__ import annotations

import re
import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions

from registry.api.calllog import client_ip
from registry.models import SecurityEventKind
from registry.security.log import security_event_record

_PREFIX_RE = re.compile(r"^[0-9a-f]{1,12}$")


class ApiKeyLocked(exceptions.Throttled):
    api_code = "api_key_locked"
    default_detail = _("接口密钥或调用地址因多次认证失败已被暂时锁定。")


def _subjects(request, prefix: str) -> list[str]:
    subjects = []
    if _PREFIX_RE.match(prefix or ""):
        subjects.append(f"prefix:{prefix}")
    address = client_ip(request)
    if address:
        subjects.append(f"ip:{address}")
    return subjects


def _lock_key(subject: str) -> str:
    return f"api-key-lock:{subject}"


def _count_key(subject: str) -> str:
    return f"api-key-fail:{subject}"


def api_key_lock_wait(request, prefix: str) -> int | None:
    """Seconds until the prefix and the address are both unlocked, or None when neither is locked. Reads the
    prefix's failure counter in the same cache round trip (every API call passes here) and notes on the request
    whether there is one, so that a success clears it only then (``api_key_success``)."""
    now = time.time()
    locks = [_lock_key(s) for s in _subjects(request, prefix)]
    counter = _count_key(f"prefix:{prefix}") if _PREFIX_RE.match(prefix or "") else None
    found = cache.get_many(locks + ([counter] if counter else []))
    request._api_key_failures_counted = bool(counter and found.get(counter))
    waits = [found[k] - now for k in locks if found.get(k) and found[k] > now]
    return max(1, int(max(waits)) + 1) if waits else None


def api_key_failure(request, prefix: str) -> None:
    """Count one failed attempt for the prefix and the address; lock (and log) whichever reaches the limit."""

    limit = settings.API_KEY_FAILURE_LIMIT
    window = settings.API_KEY_FAILURE_WINDOW_SECONDS
    lockout = settings.API_KEY_LOCKOUT_SECONDS
    for subject in _subjects(request, prefix):
        key = _count_key(subject)
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            failures = 1
        if failures == limit:
            cache.set(_lock_key(subject), time.time() + lockout, timeout=lockout)
            cache.delete(key)
            kind, _sep, value = subject.partition(":")
            security_event_record(
                SecurityEventKind.API_KEY_LOCKED,
                username=value if kind == "prefix" else "",
                request=request,
                detail={"locked": kind, "value": value, "failures": failures, "seconds": lockout},
            )


def api_key_success(request, prefix: str) -> None:
    """The caller holds the secret: forget the prefix's failures (when ``api_key_lock_wait`` saw any, or was not
    asked first)."""
    if _PREFIX_RE.match(prefix or "") and getattr(request, "_api_key_failures_counted", True):
        cache.delete(_count_key(f"prefix:{prefix}"))
