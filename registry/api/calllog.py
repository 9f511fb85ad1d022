"""The API call log: who called which route, with what outcome and how fast (``ApiCallLog``).

Written by ``registry.middleware.ApiMiddleware`` after every /api/ response: one INSERT, built only from what
the request already holds (the authenticated user and system account are in memory), so no extra SELECT.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import logging
import re
import time

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.functional import SimpleLazyObject, empty

from registry.models import ApiCallLog

logger = logging.getLogger(__name__)

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def route_label(pattern: str) -> str:
    """A URL pattern as the log names it: ``api/v1/persons/(?P<uid>[^/.]+)/$`` → ``/api/v1/persons/{uid}/``."""
    route = _NAMED_GROUP.sub(r"{\1}", pattern)
    route = _CONVERTER.sub(r"{\1}", route)
    route = route.replace("^", "").replace("\\.", ".").removesuffix("$").removesuffix("/?")
    return "/" + route.lstrip("/")


def route_of(request) -> str:
    """The URL pattern that served the request ("" when nothing matched)."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return ""
    return route_label(match.route)


def api_routes() -> list[str]:
    """Every /api/ route of the URLconf, named as in the log (format-suffix variants left out)."""
    routes: set[str] = set()

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                pattern = prefix + str(entry.pattern)
                if pattern.startswith("api/") and "format" not in entry.pattern.regex.groupindex:
                    routes.add(route_label(pattern))

    walk(get_resolver().url_patterns, "")
    return sorted(routes)


def client_ip(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or with ``API_TRUSTED_PROXY_COUNT`` = n proxies in front, the
    address the outermost trusted proxy saw (n-th from the right of X-Forwarded-For)."""
    candidate = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "API_TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _known_user(request):
    """The user the request was authenticated as, without triggering a session lookup to find out."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user


def api_call_log_write(*, request, status: int, started: float) -> None:
    """Record one /api/ call. A failure to record is logged, never turned into a failed call: the call's
    own work has already been committed by then."""
    account = getattr(request, "system_account", None)
    user = _known_user(request)
    if account is not None:
        office_id = account.office_id
    else:
        office_id = getattr(user, "office_id", None)
    values = {
        "at": timezone.now(),
        "system_account_id": getattr(account, "pk", None),
        "user_id": getattr(user, "pk", None),
        "office_id": office_id,
        "method": request.method[:10],
        "route": route_of(request)[:200],
        "status": status,
        "latency_ms": max(0, round((time.monotonic() - started) * 1000)),
        "request_id": getattr(request, "request_id", "")[:64],
        "client_ip": client_ip(request),
    }
    try:
        with connections[ApiCallLog.objects.db].cursor() as cursor:
            cursor.execute(_insert_sql(), list(values.values()))
    except DatabaseError:
        logger.exception("API call log write failed (request %s)", values["request_id"])


@functools.cache
def _insert_sql() -> str:
    """One plain INSERT written once per process: every API call pays for it, an ORM save costs ~1 ms more."""
    meta = ApiCallLog._meta
    columns = [meta.get_field(name).column for name in _LOG_FIELDS]
    return f"INSERT INTO {meta.db_table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"


_LOG_FIELDS = (
    "at",
    "system_account",
    "user",
    "office",
    "method",
    "route",
    "status",
    "latency_ms",
    "request_id",
    "client_ip",
)


@transaction.atomic
def api_call_log_purge(*, retention_days: int | None = None) -> int:
    """Delete call log rows older than the retention (``API_CALL_LOG_RETENTION_DAYS``): one DELETE."""
    days = settings.API_CALL_LOG_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = timezone.now() - datetime.timedelta(days=days)
    deleted, _per_model = ApiCallLog.objects.filter(at__lt=cutoff).delete()
    return deleted
