"""Forms of the funds pages: they only read what was typed; the services check it and say what is wrong."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from registry.models import Office, OfficeLevel

from .models import Account, Fund, RemittanceDirection
from .services import SIMPLE_ACCOUNTS
from .services.budget import BUDGET_ACCOUNTS

_LABELS = dict(Account.choices)


class DateInput(forms.DateInput):
    input_type = "date"


def _ledger_offices():
    return Office.objects.filter(level__in=[OfficeLevel.CITY, OfficeLevel.DISTRICT]).order_by("level", "code")


class SimplePostingForm(forms.Form):
    fund = forms.ModelChoiceField(Fund.objects.filter(is_active=True), label=_("基金"))
    office = forms.ModelChoiceField(_ledger_offices(), label=_("所属区"))
    account = forms.ChoiceField(choices=[(a, _LABELS[a]) for a in SIMPLE_ACCOUNTS], label=_("科目"))
    amount = forms.CharField(label=_("金额（元）"), max_length=20)
    booked_on = forms.DateField(label=_("记账日期"), widget=DateInput)
    document_number = forms.CharField(label=_("凭证号/文件号"), max_length=80)
    description = forms.CharField(label=_("摘要"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["office"].queryset = _ledger_offices()


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("冲销原因"), max_length=150, required=False)


class BudgetDraftForm(forms.Form):
    fund = forms.ModelChoiceField(Fund.objects.filter(is_active=True), label=_("基金"))
    year = forms.IntegerField(label=_("预算年度"), min_value=2000, max_value=2099)
    note = forms.CharField(label=_("编制说明"), widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for account in BUDGET_ACCOUNTS:
            self.fields[f"growth_{account}"] = forms.CharField(
                label=_LABELS[account], required=False, max_length=12, help_text=_("增长率，如 0.05 或 5%")
            )

    def growth(self) -> dict[str, str]:
        return {a: self.cleaned_data.get(f"growth_{a}") or "" for a in BUDGET_ACCOUNTS}

    def growth_fields(self):
        return [self[f"growth_{a}"] for a in BUDGET_ACCOUNTS]


class NoteForm(forms.Form):
    note = forms.CharField(label=_("意见"), max_length=200, required=False)


class YearCloseForm(forms.Form):
    year = forms.IntegerField(label=_("结账年度"), min_value=2000, max_value=2099)


class ShareSettleForm(forms.Form):
    share = forms.IntegerField(widget=forms.HiddenInput)
    booked_on = forms.DateField(label=_("到账日期"), widget=DateInput)
    document_number = forms.CharField(label=_("拨款文件号"), max_length=80)


class AcknowledgeForm(forms.Form):
    comment = forms.CharField(label=_("处理意见"), widget=forms.Textarea(attrs={"rows": 3}), required=False)


class RemittanceForm(forms.Form):
    direction = forms.ChoiceField(choices=RemittanceDirection.choices, label=_("方向"))
    amount = forms.CharField(label=_("金额（元）"), max_length=20)
    booked_on = forms.DateField(label=_("记账日期"), widget=DateInput)
    document_number = forms.CharField(label=_("文件号"), max_length=80, required=False)
    document_title = forms.CharField(label=_("文件标题"), max_length=200, required=False)
    attachment = forms.FileField(label=_("文件扫描件"), required=False)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)


class ExpenditureUploadForm(forms.Form):
    file = forms.FileField(label=_("支出汇总文件（.xlsx 或 CSV）"))


# ---------------------------------------------------------------------------------------------
# Query strings: every value a page reads from its query comes through these (never request.GET by key).


class QueryForm(forms.Form):
    """Optional text fields of a query string; ``value(name)`` is the stripped text ("" when absent)."""

    def value(self, name: str) -> str:
        raw = self.data.get(name) if self.is_bound else None
        return str(raw or "").strip()[: self.fields[name].max_length or 200]


def _query_field(max_length: int = 20) -> forms.CharField:
    return forms.CharField(required=False, max_length=max_length)


class LedgerQueryForm(QueryForm):
    fund = _query_field()
    office = _query_field()
    kind = _query_field()
    month = _query_field()


class MonthYearQueryForm(QueryForm):
    month = _query_field()
    year = _query_field()


class WarningQueryForm(QueryForm):
    status = _query_field()


class YearButtonsForm(QueryForm):
    """Which of the two forms of the year page was sent (the name of its submit button)."""

    close = _query_field(200)
    settle = _query_field(200)

    def sent(self) -> str:
        if not self.is_bound:
            return ""
        return "close" if "close" in self.data else "settle" if "settle" in self.data else ""
