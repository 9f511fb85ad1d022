"""Form classes of the clerk pages of cases: every page input goes through one of these (tests/test_no_request_reads.py).

The intake form is generated from the catalogue item's fields (``services.effect_fields``); the employer is chosen
from a search list (a uid among the employers of the user's jurisdiction), never by the first match of free text.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry import selectors as registry_selectors
from registry.models import Employer

from . import selectors
from .counter.tokens import FormTokenMixin
from .models import CaseAction, CaseState


class MonthField(forms.CharField):
    """A month as YYYY-MM (also YYYY-MM-DD, taken as its month); cleaned to the first day of the month."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})
    default_error_messages = {"invalid": _("月份格式应为 YYYY-MM。")}

    def to_python(self, value: Any) -> datetime.date | None:
        text = (super().to_python(value) or "").strip()
        if not text:
            return None
        try:
            if len(text) == 7:
                return datetime.date.fromisoformat(f"{text}-01")
            return datetime.date.fromisoformat(text).replace(day=1)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files; an empty one passes through to the attachment check, which says what is wrong with it."""

    widget = MultipleFileInput

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(d, initial) for d in items]


# ---------------------------------------------------------------------------------------------
# Queue.


class QueueFilterForm(forms.Form):
    scope = forms.ChoiceField(choices=selectors.QUEUE_CHOICES, required=False)
    item = forms.CharField(max_length=32, required=False)
    state = forms.ChoiceField(choices=[("", "—"), *CaseState.choices], required=False)
    sla = forms.ChoiceField(choices=[("", "—"), *selectors.SLA_CHOICES], required=False)
    page = forms.CharField(max_length=12, required=False)

    def values(self) -> dict[str, str]:
        """The filters, an invalid one dropped (a filter is a convenience, not an error page)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "scope": data.get("scope") or selectors.QUEUE_PENDING,
            "item": (data.get("item") or "").strip(),
            "state": data.get("state") or "",
            "sla": data.get("sla") or "",
            "page": data.get("page") or "1",
        }


# ---------------------------------------------------------------------------------------------
# Intake.


class ApplicantSearchForm(forms.Form):
    op = forms.CharField(required=False)
    q = forms.CharField(label=_("查找申请人"), max_length=100, required=False)
    item = forms.CharField(max_length=32, required=False)


class IntakeTargetForm(forms.Form):
    """Which applicant, item and employer the intake page is about (query string or form)."""

    person = forms.UUIDField(required=False)
    item = forms.CharField(max_length=32, required=False)
    employer = forms.UUIDField(required=False)

    def values(self) -> dict[str, Any]:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {"person": data.get("person"), "item": data.get("item") or "", "employer": data.get("employer")}


class EmployerSearchForm(forms.Form):
    employer_q = forms.CharField(label=_("查找参保单位"), max_length=100, required=False)


def employer_choices(user: Any, query: str, chosen: Employer | None) -> list[tuple[str, str]]:
    """The search list an employer is chosen from: the employers of the user's jurisdiction matching ``query``."""
    rows: list[Employer] = []
    if query:
        rows = list(registry_selectors.employer_list(user=user, query=query).order_by("name")[:20])
    if chosen is not None and chosen not in rows:
        rows.insert(0, chosen)
    return [(str(e.uid), f"{e.name}（{e.credit_code}）") for e in rows]


def _item_field(spec) -> forms.Field:
    common = {"label": spec.label, "required": spec.required, "help_text": spec.help}
    if spec.kind == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if spec.kind == "month":
        return MonthField(initial=timezone.localdate().strftime("%Y-%m"), **common)
    if spec.kind == "choice":
        return forms.ChoiceField(choices=[("", "—"), *spec.choices], **common)
    if spec.kind == "multichoice":
        return forms.MultipleChoiceField(
            choices=spec.choices, initial=spec.default, widget=forms.CheckboxSelectMultiple, **common
        )
    if spec.kind == "bool":
        return forms.BooleanField(**{**common, "required": False})
    if spec.kind in ("textarea", "employees"):
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=100_000, **common)
    return forms.CharField(max_length=spec.max_length, **common)


class IntakeForm(FormTokenMixin, forms.Form):
    """Materials, the item's own fields (``f_<name>``), the employer (from the search list), scans, a note."""

    op = forms.CharField(required=False, widget=forms.HiddenInput)
    person = forms.UUIDField(required=False, widget=forms.HiddenInput)
    item = forms.CharField(max_length=32, widget=forms.HiddenInput)
    materials = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    employer = forms.ChoiceField(label=_("参保单位"), required=False)
    files = MultipleFileField(label=_("材料扫描件"), required=False)
    kept_files = forms.MultipleChoiceField(required=False, widget=forms.MultipleHiddenInput)
    staff_file = forms.FileField(label=_("上传名单文件"), required=False, allow_empty_file=True)
    note = forms.CharField(
        label=_("申请说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, item, specs, employers=(), staged=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.item = item
        self.specs = list(specs)
        self.fields["materials"].choices = [(m.code, m.name) for m in item.materials.all() if not m.system_source]
        self.fields["employer"].choices = [("", _("— 请先查找并选择单位 —")), *employers]
        self.fields["kept_files"].choices = [(s, s) for s in staged]
        for spec in self.specs:
            self.fields[f"f_{spec.name}"] = _item_field(spec)
        if not any(s.kind == "employees" for s in self.specs):
            del self.fields["staff_file"]

    def item_values(self) -> dict[str, Any]:
        """The item's fields as the handler takes them (dates as ISO text, months as YYYY-MM)."""
        out: dict[str, Any] = {}
        for spec in self.specs:
            value = self.cleaned_data.get(f"f_{spec.name}")
            if isinstance(value, datetime.date):
                value = value.strftime("%Y-%m") if spec.kind == "month" else value.isoformat()
            out[spec.name] = "" if value is None else value
        return out

    def item_field_names(self) -> list[str]:
        return [f"f_{s.name}" for s in self.specs]


# ---------------------------------------------------------------------------------------------
# Case page.


class CaseActionForm(FormTokenMixin, forms.Form):
    action = forms.ChoiceField(choices=CaseAction.choices)
    note = forms.CharField(required=False, max_length=2000)
    reason = forms.CharField(required=False, max_length=2000)
    materials = forms.MultipleChoiceField(required=False)
    missing = forms.MultipleChoiceField(required=False)

    def __init__(self, *args, case=None, **kwargs):
        super().__init__(*args, **kwargs)
        codes = [(m.code, m.code) for m in case.item.materials.all()] if case is not None else []
        self.fields["materials"].choices = codes
        self.fields["missing"].choices = codes


class AttachmentUploadForm(forms.Form):
    files = MultipleFileField(required=True, error_messages={"required": _("请选择要上传的文件。")})
    material = forms.CharField(required=False, max_length=40)


class PaymentForm(FormTokenMixin, forms.Form):
    period = forms.CharField(max_length=6)
    paid_on = forms.DateField(error_messages={"invalid": _("发放日期格式应为 YYYY-MM-DD。")})


class VerifyForm(forms.Form):
    code = forms.CharField(required=False, max_length=100)
    pdf = forms.FileField(required=False)
