"""Public pages of the hall: home, login (password, then SMS code), registration with SMS, activation, reset."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from registry.exceptions import ApplicationError

from ..auth import SESSION_PENDING_LOGIN, hall_logout
from ..forms import CodeForm, EmployerRegisterForm, LoginForm, NextForm, PersonRegisterForm, ResetForm, apply_errors
from ..models import SmsPurpose
from ..services import accounts, login
from ..services.sms_codes import sms_code_send
from ._common import account_required, hall_render


@require_http_methods(["GET"])
def home(request):
    account = request.hall_account
    if account is not None and account.is_active:
        return redirect("hall:me" if account.is_person else "hall:employer")
    return hall_render(request, "hall/home.html")


def _next(request, fallback: str) -> str:
    form = NextForm(request.GET)
    target = form.cleaned_data["next"] if form.is_valid() else ""
    if target and target.startswith("/hall/") and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return fallback


@require_http_methods(["GET", "POST"])
def login_view(request):
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            login.login_password_step(
                request=request,
                phone=form.cleaned_data["phone"].strip(),
                password=form.cleaned_data["password"],
                credit_code=form.cleaned_data["credit_code"].strip().upper(),
            )
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            request.session["_hall_next"] = _next(request, "/hall/")
            return redirect("hall:login_code")
    return hall_render(request, "hall/login.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def login_code(request):
    if not request.session.get(SESSION_PENDING_LOGIN):
        return redirect("hall:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            login.login_code_step(request=request, code=form.cleaned_data["code"])
        except ApplicationError as exc:
            apply_errors(form, exc)
        else:
            return redirect(request.session.pop("_hall_next", "/hall/"))
    return hall_render(request, "hall/login_code.html", {"form": form}, status=400 if form.errors else 200)


def _send_code(request, form, purpose: str, check) -> None:
    """The first button: check what is typed so far, then send the code."""
    try:
        phone = accounts.phone_normalize(form.cleaned_data["phone"])
        check(phone)
        sms_code_send(phone=phone, purpose=purpose, request=request)
    except (ValidationError, ApplicationError) as exc:
        apply_errors(form, exc)
    else:
        messages.success(request, _("验证码已发送到 %(p)s，5 分钟内有效。") % {"p": phone[:3] + "****" + phone[-4:]})


@require_http_methods(["GET", "POST"])
def register_person(request):
    form = PersonRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if form.sending:
            _send_code(
                request,
                form,
                SmsPurpose.REGISTER,
                lambda phone: accounts.person_for_registration(id_number=d["id_number"], name=d["name"], phone=phone),
            )
        else:
            try:
                account = accounts.person_account_register(
                    id_number=d["id_number"], name=d["name"], phone=d["phone"], password=d["password"], code=d["code"]
                )
            except (ValidationError, ApplicationError) as exc:
                apply_errors(form, exc)
            else:
                login.login_after_registration(request=request, account=account)
                return redirect("hall:me" if account.is_active else "hall:activate")
    status = 400 if form.errors else 200
    return hall_render(request, "hall/register.html", {"form": form, "employer": False}, status=status)


@require_http_methods(["GET", "POST"])
def register_employer(request):
    form = EmployerRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if form.sending:
            _send_code(
                request,
                form,
                SmsPurpose.REGISTER,
                lambda phone: accounts.employer_for_registration(
                    credit_code=d["credit_code"], employer_name=d["employer_name"], phone=phone
                ),
            )
        else:
            try:
                account = accounts.employer_admin_register(**{k: d[k] for k in _EMPLOYER_FIELDS})
            except (ValidationError, ApplicationError) as exc:
                apply_errors(form, exc)
            else:
                login.login_after_registration(request=request, account=account)
                return redirect("hall:activate")
    status = 400 if form.errors else 200
    return hall_render(request, "hall/register.html", {"form": form, "employer": True}, status=status)


_EMPLOYER_FIELDS = ("credit_code", "employer_name", "name", "id_number", "phone", "password", "code")


@account_required
@require_http_methods(["GET", "POST"])
def activate(request):
    account = request.hall_account
    if account.is_active:
        return redirect("hall:home")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.account_activate(account=account, code=form.cleaned_data["code"])
        except (ValidationError, ApplicationError) as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("账户已激活。"))
            return redirect("hall:home")
    return hall_render(request, "hall/activate.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def password_reset(request):
    form = ResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if form.sending:
            _send_code(request, form, SmsPurpose.RESET, lambda phone: None)
        else:
            try:
                accounts.password_reset(
                    phone=d["phone"], credit_code=d["credit_code"], code=d["code"], password=d["password"] or ""
                )
            except (ValidationError, ApplicationError) as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("密码已重设，请用新密码登录。"))
                return redirect("hall:login")
    return hall_render(request, "hall/reset.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
def logout_view(request):
    hall_logout(request)
    return redirect("hall:home")
