"""Forms of the counter pages: registering a person and an employer, 通城通办 intake, the home page's search."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from registry import selectors as registry_selectors
from registry.identifiers import credit_code_normalize, id_number_info
from registry.models import Employer, EmployerType, HouseholdType, Office

from .tokens import FormTokenMixin


def office_choices(user: Any) -> list[tuple[str, str]]:
    """Active offices of the user's jurisdiction, his own first (a residence or handling office)."""
    offices = registry_selectors.office_subtree(user.office) if getattr(user, "office", None) else Office.objects.none()
    return [(o.code, o.name) for o in offices.filter(is_active=True).order_by("path")]


class _OfficeForm(FormTokenMixin, forms.Form):
    office_field = "office"

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        field = self.fields[self.office_field]
        field.choices = [("", "—"), *office_choices(user)]
        if getattr(user, "office", None) is not None and not self.is_bound:
            field.initial = user.office.code

    def office(self) -> Office | None:
        code = self.cleaned_data.get(self.office_field)
        return Office.objects.filter(code=code).first() if code else None


class PersonRegisterForm(_OfficeForm):
    """公民身份号码 as typed (full-width digits, spaces, dashes, a card reader's Enter): sex and birth from the number."""

    office_field = "residence_office"

    id_number = forms.CharField(
        label=_("公民身份号码"),
        max_length=40,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "data-enter-next": "1"}),
        help_text=_("可用身份证阅读器读入（读入后自动跳到下一项）；全角数字、空格和横线自动去除。"),
    )
    name = forms.CharField(label=_("姓名"), max_length=50, widget=forms.TextInput(attrs={"data-enter-next": "1"}))
    household_type = forms.ChoiceField(label=_("户籍类型"), choices=HouseholdType.choices, initial=HouseholdType.URBAN)
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    residence_office = forms.ChoiceField(label=_("所属经办机构"))

    def clean_id_number(self) -> str:
        try:
            info = id_number_info(self.cleaned_data["id_number"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        self.id_info = info
        return info.number

    def clean_phone(self) -> str:
        phone = "".join(ch for ch in self.cleaned_data.get("phone", "") if not ch.isspace())
        if phone and not all(ch.isdigit() or ch in "-+" for ch in phone):
            raise ValidationError(_("联系电话只能包含数字、“-”和“+”。"))
        return phone

    def area_warning(self) -> str:
        info = getattr(self, "id_info", None)
        if info is None or info.area_known:
            return ""
        return _("公民身份号码的地区码 %(area)s 不在行政区划代码表中，请核对身份证原件（已按原号码登记）。") % {
            "area": info.area_code
        }


class EmployerRegisterForm(_OfficeForm):
    credit_code = forms.CharField(
        label=_("统一社会信用代码"),
        max_length=40,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "data-enter-next": "1"}),
        help_text=_("全角字符、空格和横线自动去除。"),
    )
    name = forms.CharField(label=_("单位名称"), max_length=200)
    employer_type = forms.ChoiceField(label=_("单位类型"), choices=EmployerType.choices)
    legal_representative = forms.CharField(label=_("法定代表人"), max_length=50, required=False)
    industry = forms.CharField(label=_("行业"), max_length=100, required=False)
    office = forms.ChoiceField(label=_("参保经办机构"))
    risk_class = forms.TypedChoiceField(
        label=_("工伤风险类别"), coerce=int, choices=[(i, f"{i} 类") for i in range(1, 9)], initial=1
    )

    def clean_credit_code(self) -> str:
        try:
            return credit_code_normalize(self.cleaned_data["credit_code"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None


class WindowIntakeForm(FormTokenMixin, forms.Form):
    id_number = forms.CharField(label=_("公民身份号码"), max_length=40)
    item = forms.CharField(label=_("事项"), max_length=32)
    note = forms.CharField(label=_("申请说明"), max_length=2000, required=False)


class EmployerListForm(forms.Form):
    q = forms.CharField(label=_("查找参保单位"), max_length=100, required=False)
    page = forms.CharField(max_length=12, required=False)

    def values(self) -> tuple[str, str]:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return (data.get("q") or "").strip(), data.get("page") or "1"


def employer_of(user: Any, uid: Any) -> Employer | None:
    try:
        return registry_selectors.employer_list(user=user).filter(uid=uid).first()
    except (ValueError, ValidationError):
        return None
