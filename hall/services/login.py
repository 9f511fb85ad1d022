"""Hall login: password (``hall.auth`` backend), then an SMS code to the account's phone.

Failures are counted in the cache per login (phone and credit code) and per client address; at
``HALL_LOGIN_FAILURES_PER_ACCOUNT`` / ``HALL_LOGIN_FAILURES_PER_IP`` within ``HALL_LOGIN_LOCK_MINUTES`` further
attempts are refused for that long. Every login, failure and lock-out is in the security log (channel "hall").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from registry.api.calllog import client_ip
from registry.exceptions import ApplicationError
from registry.models import SecurityEventKind
from registry.security.log import security_event_record

from ..auth import SESSION_PENDING_LOGIN, backend, hall_login
from ..models import HallAccount, SmsPurpose
from .sms_codes import sms_code_check, sms_code_send


def _keys(phone: str, credit_code: str, ip: str | None) -> tuple[str, str]:
    return f"hall-login-fail:acct:{credit_code}:{phone}", f"hall-login-fail:ip:{ip or '-'}"


def _locked(request: Any, phone: str, credit_code: str) -> bool:
    account_key, ip_key = _keys(phone, credit_code, client_ip(request))
    return (cache.get(account_key, 0) >= settings.HALL_LOGIN_FAILURES_PER_ACCOUNT) or (
        cache.get(ip_key, 0) >= settings.HALL_LOGIN_FAILURES_PER_IP
    )


def _count_failure(request: Any, phone: str, credit_code: str) -> None:
    timeout = settings.HALL_LOGIN_LOCK_MINUTES * 60
    for key in _keys(phone, credit_code, client_ip(request)):
        cache.add(key, 0, timeout)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout)


def _log(kind: str, request: Any, phone: str, credit_code: str, **detail: Any) -> None:
    security_event_record(
        kind,
        username=f"hall:{credit_code + '/' if credit_code else ''}{phone}",
        request=request,
        detail={"channel": "hall", **detail},
    )


def login_password_step(*, request: Any, phone: str, password: str, credit_code: str = "") -> HallAccount:
    """Check the password; on success send the login SMS code and remember the account as pending in the session."""
    if _locked(request, phone, credit_code):
        _log(SecurityEventKind.LOCKED_OUT, request, phone, credit_code)
        raise ApplicationError(
            _("登录失败次数过多，请 %(m)s 分钟后再试。") % {"m": settings.HALL_LOGIN_LOCK_MINUTES}, code="locked_out"
        )
    account = backend().authenticate(request, phone=phone, password=password, credit_code=credit_code)
    if account is None:
        _count_failure(request, phone, credit_code)
        _log(SecurityEventKind.LOGIN_FAILED, request, phone, credit_code, step="password")
        raise ApplicationError(_("手机号码或密码不正确。"), {"password": [_("手机号码或密码不正确。")]})
    sms_code_send(phone=account.phone, purpose=SmsPurpose.LOGIN, request=request)
    request.session[SESSION_PENDING_LOGIN] = account.pk
    return account


def login_code_step(*, request: Any, code: str) -> HallAccount:
    """The SMS code of a login whose password was right: the hall session begins."""
    pk = request.session.get(SESSION_PENDING_LOGIN)
    account = backend().get_account(pk) if pk else None
    if account is None:
        raise ApplicationError(_("请先输入手机号码和密码。"), code="no_pending_login")
    credit_code = account.employer.credit_code if account.employer_id else ""
    if _locked(request, account.phone, credit_code):
        raise ApplicationError(
            _("登录失败次数过多，请 %(m)s 分钟后再试。") % {"m": settings.HALL_LOGIN_LOCK_MINUTES}, code="locked_out"
        )
    try:
        sms_code_check(phone=account.phone, purpose=SmsPurpose.LOGIN, code=code)
    except ApplicationError:
        _count_failure(request, account.phone, credit_code)
        _log(SecurityEventKind.LOGIN_FAILED, request, account.phone, credit_code, step="sms")
        raise
    cache.delete(_keys(account.phone, credit_code, None)[0])
    hall_login(request, account)
    _log(SecurityEventKind.LOGIN, request, account.phone, credit_code, account=str(account.uid))
    return account


def login_after_registration(*, request: Any, account: HallAccount) -> None:
    """Registration verified the phone with an SMS code and the password was just chosen: the session begins."""
    hall_login(request, account)
    credit_code = account.employer.credit_code if account.employer_id else ""
    _log(SecurityEventKind.LOGIN, request, account.phone, credit_code, account=str(account.uid), step="register")
