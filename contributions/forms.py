"""Forms of the contributions pages (and of the exchange pages): every query and form value a page reads comes
through one of these classes, never from ``request.GET``/``request.POST`` by key. They read what was typed as text
(bounded, NUL refused by the middleware); the services check the meaning (a period, an amount, a payer) and say
what is wrong, as before. ``values()`` gives the typed text back for the page to show again."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contributions.models import BillKind
from contributions.periods import period_parse


class TextForm(forms.Form):
    """A form of optional text fields; ``values()`` is the stripped text of each (or its initial value)."""

    def values(self) -> dict[str, str]:
        out = {}
        for name, field in self.fields.items():
            raw = self.data.get(name) if self.is_bound else None
            if raw is None:
                raw = self.initial.get(name, field.initial) or ""
            out[name] = str(raw).strip()[: getattr(field, "max_length", None) or 200]
        return out


def _text(max_length: int = 200, label: Any = "") -> forms.CharField:
    return forms.CharField(required=False, max_length=max_length, label=label)


class ListFilterForm(TextForm):
    """The filters of the lists: period (YYYYMM), search text, bill kind, a date."""

    period = _text(20, gettext_lazy("所属期"))
    q = _text(100, gettext_lazy("检索"))
    kind = _text(20, gettext_lazy("类型"))
    on = _text(20, gettext_lazy("查询日"))
    page = _text(20)

    def period_value(self, default: int | None = None) -> tuple[int | None, str]:
        raw = self.values()["period"]
        if not raw:
            return default, ""
        try:
            return period_parse(raw, allow_future=True), ""
        except ValidationError as exc:
            return None, "；".join(exc.messages)

    def kind_value(self) -> str:
        kind = self.values()["kind"]
        return kind if kind in BillKind.values else ""

    def on_value(self, default: datetime.date) -> tuple[datetime.date, str]:
        raw = self.values()["on"]
        if not raw:
            return default, ""
        try:
            return datetime.date.fromisoformat(raw), ""
        except ValueError:
            return default, _("查询日“%(v)s”不是有效日期（YYYY-MM-DD）。") % {"v": raw[:20]}


class DeclarationActionForm(TextForm):
    action = _text(20)


class PayrollUploadForm(forms.Form):
    payroll = forms.FileField(required=False, label=gettext_lazy("工资表"))


class DeclarationLinesForm(forms.Form):
    """The entry form's lines: ``base_<person uid>`` (the declared base as typed) and ``row_<person uid>`` (its line
    number on the page). Fields are made from the posted names that have this shape; any other name is ignored."""

    PREFIX = "base_"
    BELOW_FLOOR = "below_floor_"

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        for key in list(data or {}):
            if key.startswith(self.PREFIX):
                uid = key[len(self.PREFIX) :][:40]
                self.fields[f"{self.PREFIX}{uid}"] = forms.CharField(required=False, max_length=40, strip=False)
                self.fields[f"row_{uid}"] = forms.CharField(required=False, max_length=10)
                self.fields[f"{self.BELOW_FLOOR}{uid}"] = forms.BooleanField(required=False)

    def confirmed_below_floor(self) -> set[str]:
        """The person uids whose line the clerk ticked: a base below the floor is what was declared."""
        return {key[len(self.BELOW_FLOOR) :] for key in (self.data or {}) if key.startswith(self.BELOW_FLOOR)}

    def lines(self) -> tuple[dict[str, str], list[tuple[int, str, str]], list[uuid.UUID]]:
        """(typed value by person uid, [(row, uid, value)] of the filled lines in row order, the valid uids)."""
        posted: dict[str, str] = {}
        numbered: list[tuple[int, str, str]] = []
        for name in self.fields:
            if not name.startswith(self.PREFIX):
                continue
            uid = name[len(self.PREFIX) :]
            value = str(self.data.get(name, ""))[:40]
            posted[uid] = value
            if value.strip():
                try:
                    row = int(str(self.data.get(f"row_{uid}", "0"))[:10])
                except ValueError:
                    row = 0
                numbered.append((row, uid, value.strip()))
        numbered.sort()
        valid = []
        for _row, uid, _value in numbered:
            try:
                valid.append(uuid.UUID(uid))
            except ValueError:
                continue
        return posted, numbered, valid


class BillRunStartForm(TextForm):
    period = _text(20, gettext_lazy("所属期"))
    scope = _text(20, gettext_lazy("范围"))
    office = _text(20, gettext_lazy("区"))
    employer = _text(100, gettext_lazy("单位"))


class BillExportStartForm(TextForm):
    period = _text(20, gettext_lazy("所属期"))
    office = _text(20, gettext_lazy("范围"))
    format = _text(10, gettext_lazy("格式"))
    encoding = _text(10, gettext_lazy("编码"))


class PaymentFileUploadForm(TextForm):
    mode = _text(20, gettext_lazy("导入方式"))
    file = forms.FileField(required=False, label=gettext_lazy("到账文件"))


class ReconciliationFilterForm(TextForm):
    category = _text(30, gettext_lazy("类别"))
    office = _text(20, gettext_lazy("机构"))
    page = _text(20)


class LineCorrectionForm(TextForm):
    reference = _text(64, gettext_lazy("流水号"))
    payer_type = _text(20, gettext_lazy("缴费方类型"))
    payer_code = _text(40, gettext_lazy("缴费方代码"))
    period = _text(20, gettext_lazy("所属期"))
    amount = _text(30, gettext_lazy("金额"))
    paid_on = _text(20, gettext_lazy("到账日期"))
    note = _text(200, gettext_lazy("说明"))


# ---------------------------------------------------------------------------------------------
# Residents and land-expropriated farmers at the counter.


def _year_field() -> forms.IntegerField:
    return forms.IntegerField(
        label=gettext_lazy("缴费年度"),
        min_value=2000,
        max_value=2099,
        error_messages={"invalid": gettext_lazy("缴费年度应为四位数字，如 2026。")},
    )


class ResidentMedicalRunForm(forms.Form):
    year = _year_field()
    office = forms.ChoiceField(label=gettext_lazy("范围"))

    def __init__(self, *args, offices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.offices = {o.code: o for o in offices}
        self.fields["office"].choices = [(o.code, o.name) for o in offices]


class ResidentPensionGradeForm(forms.Form):
    """The year's grade of a resident pension contributor; the grades are those of the year's table."""

    year = _year_field()
    grade = forms.TypedChoiceField(label=gettext_lazy("缴费档次"), coerce=int)

    def __init__(self, *args, grades=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grade"].choices = [
            (
                g["grade"],
                _("第 %(g)s 档：%(a)s 元（补贴 %(s)s 元）") % {"g": g["grade"], "a": g["amount"], "s": g["subsidy"]},
            )
            for g in grades
        ]


class ResidentMedicalContributionForm(forms.Form):
    year = _year_field()


class FlexibleBaseForm(forms.Form):
    from_period = forms.CharField(
        label=gettext_lazy("起始所属期"), max_length=10, help_text=gettext_lazy("YYYYMM，本月或以后未出账的月份。")
    )
    percent = forms.CharField(
        label=gettext_lazy("缴费基数（平均工资的 %）"),
        max_length=10,
        help_text=gettext_lazy("60 至 300 之间，如 100。"),
    )


class LandFarmerContributionForm(forms.Form):
    """Nothing to type: the funding follows the parameters in force at the enrollment's start."""


class ResidentOpForm(TextForm):
    """Which of the person page's forms was sent (and the year typed, for the grade table of that year)."""

    op = _text(20)
    year = _text(10)


# ---------------------------------------------------------------------------------------------
# Enforcement of arrears: waivers, orders to pay, penalties (the services check the meaning).


class LateFeeWaiverForm(forms.Form):
    amount = forms.CharField(label=gettext_lazy("减免金额（元）"), max_length=20)
    reason = forms.CharField(label=gettext_lazy("减免理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class DecisionForm(forms.Form):
    """Approve or reject a proposal (waiver or penalty); the note is optional."""

    decision = forms.ChoiceField(
        label=gettext_lazy("审批"), choices=[("approve", gettext_lazy("批准")), ("reject", gettext_lazy("不批准"))]
    )
    note = forms.CharField(label=gettext_lazy("审批意见"), max_length=500, required=False)
    target = forms.UUIDField(widget=forms.HiddenInput)


class PaymentOrderIssueForm(forms.Form):
    office = forms.ChoiceField(label=gettext_lazy("范围"))

    def __init__(self, *args, offices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.offices = {o.code: o for o in offices}
        self.fields["office"].choices = [(o.code, o.name) for o in offices]


class PenaltyProposeForm(forms.Form):
    multiple = forms.CharField(
        label=gettext_lazy("罚款倍数"),
        max_length=10,
        help_text=gettext_lazy("欠缴数额的 1 至 3 倍（社会保险法第八十六条）"),
    )
    reason = forms.CharField(label=gettext_lazy("理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class BackdatedConfirmForm(forms.Form):
    confirm = forms.BooleanField(label=gettext_lazy("已核对以上差额，生成补缴或退费账单"))
