"""Forms of the evaluation pages: they read and check what was typed; the services decide the rest."""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.models import InsuranceType

from .periods import add_months, month_parse, month_start


class MonthField(forms.Field):
    """YYYY-MM → the month's first day."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "month", "placeholder": "2026-10", "maxlength": 7}))
        super().__init__(**kwargs)

    def to_python(self, value):
        text = str(value or "").strip()
        if not text:
            return None
        month = month_parse(text) if len(text) <= 7 else None
        if month is None or not 2000 <= month.year <= 2099:
            raise ValidationError(_("请按“年-月”填写月份，如 2026-10。"), code="invalid")
        return month


def not_future(month: datetime.date | None) -> None:
    if month is not None and month > month_start(timezone.localdate()):
        raise ValidationError(_("%(m)s 尚未到来，没有考核数据。") % {"m": f"{month:%Y-%m}"}, code="future")


class PeriodForm(forms.Form):
    """Which evaluation: a month (default: last month) or a year, optionally one office's subtree."""

    month = MonthField(label=_("月份"), required=False)
    year = forms.IntegerField(label=_("年度"), required=False, min_value=2000, max_value=2099)
    office = forms.CharField(label=_("机构代码"), required=False, max_length=12)

    def clean_month(self):
        month = self.cleaned_data.get("month")
        not_future(month)
        return month

    def clean_year(self):
        year = self.cleaned_data.get("year")
        if year is not None and year > timezone.localdate().year:
            raise ValidationError(_("%(y)s 年尚未到来，没有考核数据。") % {"y": year}, code="future")
        return year

    def period(self) -> tuple[str, datetime.date | int]:
        data = self.cleaned_data
        if data.get("year") and not data.get("month"):
            return "year", data["year"]
        return "month", data.get("month") or add_months(month_start(timezone.localdate()), -1)


class PublishForm(forms.Form):
    month = MonthField(label=_("月份"))

    def clean_month(self):
        month = self.cleaned_data["month"]
        not_future(month)
        return month


class CorrectForm(PublishForm):
    reason = forms.CharField(label=_("更正理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class EscalateForm(forms.Form):
    note = forms.CharField(
        label=_("督办说明"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 1, "placeholder": _("超期原因、督办要求")}),
    )


SCORES = [(5, _("5 非常满意")), (4, _("4 满意")), (3, _("3 基本满意")), (2, _("2 不满意")), (1, _("1 非常不满意"))]


class TabletRatingForm(forms.Form):
    """The counter tablet (窗口评价器): the applicant types his case number and rates the service."""

    number = forms.CharField(label=_("办件编号"), max_length=30)
    score = forms.TypedChoiceField(label=_("评价"), choices=SCORES, coerce=int, widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("意见建议（可不填）"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean_number(self):
        return self.cleaned_data["number"].strip().upper()


class StatisticsForm(forms.Form):
    """Filters of a statistics page: months, area (district, township: codes; checked against the jurisdiction by
    the view), insurance and how to group."""

    start = MonthField(label=_("起始月份"), required=False)
    end = MonthField(label=_("截止月份"), required=False)
    district = forms.CharField(label=_("区"), required=False, max_length=12)
    township = forms.CharField(label=_("街道（乡镇）"), required=False, max_length=12)
    insurance = forms.ChoiceField(label=_("险种"), required=False)
    group = forms.ChoiceField(label=_("分组"), required=False)

    MAX_MONTHS = 60

    def __init__(self, *args, groups: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = groups
        self.fields["insurance"].choices = [("", _("全部险种")), *InsuranceType.choices]
        self.default_group = groups[0][0]

    def clean(self):
        data = super().clean()
        this_month = month_start(timezone.localdate())
        end = data.get("end") or this_month
        start = data.get("start") or add_months(end, -11)
        if end > this_month:
            self.add_error("end", _("截止月份不能晚于本月。"))
        elif start > end:
            self.add_error("start", _("起始月份不能晚于截止月份。"))
        elif (end.year - start.year) * 12 + end.month - start.month >= self.MAX_MONTHS:
            self.add_error("start", _("一次最多查询 %(n)d 个月。") % {"n": self.MAX_MONTHS})
        data["start"], data["end"] = start, end
        data["group"] = data.get("group") or self.default_group
        return data
