"""Authentication of hall accounts — separate from the staff's (``AUTHENTICATION_BACKENDS`` never sees them).

``HallAccountBackend`` (``HALL_AUTHENTICATION_BACKEND``) checks a login (phone, plus the employer's credit code
for employer accounts) and password against ``HallAccount``; ``hall_login`` puts the account in the hall session
(``hall.middleware``: a cookie of its own) with a hash of its password, so a password change ends other sessions;
``account_from_session`` reads it back on every hall request. Staff sessions carry none of these keys.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import AccountKind, HallAccount

SESSION_ACCOUNT = "_hall_account"
SESSION_HASH = "_hall_account_hash"
SESSION_PENDING_LOGIN = "_hall_pending_login"  # password checked, waiting for the SMS code


def _session_hash(account: HallAccount) -> str:
    key = f"{settings.SECRET_KEY}:hall-session".encode()
    return hmac.new(key, account.password.encode(), hashlib.sha256).hexdigest()


class HallAccountBackend:
    """Password check of a hall account; the SMS code is the second step (``hall.services.accounts``)."""

    def authenticate(self, request: Any, *, phone: str, password: str, credit_code: str = "") -> HallAccount | None:
        qs = HallAccount.objects.select_related("person", "employer", "office").filter(phone=phone)
        if credit_code:
            qs = qs.filter(employer__credit_code=credit_code).exclude(kind=AccountKind.PERSON)
        else:
            qs = qs.filter(kind=AccountKind.PERSON)
        account = qs.first()
        if account is None:
            make_password(password)  # same time whether or not the account exists
            return None
        if account.status == "disabled" or not check_password(password, account.password):
            return None
        return account

    def get_account(self, pk: Any) -> HallAccount | None:
        return HallAccount.objects.select_related("person", "employer", "office").filter(pk=pk).first()


def backend() -> HallAccountBackend:
    return import_string(settings.HALL_AUTHENTICATION_BACKEND)()


def hall_login(request: Any, account: HallAccount) -> None:
    request.session.cycle_key()
    request.session[SESSION_ACCOUNT] = account.pk
    request.session[SESSION_HASH] = _session_hash(account)
    request.session.pop(SESSION_PENDING_LOGIN, None)
    request.session.set_expiry(settings.HALL_SESSION_IDLE_MINUTES * 60)
    HallAccount.objects.filter(pk=account.pk).update(last_login=timezone.now())
    request.hall_account = account


def hall_logout(request: Any) -> None:
    request.session.flush()
    request.hall_account = None


def account_from_session(request: Any) -> HallAccount | None:
    session = getattr(request, "session", None)
    if session is None:
        return None
    pk = session.get(SESSION_ACCOUNT)
    if pk is None:
        return None
    account = backend().get_account(pk)
    if (
        account is None
        or account.status == "disabled"
        or not hmac.compare_digest(session.get(SESSION_HASH, ""), _session_hash(account))
    ):
        session.flush()
        return None
    return account
