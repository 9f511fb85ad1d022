"""The staff member's own security pages: second-factor verification and enrolment, password change, sessions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from registry.forms import NextForm
from registry.models import UserSession
from registry.security import passwords, sessions, twofactor
from registry.security.forms import EnrolTokenForm, StaffPasswordChangeForm, TokenForm


def _next(request, default: str = "home") -> str:
    target = NextForm.target(request.POST, request.GET)
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target

    return reverse(default)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """The second step of a login: a code from the authenticator app (or a backup code)."""
    if not twofactor.is_enrolled(request.user):
        return redirect("security_two_factor_enrol")
    form = TokenForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        device = twofactor.two_factor_verify(user=request.user, token=form.cleaned_data["token"], request=request)
        if device is not None:
            twofactor.two_factor_session_verified(request, device)
            if device.name == twofactor.BACKUP_NAME:
                left = device.token_set.count()
                messages.warning(request, _("已使用一个备用验证码，还剩 %(n)s 个。") % {"n": left})
            return redirect(_next(request))
        form.add_error("token", _("验证码不正确或已过期。连续失败后须等待更长时间才能再试。"))
        status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "registry/security/two_factor.html", {"form": form, "next": _next(request)}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_enrol(request):
    """Bind an authenticator app: scan the key, confirm with a code, keep the backup codes (shown once)."""
    if twofactor.is_enrolled(request.user) and not request.session.get(twofactor.SESSION_DEVICE):
        # A new phone replaces the bound one only in a session the bound one (or a backup code) has verified.
        return redirect("security_two_factor")
    device = twofactor.two_factor_enrolment_start(user=request.user)
    form = EnrolTokenForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            codes = twofactor.two_factor_enrolment_confirm(
                user=request.user, device=device, token=form.cleaned_data["token"], request=request
            )
        except ValidationError as exc:
            for message in exc.message_dict.get("token", exc.messages):
                form.add_error("token", message)
            status = 400
        else:
            device.refresh_from_db()
            twofactor.two_factor_session_verified(request, device)
            # Rendered in this response, never stored in a cookie or a message.
            return render(
                request, "registry/security/backup_codes.html", {"codes": codes, "next": _next(request), "new": True}
            )
    elif request.method == "POST":
        status = 400
    context = {
        "form": form,
        "secret": twofactor.totp_secret_base32(device),
        "qr_svg": twofactor.totp_qr_svg(device),
        "next": _next(request),
    }
    return render(request, "registry/security/two_factor_enrol.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def account(request):
    """账户安全: second factor, password age, the signed-in sessions, log out everywhere."""
    user = request.user
    return render(
        request,
        "registry/security/account.html",
        {
            "enrolled": twofactor.is_enrolled(user),
            "required": twofactor.two_factor_required(user),
            "backup_left": sum(d.token_set.count() for d in user.staticdevice_set.all()),
            "sessions": UserSession.objects.filter(user=user).order_by("-created_at"),
            "current_key": request.session.session_key,
            "password_changed_at": user.password_changed_at,
        },
    )


@login_required
@require_POST
def backup_codes_renew(request):
    try:
        codes = twofactor.backup_codes_regenerate(user=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("security_account")
    return render(
        request, "registry/security/backup_codes.html", {"codes": codes, "next": _next(request, "security_account")}
    )


@login_required
@require_POST
def sessions_end_everywhere(request):
    ended = sessions.user_sessions_end_everywhere(request=request)
    messages.success(request, _("已退出全部 %(n)s 个登录会话，请重新登录。") % {"n": ended})
    return redirect("login")


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request):
    """The user's own password change (also where an expired or administrator-reset password leads)."""
    form = StaffPasswordChangeForm(request.user, request.POST or None)
    due = passwords.password_change_due(request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            update_session_auth_hash(request, user)
            passwords.password_changed(user=user, request=request)
            messages.success(request, _("密码已修改。"))
            return redirect(_next(request))
        status = 400
    return render(
        request,
        "registry/security/password_change.html",
        {"form": form, "due": due, "next": _next(request)},
        status=status,
    )
