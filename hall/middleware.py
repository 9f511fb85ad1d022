"""Two sessions that never meet: staff and the online hall.

``HallSessionMiddleware`` is Django's ``SessionMiddleware`` except that under ``HALL_URL_PREFIX`` the session is
read from and written to the hall's own cookie (``HALL_SESSION_COOKIE_NAME``, path ``/hall/``). A browser never
sends the hall cookie to a staff page, admin or the API, and a hall page never reads the staff cookie.
``HallAccountMiddleware`` then, under the prefix, drops whatever staff user the session might name (a staff
session key pasted into the hall cookie opens nothing) and sets ``request.hall_account`` (``hall.auth``).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import Http404
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date

from .auth import account_from_session


def is_hall_path(path: str) -> bool:
    return path.startswith(settings.HALL_URL_PREFIX)


def _cookie(request) -> tuple[str, str]:
    if is_hall_path(request.path_info):
        return settings.HALL_SESSION_COOKIE_NAME, settings.HALL_URL_PREFIX
    return settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_PATH


class HallSessionMiddleware(SessionMiddleware):
    def process_request(self, request):
        name, _path = _cookie(request)
        request.session = self.SessionStore(request.COOKIES.get(name))

    def process_response(self, request, response):
        """Django's, with the cookie name and path of the request's side."""
        try:
            accessed = request.session.accessed
            modified = request.session.modified
            empty = request.session.is_empty()
        except AttributeError:
            return response
        name, path = _cookie(request)
        if name in request.COOKIES and empty:
            response.delete_cookie(
                name, path=path, domain=settings.SESSION_COOKIE_DOMAIN, samesite=settings.SESSION_COOKIE_SAMESITE
            )
            patch_vary_headers(response, ("Cookie",))
            return response
        need_vary_cookie = accessed
        if (modified or settings.SESSION_SAVE_EVERY_REQUEST) and not empty and response.status_code < 500:
            max_age = expires = None
            if not request.session.get_expire_at_browser_close():
                max_age = request.session.get_expiry_age()
                expires = http_date(time.time() + max_age)
            try:
                request.session.save()
            except UpdateError:
                raise SessionInterrupted("The request's session was deleted before the request completed.") from None
            response.set_cookie(
                name,
                request.session.session_key,
                max_age=max_age,
                expires=expires,
                domain=settings.SESSION_COOKIE_DOMAIN,
                path=path,
                secure=settings.SESSION_COOKIE_SECURE or None,
                httponly=True,
                samesite=settings.SESSION_COOKIE_SAMESITE,
            )
            need_vary_cookie = True
        if need_vary_cookie:
            patch_vary_headers(response, ("Cookie",))
        return response


class HallAccountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_hall_path(request.path_info):
            request.user = AnonymousUser()
            request.hall_account = account_from_session(request)
            if request.hall_account is not None:
                request.session.modified = True  # idle timeout: the expiry moves with every request
        else:
            request.hall_account = None
        return self.get_response(request)

    def process_exception(self, request, exception):
        """A hall page's 404 is a hall page too (phone-sized, in the hall's frame), never data of anyone."""
        if isinstance(exception, Http404) and is_hall_path(request.path_info):
            return render(request, "hall/404.html", {"account": request.hall_account}, status=404)
        return None
