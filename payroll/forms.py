"""Page input of the payroll, read through Django forms only."""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import Bank, RepaymentWay, SuspensionReason


class MonthField(forms.CharField):
    """A month typed as YYYY-MM (or YYYYMM): its first day."""

    def to_python(self, value):
        text = (super().to_python(value) or "").strip().replace("-", "")[:10]
        if not text:
            return None
        try:
            return datetime.date(int(text[:4]), int(text[4:6]), 1) if len(text) == 6 else None
        except ValueError:
            return None

    def validate(self, value):
        if value is None and self.required:
            raise ValidationError(_("月份格式应为 YYYY-MM，如 2026-03。"), code="invalid")


class RunStartForm(forms.Form):
    period = MonthField(label=_("发放月份"))
    pay_date = forms.DateField(label=_("发放日期"))


class ReturnUploadForm(forms.Form):
    file = forms.FileField(label=_("银行回盘文件（CSV）"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 64 * 1024 * 1024:
            raise ValidationError(_("回盘文件超过 64 MB。"))
        return upload


class PersonNumberForm(forms.Form):
    id_number = forms.CharField(label=_("公民身份号码"), max_length=18, min_length=15)


class CertificationForm(PersonNumberForm):
    certified_on = forms.DateField(label=_("认证日期"))
    note = forms.CharField(label=_("说明"), max_length=200, required=False)


class DueFilterForm(forms.Form):
    office = forms.CharField(label=_("机构代码"), max_length=20, required=False)


class SuspendForm(PersonNumberForm):
    reason = forms.ChoiceField(label=_("原因"), choices=SuspensionReason.choices)
    from_month = MonthField(label=_("停发起始月"), required=False)
    died_on = forms.DateField(label=_("死亡日期"), required=False)
    note = forms.CharField(label=_("说明"), max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if data.get("reason") == SuspensionReason.DEATH and not data.get("died_on"):
            self.add_error("died_on", _("因死亡停发时请填写死亡日期。"))
        elif data.get("reason") != SuspensionReason.DEATH and not data.get("from_month"):
            self.add_error("from_month", _("请填写停发起始月。"))
        return data


class ResumeForm(forms.Form):
    resumed_month = MonthField(label=_("恢复发放月"))
    note = forms.CharField(label=_("说明"), max_length=200, required=False)


class AccountForm(PersonNumberForm):
    bank = forms.ChoiceField(label=_("开户银行"), choices=Bank.choices)
    account_number = forms.CharField(label=_("银行账号"), max_length=30)
    # Only for a deceased recipient (the service says so): the heir the months due up to the death are paid to.
    holder_name = forms.CharField(label=_("继承人姓名（户名）"), max_length=50, required=False)
    holder_id_number = forms.CharField(label=_("继承人公民身份号码"), max_length=20, required=False)


class RepaymentForm(forms.Form):
    """Money received back against an overpaid benefit; the service checks the amount against what is owed."""

    amount = forms.CharField(label=_("退回金额（元）"), max_length=20)
    received_on = forms.DateField(label=_("到账日期"))
    way = forms.ChoiceField(label=_("退回方式"), choices=RepaymentWay.choices)
    # Required by the service, which then reports it together with the amount's errors (every error at once).
    document_number = forms.CharField(label=_("回单号"), max_length=40, required=False)
    note = forms.CharField(label=_("说明"), max_length=200, required=False)
