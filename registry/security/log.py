"""The security log: one append-only table (``SecurityEvent``) for logins and their failures, lock-outs,
second-factor events, password, role and permission changes and key issue/rotation/revocation.

``security_event_record`` is the one writer; the signal receivers here turn Django's and django-axes's
authentication signals and role/permission changes into events. Auditors browse and export the log in admin.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from simple_history.models import HistoricalRecords

from registry.api.calllog import client_ip
from registry.models import Office, OfficeLevel, SecurityEvent, SecurityEventKind

# PostgreSQL refuses to delete a younger row whatever the setting says (migration 0013's trigger).
RETENTION_FLOOR_DAYS = 183


def _city_office_id() -> int | None:
    return Office.objects.filter(level=OfficeLevel.CITY).values_list("pk", flat=True).first()


def _current_request():
    """The request being served (simple-history's middleware keeps it), for signals that are not given it."""
    return getattr(HistoricalRecords.context, "request", None)


def _authenticated(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) and getattr(user, "pk", None) else None


def security_event_record(
    kind: str,
    *,
    user: Any = None,
    username: str = "",
    actor: Any = None,
    request: Any = None,
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Write one security event. ``user``: whom it is about; ``actor``: who caused it (defaults to the request's
    user when that is someone else); ``request``: gives the address and request id."""
    request = request if request is not None else _current_request()
    user = _authenticated(user)
    if actor is None and request is not None:
        actor = _authenticated(getattr(request, "user", None))
    actor = _authenticated(actor)
    office_id = getattr(user, "office_id", None) or getattr(actor, "office_id", None) or _city_office_id()
    return SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=(username or (user.get_username() if user is not None else ""))[:150],
        actor=actor if actor is not None and actor != user else None,
        office_id=office_id,
        client_ip=client_ip(request) if request is not None else None,
        request_id=getattr(request, "request_id", "")[:64] if request is not None else "",
        detail=detail or {},
    )


@transaction.atomic
def security_events_purge(*, retention_days: int | None = None) -> int:
    """Delete events older than ``SECURITY_LOG_RETENTION_DAYS`` (never below the 183-day floor): one DELETE."""
    days = settings.SECURITY_LOG_RETENTION_DAYS if retention_days is None else retention_days
    days = max(days, RETENTION_FLOOR_DAYS)
    cutoff = timezone.now() - datetime.timedelta(days=days)
    deleted, _per_model = SecurityEvent.objects.filter(at__lt=cutoff).delete()
    return deleted


# ---------------------------------------------------------------- signal receivers (registry.security.receivers)


def on_user_login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str((credentials or {}).get("username", ""))[:150]
    user = get_user_model().objects.filter(username=username).first() if username else None
    security_event_record(
        SecurityEventKind.LOGIN_FAILED, user=user, username=username, request=request, actor=None, detail={}
    )


def on_user_locked_out(sender, request, username, ip_address, **kwargs) -> None:
    username = str(username or "")[:150]
    user = get_user_model().objects.filter(username=username).first() if username else None
    security_event_record(
        SecurityEventKind.LOCKED_OUT,
        user=user,
        username=username,
        request=request,
        detail={"limit": getattr(settings, "AXES_FAILURE_LIMIT", None)},
    )


def _names(model, pks) -> list[str]:
    if not pks:
        return []
    field = "name" if model._meta.model_name == "group" else "codename"
    return sorted(str(v) for v in model.objects.filter(pk__in=pks).values_list(field, flat=True))


def on_user_groups_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """A staff member's roles (groups) changed — or, from the group's side, a role's members."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return

    if reverse:  # group.user_set.add(...): one event per user
        users = get_user_model().objects.filter(pk__in=pk_set or [])
        for user in users:
            security_event_record(
                SecurityEventKind.ROLES_CHANGED, user=user, detail={"action": action, "roles": [instance.name]}
            )
        return
    security_event_record(
        SecurityEventKind.ROLES_CHANGED, user=instance, detail={"action": action, "roles": _names(model, pk_set)}
    )


def on_user_permissions_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "post_clear") or reverse:
        return
    security_event_record(
        SecurityEventKind.PERMISSIONS_CHANGED,
        user=instance,
        detail={"action": action, "permissions": _names(model, pk_set)},
    )


def on_group_permissions_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """A role's permissions changed by an administrator in admin. The roles' own definitions (registry/roles.py,
    synced after every migration, outside any request) are code, reviewed and versioned, not an event."""
    if action not in ("post_add", "post_remove", "post_clear") or reverse or _current_request() is None:
        return
    security_event_record(
        SecurityEventKind.PERMISSIONS_CHANGED,
        detail={"action": action, "role": instance.name, "permissions": _names(model, pk_set)},
    )


_ACCOUNT_FLAGS = ("is_active", "is_staff", "is_superuser", "office_id")


def on_user_pre_save(sender, instance, update_fields=None, **kwargs) -> None:
    """Remember the account flags before a change of an existing user (compared after the save)."""
    if instance.pk is None or (update_fields is not None and not set(update_fields) & {*_ACCOUNT_FLAGS, "office"}):
        return
    old = sender.objects.filter(pk=instance.pk).values(*_ACCOUNT_FLAGS).first()
    instance._security_old_flags = old


def on_user_post_save(sender, instance, created, **kwargs) -> None:
    old = instance.__dict__.pop("_security_old_flags", None)
    if created or not old:
        return
    changed = {f: [old[f], getattr(instance, f)] for f in _ACCOUNT_FLAGS if old[f] != getattr(instance, f)}
    if changed:
        security_event_record(SecurityEventKind.ACCOUNT_CHANGED, user=instance, detail=changed)
