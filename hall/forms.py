"""Forms of the hall: they read what was typed; the services check it and say what is wrong (``apply_errors``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cases.models import ServiceItem
from cases.services import effect_fields
from registry.exceptions import ApplicationError
from registry.pages import form_errors_add

from .models import Right

SEND, SUBMIT = "send", "submit"


def apply_errors(form: forms.Form, exc: ValidationError | ApplicationError) -> None:
    """A service's refusal on the form: on the named field when the form has it, else on top."""
    if isinstance(exc, ValidationError):
        form_errors_add(form, exc)
        return
    placed = False
    for field, messages in exc.extra.items():
        if field in form.fields:
            form.add_error(field, [str(m) for m in messages])
            placed = True
    if not placed:
        form.add_error(None, str(exc.message))


def _text(label: Any = "", max_length: int = 200, **kwargs: Any) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, **kwargs)


class _ButtonValue(forms.HiddenInput):
    """The value comes from the submit button pressed (name="action"); nothing of its own is rendered."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        return ""


class _PhoneCodeForm(forms.Form):
    action = forms.ChoiceField(choices=[(SEND, SEND), (SUBMIT, SUBMIT)], required=False, widget=_ButtonValue)
    phone = _text(_("手机号码"), 20, widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
    code = _text(_("短信验证码"), 6, required=False, widget=forms.TextInput(attrs={"inputmode": "numeric"}))

    @property
    def sending(self) -> bool:
        return self.cleaned_data.get("action") == SEND

    def clean(self):
        data = super().clean()
        if data.get("action") != SEND and not data.get("code"):
            self.add_error("code", _("请填写短信验证码。"))
        return data


class PersonRegisterForm(_PhoneCodeForm):
    id_number = _text(_("公民身份号码"), 20)
    name = _text(_("姓名"), 50)
    password = _text(_("设置密码"), 128, required=False, widget=forms.PasswordInput(render_value=False))
    field_order = ["id_number", "name", "phone", "code", "password"]

    def clean(self):
        data = super().clean()
        if data.get("action") != SEND and not data.get("password"):
            self.add_error("password", _("请设置密码（至少 8 位，不能全是数字）。"))
        return data


class EmployerRegisterForm(PersonRegisterForm):
    credit_code = _text(_("统一社会信用代码"), 20)
    employer_name = _text(_("单位名称"), 200)
    field_order = ["credit_code", "employer_name", "name", "id_number", "phone", "code", "password"]


class LoginForm(forms.Form):
    credit_code = _text(_("统一社会信用代码"), 20, required=False, help_text=_("单位账户填写；个人账户留空。"))
    phone = _text(_("手机号码"), 20, widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
    password = _text(_("密码"), 128, widget=forms.PasswordInput)


class NextForm(forms.Form):
    next = _text(_("返回页面"), 200, required=False)


class CodeForm(forms.Form):
    code = _text(
        _("验证码"), 12, widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"})
    )


class ResetForm(_PhoneCodeForm):
    credit_code = _text(_("统一社会信用代码"), 20, required=False, help_text=_("单位账户填写；个人账户留空。"))
    password = _text(_("新密码"), 128, required=False, widget=forms.PasswordInput)
    field_order = ["credit_code", "phone", "code", "password"]


class YearForm(forms.Form):
    year = forms.IntegerField(label=_("年度"), min_value=1990, max_value=2100, required=False)


class PeriodForm(forms.Form):
    period = forms.IntegerField(label=_("所属期（YYYYMM）"), min_value=199001, max_value=210012, required=False)


class ApplicationForm(forms.Form):
    """The fields of one catalogue item (its effect's fields), its materials to upload, the office, a note."""

    intake_office = forms.ModelChoiceField(
        queryset=None, label=_("受理机构"), required=False, empty_label=_("居住地经办机构")
    )
    note = _text(_("申请说明"), 500, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, item: ServiceItem, offices: Any, for_employer: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.item = item
        self.fields["intake_office"].queryset = offices
        if for_employer:
            self.fields["employee_id_number"] = _text(_("职工公民身份号码"), 20)
            self.fields["employee_name"] = _text(_("职工姓名"), 50)
        for spec in effect_fields(item):
            self.fields[f"f_{spec.name}"] = _spec_field(spec)
        for material in item.materials.all():
            if not material.system_source:
                self.fields[f"m_{material.code}"] = forms.FileField(
                    label=material.name, required=False, help_text=material.note
                )

    def material_files(self) -> dict[str, Any]:
        return {k[2:]: v for k, v in self.cleaned_data.items() if k.startswith("m_") and v}

    def effect_data(self) -> dict[str, Any]:
        """The item's fields as its handler takes them (dates as ISO text)."""
        out = {}
        for key, value in self.cleaned_data.items():
            if key.startswith("f_") and value not in (None, ""):
                out[key[2:]] = value.isoformat() if hasattr(value, "isoformat") else value
        return out


def _spec_field(spec: Any) -> forms.Field:
    """A form field for one of the item's fields (``cases.services.effects.FieldSpec``), every kind the counter has."""
    common = {"label": spec.label, "required": spec.required, "help_text": spec.help}
    if spec.kind == "choice":
        return forms.ChoiceField(choices=[("", "—"), *spec.choices], **common)
    if spec.kind == "multichoice":
        widget = forms.CheckboxSelectMultiple
        return forms.MultipleChoiceField(choices=spec.choices, initial=spec.default, widget=widget, **common)
    if spec.kind == "bool":
        return forms.BooleanField(**{**common, "required": False})
    if spec.kind == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if spec.kind == "month":
        return _text(max_length=7, widget=forms.TextInput(attrs={"placeholder": "YYYY-MM"}), **common)
    if spec.kind in ("textarea", "employees"):
        return _text(max_length=100_000, widget=forms.Textarea(attrs={"rows": 4}), **common)
    return _text(max_length=getattr(spec, "max_length", 200), **common)


class SupplementForm(forms.Form):
    def __init__(self, *args: Any, materials: list, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for material in materials:
            self.fields[f"m_{material.code}"] = forms.FileField(label=material.name)

    def material_files(self) -> dict[str, Any]:
        return {k[2:]: v for k, v in self.cleaned_data.items() if k.startswith("m_") and v}


class CertificateForm(forms.Form):
    item = forms.ModelChoiceField(queryset=ServiceItem.objects.none(), label=_("证明"))

    def __init__(self, *args: Any, items: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["item"].queryset = items


class WithdrawForm(forms.Form):
    reason = _text(_("撤回理由"), 300)


class RateForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("评分"),
        coerce=int,
        choices=[
            (5, _("5 非常满意")),
            (4, _("4 满意")),
            (3, _("3 基本满意")),
            (2, _("2 不满意")),
            (1, _("1 非常不满意")),
        ],
        widget=forms.RadioSelect,
    )
    comment = _text(_("评价内容（选填）"), 500, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CertifyForm(forms.Form):
    confirm = forms.BooleanField(label=_("本人确认仍健在并符合领取待遇的条件"))


class GradeForm(forms.Form):
    grade = forms.TypedChoiceField(label=_("缴费档次"), coerce=int, choices=[])

    def __init__(self, *args: Any, grades: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["grade"].choices = grades


class DeclarationForm(forms.Form):
    period = forms.IntegerField(widget=forms.HiddenInput, min_value=199001, max_value=210012)

    def __init__(self, *args: Any, candidates: list, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.candidates = candidates
        for c in candidates:
            self.fields[f"base_{c.person.uid}"] = _text(
                c.person.name, 30, required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"})
            )

    def entries(self) -> list[tuple[int, str, str]]:
        out = []
        for c in self.candidates:
            value = (self.cleaned_data.get(f"base_{c.person.uid}") or "").strip()
            if value:
                out.append((c.row, str(c.person.uid), value))
        return out


class PayrollUploadForm(forms.Form):
    period = forms.IntegerField(widget=forms.HiddenInput, min_value=199001, max_value=210012)
    payroll = forms.FileField(label=_("工资表（CSV 或 Excel .xlsx）"))


class AgentForm(forms.Form):
    name = _text(_("经办人姓名"), 50)
    id_number = _text(_("经办人公民身份号码"), 20)
    phone = _text(_("手机号码"), 20)
    password = _text(_("初始密码"), 128, widget=forms.PasswordInput)
    rights = forms.MultipleChoiceField(label=_("经办权限"), choices=Right.choices, widget=forms.CheckboxSelectMultiple)


class AgentUpdateForm(forms.Form):
    rights = forms.MultipleChoiceField(
        label=_("经办权限"), choices=Right.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    active = forms.BooleanField(label=_("启用"), required=False)


class PreferencesForm(forms.Form):
    notify_opt_out = forms.BooleanField(label=_("不接收非必要通知（账单提醒、档次选择提醒）"), required=False)


class CounterActionForm(forms.Form):
    action = forms.ChoiceField(choices=[("confirm", _("确认开通")), ("code", _("发放激活码"))])
