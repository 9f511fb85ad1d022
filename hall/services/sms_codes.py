"""One-time SMS codes: 6 digits, only an HMAC kept, valid 5 minutes, at most 5 tries, used once; sends throttled
per phone (one a minute, ``HALL_SMS_PER_PHONE_HOUR`` an hour) and per client address (``HALL_SMS_PER_IP_HOUR``);
every send is in the security log."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.api.calllog import client_ip
from registry.exceptions import ApplicationError
from registry.models import SecurityEventKind
from registry.security.log import security_event_record

from ..models import SmsCode, SmsPurpose
from ..sms import sms_send


def code_hash(*, phone: str, purpose: str, code: str) -> str:
    key = f"{settings.SECRET_KEY}:hall-sms".encode()
    return hmac.new(key, f"{phone}|{purpose}|{code}".encode(), hashlib.sha256).hexdigest()


def _throttled(message: str) -> ApplicationError:
    return ApplicationError(message, {"phone": [message]}, code="sms_throttled")


def _throttle(phone: str, purpose: str, ip: str | None, now: datetime.datetime) -> None:
    hour_ago = now - datetime.timedelta(hours=1)
    recent = SmsCode.objects.filter(phone=phone, created_at__gte=hour_ago)
    resend_after = now - datetime.timedelta(seconds=settings.HALL_SMS_RESEND_SECONDS)
    if recent.filter(purpose=purpose, created_at__gte=resend_after).exists():
        raise _throttled(_("验证码已发送，请 %(s)s 秒后再获取。") % {"s": settings.HALL_SMS_RESEND_SECONDS})
    if recent.count() >= settings.HALL_SMS_PER_PHONE_HOUR:
        raise _throttled(_("该手机号一小时内获取验证码次数过多，请稍后再试。"))
    if ip and SmsCode.objects.filter(client_ip=ip, created_at__gte=hour_ago).count() >= settings.HALL_SMS_PER_IP_HOUR:
        raise _throttled(_("您的网络地址获取验证码次数过多，请稍后再试。"))


_TEXTS = {
    SmsPurpose.REGISTER: "【台州社保】您正在注册网上办事大厅，验证码 %(code)s，5分钟内有效。请勿告诉他人。",
    SmsPurpose.LOGIN: "【台州社保】您正在登录网上办事大厅，验证码 %(code)s，5分钟内有效。请勿告诉他人。",
    SmsPurpose.RESET: "【台州社保】您正在重设网上办事大厅密码，验证码 %(code)s，5分钟内有效。请勿告诉他人。",
}


def sms_code_send(*, phone: str, purpose: str, request: Any) -> SmsCode:
    """Send a new code to ``phone`` (after the throttle checks) and log the send."""
    now = timezone.now()
    ip = client_ip(request) if request is not None else None
    _throttle(phone, purpose, ip, now)
    code = f"{secrets.randbelow(1_000_000):06d}"
    with transaction.atomic():
        row = SmsCode.objects.create(
            phone=phone,
            purpose=purpose,
            code_hash=code_hash(phone=phone, purpose=purpose, code=code),
            created_at=now,
            expires_at=now + datetime.timedelta(seconds=settings.HALL_SMS_CODE_TTL_SECONDS),
            client_ip=ip,
        )
        security_event_record(
            SecurityEventKind.SMS_SENT,
            username=f"hall:{phone}",
            request=request,
            detail={"channel": "hall", "purpose": purpose},
        )
    sms_send(phone=phone, text=_TEXTS[purpose] % {"code": code})
    return row


def _refuse(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, {"code": [message]}, code=code)


def sms_code_check(*, phone: str, purpose: str, code: str) -> None:
    """Use the latest code sent to ``phone`` for ``purpose``; a wrong one counts a try (kept even though the
    caller's work is refused), the sixth try and an expired code are refused whatever is typed."""
    now = timezone.now()
    row = SmsCode.objects.filter(phone=phone, purpose=purpose, used_at__isnull=True).order_by("-created_at").first()
    if row is None:
        raise _refuse(_("请先获取短信验证码。"), "sms_missing")
    if row.expires_at <= now:
        raise _refuse(_("验证码已过期（有效期 5 分钟），请重新获取。"), "sms_expired")
    if row.tries >= settings.HALL_SMS_CODE_MAX_TRIES:
        raise _refuse(_("验证码错误次数已达 5 次，该验证码已失效，请重新获取。"), "sms_tries")
    if not hmac.compare_digest(row.code_hash, code_hash(phone=phone, purpose=purpose, code=(code or "").strip())):
        SmsCode.objects.filter(pk=row.pk).update(tries=F("tries") + 1)
        left = settings.HALL_SMS_CODE_MAX_TRIES - row.tries - 1
        raise _refuse(_("验证码错误，还可尝试 %(n)s 次。") % {"n": left}, "sms_wrong")
    SmsCode.objects.filter(pk=row.pk).update(used_at=now, tries=F("tries") + 1)
