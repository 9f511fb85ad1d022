"""Password policy (等保 2.0: 身份鉴别): at least ``PASSWORD_MIN_LENGTH`` characters of three classes, not containing
the user name, none of the last ``PASSWORD_HISTORY_COUNT`` passwords again, changed every
``PASSWORD_MAX_AGE_DAYS`` days (0: no expiry), and changed at the next login when an administrator demands it.

The validators are Django password validators (AUTH_PASSWORD_VALIDATORS): every form that sets a password
checks them, and ``PasswordHistoryValidator.password_changed`` keeps the history and the change time whenever a
password is set (Django calls it from ``User.save``).
"""

from __future__ import annotations

import datetime
import string
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.exceptions import PermissionDeniedError
from registry.jurisdiction import office_in_jurisdiction
from registry.models import PasswordHistory, SecurityEventKind
from registry.security.log import security_event_record
from registry.security.sessions import user_sessions_end


def _classes(password: str) -> int:
    found = set()
    for ch in password:
        if ch.isascii() and ch.islower():
            found.add("lower")
        elif ch.isascii() and ch.isupper():
            found.add("upper")
        elif ch.isdigit():
            found.add("digit")
        elif ch in string.punctuation or not ch.isalnum():
            found.add("symbol")
        else:
            found.add("other")  # letters of other scripts count as a class of their own
    return len(found)


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's, with the message in Chinese (Django's own catalogue has no Chinese for its plural form)."""

    def get_error_message(self) -> str:
        return _("密码太短，至少需要 %(n)s 个字符。") % {"n": self.min_length}

    def get_help_text(self) -> str:
        return _("密码至少需要 %(n)s 个字符。") % {"n": self.min_length}


class CharacterClassesValidator:
    """At least ``min_classes`` of: lower-case letters, upper-case letters, digits, symbols."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    def validate(self, password: str, user: Any = None) -> None:
        if _classes(password) < self.min_classes:
            raise ValidationError(
                _("密码须包含小写字母、大写字母、数字、符号中的至少 %(n)s 类。") % {"n": self.min_classes},
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return _("密码须包含小写字母、大写字母、数字、符号中的至少 %(n)s 类。") % {"n": self.min_classes}


class NotContainingUsernameValidator:
    """The password must not contain the user name (in any letter case), nor the name reversed."""

    def validate(self, password: str, user: Any = None) -> None:
        name = (getattr(user, "username", "") or "").lower()
        if len(name) >= 3 and (name in password.lower() or name[::-1] in password.lower()):
            raise ValidationError(_("密码不能包含用户名。"), code="password_contains_username")

    def get_help_text(self) -> str:
        return _("密码不能包含用户名。")


class PasswordHistoryValidator:
    """None of the user's last ``count`` passwords; keeps that history (and the change time) on every change."""

    def __init__(self, count: int | None = None):
        self.count = count

    def _count(self) -> int:
        return self.count if self.count is not None else int(getattr(settings, "PASSWORD_HISTORY_COUNT", 5))

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or not getattr(user, "pk", None):
            return
        count = self._count()
        previous = list(
            PasswordHistory.objects.filter(user=user)
            .order_by("-created_at", "-id")
            .values_list("password", flat=True)[:count]
        )
        if user.password and user.password not in previous:  # set before the history was kept
            previous = [user.password, *previous][:count]
        if any(check_password(password, encoded) for encoded in previous):
            raise ValidationError(
                _("新密码不能与最近 %(n)s 次使用过的密码相同。") % {"n": count}, code="password_reused"
            )

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is None or not getattr(user, "pk", None) or not user.password:
            return
        password_history_record(user=user)

    def get_help_text(self) -> str:
        return _("新密码不能与最近 %(n)s 次使用过的密码相同。") % {"n": self._count()}


@transaction.atomic
def password_history_record(*, user: Any) -> None:
    """Remember the user's (new) password hash, keep only the last ``PASSWORD_HISTORY_COUNT``, note the time."""
    now = timezone.now()
    PasswordHistory.objects.create(user=user, password=user.password, created_at=now)
    keep = int(getattr(settings, "PASSWORD_HISTORY_COUNT", 5))
    old = PasswordHistory.objects.filter(user=user).order_by("-created_at", "-id").values_list("pk", flat=True)[keep:]
    PasswordHistory.objects.filter(pk__in=list(old)).delete()
    get_user_model().objects.filter(pk=user.pk).update(password_changed_at=now)
    user.password_changed_at = now


def password_expired(user: Any, *, now: datetime.datetime | None = None) -> bool:
    """Older than ``PASSWORD_MAX_AGE_DAYS`` (counted from the account's creation when no change was recorded)."""
    days = int(getattr(settings, "PASSWORD_MAX_AGE_DAYS", 0))
    if days <= 0 or getattr(user, "is_system", False) or not user.has_usable_password():
        return False
    since = user.password_changed_at or user.date_joined
    return since is not None and (now or timezone.now()) - since > datetime.timedelta(days=days)


def password_change_due(user: Any) -> str | None:
    """Why the user must set a new password before working ("forced" or "expired"), or None."""
    if getattr(user, "must_change_password", False):
        return "forced"
    if password_expired(user):
        return "expired"
    return None


@transaction.atomic
def password_changed(*, user: Any, request: Any = None) -> None:
    """After the user set his own new password: the demand to change it is met; logged."""

    if user.must_change_password:
        get_user_model().objects.filter(pk=user.pk).update(must_change_password=False)
        user.must_change_password = False
    security_event_record(SecurityEventKind.PASSWORD_CHANGED, user=user, actor=user, request=request)


@transaction.atomic
def password_reset_force(*, user: Any, acting_user: Any, request: Any = None) -> None:
    """An administrator demands a new password at the user's next login; the user's sessions end now."""

    if not acting_user.has_perm("registry.change_user"):
        raise PermissionDeniedError(_("您的角色无权要求工作人员重设密码。"))
    if not acting_user.is_superuser and not office_in_jurisdiction(acting_user, user.office):
        raise PermissionDeniedError(_("该工作人员不在您的辖区内。"))
    get_user_model().objects.filter(pk=user.pk).update(must_change_password=True)
    user.must_change_password = True
    user_sessions_end(user=user)
    security_event_record(SecurityEventKind.PASSWORD_RESET_FORCED, user=user, actor=acting_user, request=request)
