"""Second factor at login (django-otp): a TOTP authenticator app, with static backup codes for a lost phone.

Mandatory for administrators (``is_staff``/superusers), city-level staff and the roles in
``TWO_FACTOR_REQUIRED_ROLES``; external systems (API keys) never log in with a password. Whether the signed-in
user needs it is decided once at login and kept in the session (``SESSION_REQUIRED``); a session counts as
verified once ``SESSION_DEVICE`` holds the device that answered. Until then ``SessionPolicyMiddleware`` lets the
user reach only the verification or enrolment page (and log out). A lost device is reset by another
administrator (``two_factor_reset``); every step is in the security log.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry import roles
from registry.exceptions import PermissionDeniedError
from registry.jurisdiction import office_in_jurisdiction
from registry.models import OfficeLevel, SecurityEventKind
from registry.security.log import security_event_record
from registry.security.sessions import user_sessions_end

SESSION_REQUIRED = "tzsi_2fa_required"
SESSION_DEVICE = "tzsi_2fa_device"
DEVICE_NAME = "authenticator"
BACKUP_NAME = "backup"
BACKUP_CODE_COUNT = 10


def two_factor_required(user: Any) -> bool:
    """Administrators, city-level staff and the configured roles must use a second factor."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "is_system", False):
        return False
    if user.is_staff or user.is_superuser:
        return True
    office = getattr(user, "office", None)
    if office is not None and office.level == OfficeLevel.CITY:
        return True
    required = {roles.CITY_ADMIN, *getattr(settings, "TWO_FACTOR_REQUIRED_ROLES", [])}
    return user.groups.filter(name__in=required).exists()


def totp_device(user: Any, *, confirmed: bool = True) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("-id").first()


def is_enrolled(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def totp_secret_base32(device: TOTPDevice) -> str:
    """The key as authenticator apps take it when typed (RFC 4648 base32, no padding)."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def totp_code(device: TOTPDevice, *, at: float | None = None) -> str:
    """The device's current code (tests, and the demo set-up's printout)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if at is not None:
        totp.time = at
    return f"{totp.token():0{device.digits}d}"


def totp_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code (no image request, nothing leaves the page)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]  # without the XML declaration: it is embedded in HTML


@transaction.atomic
def two_factor_enrolment_start(*, user: Any) -> TOTPDevice:
    """An unconfirmed authenticator key for the user to scan (the same one until confirmed)."""
    device = totp_device(user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def _normalise(token: str) -> str:
    return "".join((token or "").split()).replace("-", "").lower()


def _backup_codes_new(user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _n in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def two_factor_enrolment_confirm(*, user: Any, device: TOTPDevice, token: str, request: Any = None) -> list[str]:
    """Confirm the scanned key with a code from the app; returns the new backup codes (shown once)."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
    if not device.verify_token(_normalise(token)):
        raise ValidationError({"token": _("验证码不正确或已过期，请用身份验证器上当前显示的 6 位数字重试。")})
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _backup_codes_new(user)
    security_event_record(SecurityEventKind.OTP_ENROLLED, user=user, actor=user, request=request)
    return codes


@transaction.atomic
def backup_codes_regenerate(*, user: Any, request: Any = None) -> list[str]:
    """New backup codes for an enrolled user (the old ones stop working)."""
    if not is_enrolled(user):
        raise ValidationError(_("请先绑定身份验证器。"))
    codes = _backup_codes_new(user)
    security_event_record(
        SecurityEventKind.OTP_ENROLLED, user=user, actor=user, request=request, detail={"backup_codes": "renewed"}
    )
    return codes


def two_factor_verify(*, user: Any, token: str, request: Any = None) -> TOTPDevice | StaticDevice | None:
    """The device that accepts ``token`` (an authenticator code, or a backup code, which is used up), or None.
    Failures are throttled by django-otp (each one doubles the wait) and logged."""
    token = _normalise(token)
    devices: list[Any] = []
    if token.isdigit():
        devices += list(TOTPDevice.objects.filter(user=user, confirmed=True))
    else:
        devices += list(StaticDevice.objects.filter(user=user, confirmed=True))
    for device in devices:
        with transaction.atomic():
            device = type(device).objects.select_for_update().get(pk=device.pk)
            allowed, _info = device.verify_is_allowed()
            if allowed and device.verify_token(token):
                kind = (
                    SecurityEventKind.OTP_BACKUP_USED
                    if isinstance(device, StaticDevice)
                    else SecurityEventKind.OTP_VERIFIED
                )
                security_event_record(kind, user=user, actor=user, request=request)
                return device
    security_event_record(SecurityEventKind.OTP_FAILED, user=user, actor=user, request=request)
    return None


def two_factor_session_verified(request: Any, device: Any) -> None:
    request.session[SESSION_DEVICE] = device.persistent_id


def session_needs_second_factor(session: Any) -> bool:
    return bool(session.get(SESSION_REQUIRED)) and not session.get(SESSION_DEVICE)


@transaction.atomic
def two_factor_reset(*, user: Any, acting_user: Any, request: Any = None) -> None:
    """A second administrator removes a user's authenticator and backup codes (lost phone): the user binds a new
    one at the next login. Not one's own (an attacker with the password alone could not use it), and within the
    administrator's jurisdiction; the user's sessions end."""
    if getattr(acting_user, "pk", None) == user.pk:
        raise PermissionDeniedError(_("不能重置自己的双因素认证，请由另一位管理员办理。"))
    if not acting_user.has_perm("registry.change_user"):
        raise PermissionDeniedError(_("您的角色无权重置工作人员的双因素认证。"))
    if not acting_user.is_superuser and not office_in_jurisdiction(acting_user, user.office):
        raise PermissionDeniedError(_("该工作人员不在您的辖区内。"))
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    user_sessions_end(user=user)
    security_event_record(SecurityEventKind.OTP_RESET, user=user, actor=acting_user, request=request)
