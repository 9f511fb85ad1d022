"""Forms of the clerk pages: input parsing only; the rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.selectors import office_districts

from .models import DecisionKind, DocumentLevel, DocumentStatus, PolicyDocument
from .reports import DEFAULT_AFTER, DEFAULT_BEFORE

_DATE_ERRORS = {"invalid": _("日期格式应为 YYYY-MM-DD，如 2024-01-01。")}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def _district_choices(empty_label) -> list[tuple[str, str]]:
    return [("", empty_label)] + [(o.code, o.short_name or o.name) for o in office_districts()]


class ParametersQueryForm(forms.Form):
    on = forms.DateField(label=_("日期"), required=False, widget=DateInput(), error_messages=_DATE_ERRORS)
    district = forms.ChoiceField(label=_("区"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].choices = _district_choices(_("市区统一"))
        self.fields["district"].error_messages["invalid_choice"] = _(
            "未知的区代码“%(value)s”，请选择椒江、黄岩或路桥。"
        )

    def clean_on(self):
        return self.cleaned_data.get("on") or timezone.localdate()


class UnificationQueryForm(forms.Form):
    before = forms.DateField(label=_("统一前日期"), required=False, widget=DateInput(), error_messages=_DATE_ERRORS)
    after = forms.DateField(label=_("统一后日期"), required=False, widget=DateInput(), error_messages=_DATE_ERRORS)
    all = forms.BooleanField(label=_("列出全部参数"), required=False)
    format = forms.ChoiceField(required=False, choices=[("", ""), ("xlsx", "Excel")], widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        data["before"] = data.get("before") or DEFAULT_BEFORE
        data["after"] = data.get("after") or DEFAULT_AFTER
        if not self.errors and data["after"] < data["before"]:
            self.add_error("after", _("统一后日期不能早于统一前日期。"))
        return data


class DocumentSearchForm(forms.Form):
    q = forms.CharField(label=_("关键词"), required=False, max_length=100)
    level = forms.ChoiceField(label=_("层级"), required=False, choices=[("", _("全部层级")), *DocumentLevel.choices])
    status = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部状态")), *DocumentStatus.choices])
    district = forms.ChoiceField(label=_("区"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].choices = _district_choices(_("全部"))


class DecisionProposeForm(forms.Form):
    decision = forms.ChoiceField(label=_("处理意见"), choices=DecisionKind.choices)
    effective_on = forms.DateField(
        label=_("废止/并入日期"), required=False, widget=DateInput(), error_messages=_DATE_ERRORS
    )
    merge_into = forms.ModelChoiceField(
        label=_("并入的市级文件"),
        required=False,
        queryset=PolicyDocument.objects.none(),
        error_messages={"invalid_choice": _("请选择现行有效的市级文件。")},
    )
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["merge_into"].queryset = PolicyDocument.objects.filter(
            level=DocumentLevel.CITY, status__in=[DocumentStatus.IN_FORCE, DocumentStatus.UNDER_REVIEW]
        ).order_by("-effective_from")


class DecisionDecideForm(forms.Form):
    note = forms.CharField(
        label=_("审批意见"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


class DocumentRepealForm(forms.Form):
    repealed_on = forms.DateField(label=_("失效日期"), widget=DateInput(), error_messages=_DATE_ERRORS)
    superseded_by = forms.ModelChoiceField(
        label=_("被替代为（可选）"), required=False, queryset=PolicyDocument.objects.none()
    )
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args, document: PolicyDocument | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        qs = PolicyDocument.objects.exclude(status__in=[DocumentStatus.REPEALED, DocumentStatus.SUPERSEDED])
        if document is not None:
            qs = qs.exclude(pk=document.pk)
        self.fields["superseded_by"].queryset = qs.order_by("-effective_from")
