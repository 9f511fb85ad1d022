"""What every hall page shares: who may see it, and rendering with the account and its unread count."""

from __future__ import annotations

from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from .. import selectors


def hall_render(request: Any, template: str, context: dict | None = None, status: int = 200):
    account = getattr(request, "hall_account", None)
    base = {"account": account, "unread": selectors.unread_count(account) if account and account.is_active else 0}
    return render(request, template, {**base, **(context or {})}, status=status)


def _login_redirect(request: Any):
    return redirect(f"{reverse('hall:login')}?{urlencode({'next': request.path})}")


def account_required(view):
    """Signed in to the hall; an account still waiting for confirmation reaches only the activation page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        account = getattr(request, "hall_account", None)
        if account is None:
            return _login_redirect(request)
        if not account.is_active and request.resolver_match.url_name not in ("activate", "logout"):
            return redirect("hall:activate")
        return view(request, *args, **kwargs)

    return wrapper


def person_required(view):
    @account_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.hall_account.is_person:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def employer_required(right: str | None = None):
    def decorate(view):
        @account_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            account = request.hall_account
            if not account.is_employer or (right is not None and not account.has_right(right)):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def base_url(request: Any) -> str:
    return request.build_absolute_uri("/").rstrip("/")
