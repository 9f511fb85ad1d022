"""Forms of the card pages: they only read what was typed or chosen; ``services.cards`` checks the file."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class CardBatchCreateForm(forms.Form):
    """Nothing to type: the batch takes every waiting application of the district (the form carries the token)."""


class CardConfirmationForm(forms.Form):
    file = forms.FileField(
        label=_("回盘文件"),
        help_text=_("制卡机构返回的 CSV 文件（UTF-8 或 GBK），格式见“制卡文件说明”。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={"required": _("请选择回盘文件。"), "empty": _("回盘文件是空的。")},
    )
