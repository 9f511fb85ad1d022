"""Staff sessions: idle timeout, absolute lifetime, optionally one session per user, and "log out everywhere".

Each login registers its session (``UserSession``) so that all of a user's sessions can be ended at once (an
administrator resetting a second factor or a password, the user himself, or the one-session rule at the next
login). The time checks read two values kept in the session itself (no query per request); the last-seen time
is written back at most once a minute.
"""

from __future__ import annotations

import datetime
import time
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.api.calllog import client_ip
from registry.exceptions import PermissionDeniedError
from registry.jurisdiction import office_in_jurisdiction
from registry.models import SecurityEventKind, UserSession
from registry.security.log import security_event_record

SESSION_LOGIN_AT = "tzsi_login_at"
SESSION_SEEN_AT = "tzsi_seen_at"
SEEN_WRITE_INTERVAL = 60  # seconds: the last-seen time is saved at most this often


def _store(session_key: str):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)


def idle_seconds() -> int:
    return int(settings.SESSION_IDLE_TIMEOUT_MINUTES) * 60


def absolute_seconds() -> int:
    return int(settings.SESSION_ABSOLUTE_HOURS) * 3600


def session_register(*, request: Any, user: Any) -> None:
    """At login: stamp the session's start and register it; with ``SESSION_SINGLE_PER_USER`` end the others."""
    now = int(time.time())
    request.session[SESSION_LOGIN_AT] = now
    request.session[SESSION_SEEN_AT] = now
    key = request.session.session_key
    if key is None:
        request.session.save()
        key = request.session.session_key
    if settings.SESSION_SINGLE_PER_USER:
        user_sessions_end(user=user, keep=key)
    UserSession.objects.update_or_create(
        session_key=key,
        defaults={
            "user": user,
            "client_ip": client_ip(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200],
        },
    )


def session_unregister(*, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


@transaction.atomic
def user_sessions_end(*, user: Any, keep: str | None = None) -> int:
    """End every registered session of ``user`` (but ``keep``): they are deleted from the session store, so the
    next request of each is anonymous."""
    sessions = UserSession.objects.select_for_update().filter(user=user)
    if keep:
        sessions = sessions.exclude(session_key=keep)
    keys = list(sessions.values_list("session_key", flat=True))
    for key in keys:
        _store(key).delete()
    UserSession.objects.filter(session_key__in=keys).delete()
    return len(keys)


def user_sessions_end_by(*, user: Any, acting_user: Any, request: Any = None) -> int:
    """An administrator ends a staff member's sessions (a stolen laptop, a departure); logged."""

    if not acting_user.has_perm("registry.change_user"):
        raise PermissionDeniedError(_("您的角色无权结束工作人员的会话。"))
    if not acting_user.is_superuser and not office_in_jurisdiction(acting_user, user.office):
        raise PermissionDeniedError(_("该工作人员不在您的辖区内。"))
    ended = user_sessions_end(user=user)
    security_event_record(
        SecurityEventKind.SESSIONS_ENDED, user=user, actor=acting_user, request=request, detail={"ended": ended}
    )
    return ended


def user_sessions_end_everywhere(*, request: Any) -> int:
    """The user's "log out everywhere": every session of his ends, this one included (logged)."""
    user = request.user
    ended = user_sessions_end(user=user, keep=request.session.session_key)
    security_event_record(
        SecurityEventKind.SESSIONS_ENDED, user=user, actor=user, request=request, detail={"others": ended}
    )
    logout(request)
    return ended + 1


def session_expiry(session: Any, *, now: float | None = None) -> str | None:
    """Why this signed-in session has ended ("idle" or "absolute"), or None while it is alive."""
    now = time.time() if now is None else now
    login_at = session.get(SESSION_LOGIN_AT)
    seen_at = session.get(SESSION_SEEN_AT, login_at)
    if login_at is None:
        return None
    if now - login_at > absolute_seconds():
        return "absolute"
    if seen_at is not None and now - seen_at > idle_seconds():
        return "idle"
    return None


def session_touch(session: Any, *, now: float | None = None) -> None:
    """Note activity (saved at most once a minute: a session write per request would cost an UPDATE each)."""
    now = int(time.time() if now is None else now)
    if now - session.get(SESSION_SEEN_AT, 0) >= SEEN_WRITE_INTERVAL:
        session[SESSION_SEEN_AT] = now


def sessions_stale_purge() -> int:
    """Registered sessions older than the absolute lifetime are gone from the store anyway: drop their rows."""

    cutoff = timezone.now() - datetime.timedelta(seconds=absolute_seconds())
    deleted, _per_model = UserSession.objects.filter(created_at__lt=cutoff).delete()
    return deleted
