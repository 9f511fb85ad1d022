"""The session policy on every request of a signed-in staff member (docs/security.md):

1. the session ends after ``SESSION_IDLE_TIMEOUT_MINUTES`` without a request, and ``SESSION_ABSOLUTE_HOURS`` after
   the login whatever the activity;
2. a user who needs a second factor reaches only the verification (or enrolment) page until he passes it;
3. a user whose password has expired, or whom an administrator asked to change it, reaches only the password page.

Pages are redirected, /api/ session calls get 401/403 in the API's error format. Everything is read from the
session and the user already loaded: no query of its own on an ordinary request.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from registry.api.errors import error_response
from registry.models import SecurityEventKind
from registry.security.log import security_event_record
from registry.security.passwords import password_change_due
from registry.security.sessions import session_expiry, session_touch
from registry.security.twofactor import is_enrolled, session_needs_second_factor

API_PREFIX = "/api/"


def _exempt_paths() -> tuple[str, ...]:
    return (
        reverse("logout"),
        reverse("login"),
        reverse("set_language"),
        reverse("security_two_factor"),
        reverse("security_two_factor_enrol"),
        settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL,
    )


class SessionPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return self.get_response(request)
        refusal = self._expired(request) or self._second_factor(request) or self._password(request)
        if refusal is not None:
            return refusal
        session_touch(request.session)
        return self.get_response(request)

    def _refuse(self, request, *, status: int, message: str, to: str):
        if request.path.startswith(API_PREFIX):
            return error_response(request, status, message)
        if request.path.startswith(to):
            return None
        return redirect(f"{to}?{urlencode({'next': request.get_full_path()})}")

    def _expired(self, request):
        reason = session_expiry(request.session)
        if reason is None:
            return None

        user = request.user
        security_event_record(SecurityEventKind.SESSION_EXPIRED, user=user, actor=user, detail={"reason": reason})
        logout(request)
        message = (
            _("您已超过 %(m)s 分钟没有操作，请重新登录。") % {"m": settings.SESSION_IDLE_TIMEOUT_MINUTES}
            if reason == "idle"
            else _("登录已超过 %(h)s 小时，请重新登录。") % {"h": settings.SESSION_ABSOLUTE_HOURS}
        )
        if request.path.startswith(API_PREFIX):
            return error_response(request, 401, message)
        messages.warning(request, message)
        return redirect(f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}")

    def _second_factor(self, request):
        if not session_needs_second_factor(request.session):
            return None
        if any(request.path.startswith(p) for p in _exempt_paths()):
            return None
        target = reverse("security_two_factor" if is_enrolled(request.user) else "security_two_factor_enrol")
        return self._refuse(request, status=403, message=_("请先完成双因素认证。"), to=target)

    def _password(self, request):
        if password_change_due(request.user) is None:
            return None
        target = reverse("security_password_change")
        if any(request.path.startswith(p) for p in (*_exempt_paths(), target)):
            return None
        return self._refuse(request, status=403, message=_("请先修改密码。"), to=target)
