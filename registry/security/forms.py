"""Forms of the security pages."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.utils.translation import gettext_lazy as _


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("验证码"),
        max_length=20,
        help_text=_("身份验证器上的 6 位数字；手机丢失时可输入一个备用验证码（每个只能用一次）。"),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class EnrolTokenForm(forms.Form):
    token = forms.CharField(
        label=_("验证码"),
        max_length=10,
        help_text=_("扫描二维码（或输入密钥）后，身份验证器上显示的 6 位数字。"),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class StaffPasswordChangeForm(PasswordChangeForm):
    """Django's form: the old password, the new one twice, checked by every AUTH_PASSWORD_VALIDATORS entry."""
