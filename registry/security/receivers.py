"""Signal receivers of the security controls, connected once by ``registry.apps``."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_save, pre_save

from registry.models import SecurityEventKind
from registry.security import log, sessions, twofactor


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    """Every login: register the session and stamp its start, decide whether it needs a second factor, log it."""
    session = getattr(request, "session", None)
    if session is not None:
        sessions.session_register(request=request, user=user)
        session[twofactor.SESSION_REQUIRED] = twofactor.two_factor_required(user) or twofactor.is_enrolled(user)
        session.pop(twofactor.SESSION_DEVICE, None)
    log.security_event_record(SecurityEventKind.LOGIN, user=user, actor=user, request=request)


def on_user_logged_out(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    sessions.session_unregister(session_key=getattr(session, "session_key", None))
    if getattr(user, "pk", None):
        log.security_event_record(SecurityEventKind.LOGOUT, user=user, actor=user, request=request)


def connect() -> None:
    user = get_user_model()
    user_logged_in.connect(on_user_logged_in, dispatch_uid="security_logged_in")
    user_logged_out.connect(on_user_logged_out, dispatch_uid="security_logged_out")
    user_login_failed.connect(log.on_user_login_failed, dispatch_uid="security_login_failed")
    user_locked_out.connect(log.on_user_locked_out, dispatch_uid="security_locked_out")
    m2m_changed.connect(log.on_user_groups_changed, sender=user.groups.through, dispatch_uid="security_groups")
    m2m_changed.connect(
        log.on_user_permissions_changed, sender=user.user_permissions.through, dispatch_uid="security_user_perms"
    )
    m2m_changed.connect(
        log.on_group_permissions_changed, sender=Group.permissions.through, dispatch_uid="security_group_perms"
    )
    pre_save.connect(log.on_user_pre_save, sender=user, dispatch_uid="security_user_pre_save")
    post_save.connect(log.on_user_post_save, sender=user, dispatch_uid="security_user_post_save")
