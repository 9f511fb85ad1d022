"""xlsx/csv import and export of policy documents and parameter tables (admin).

Every imported row goes through the same preparation as the services; a bad row is reported with
its message and, since admin imports are one transaction after a dry run, nothing is written.
"""

from __future__ import annotations

import datetime
import uuid

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from registry.audit import audit_mark
from registry.models import Office
from registry.resource_headers import ChineseHeaders

from .models import Parameter, ParameterValue, PolicyDocument
from .services import parameter_value_assign, parameter_value_prepare, policy_document_prepare
from .values import to_text


class _UserResource(ChineseHeaders, resources.ModelResource):
    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def save_instance(self, instance, is_create, row, **kwargs):
        audit_mark(instance, acting_user=kwargs.get("user") or self.user)
        return super().save_instance(instance, is_create, row, **kwargs)


class DistrictWidget(widgets.ForeignKeyWidget):
    """A district by division code; blank means city-wide."""

    def __init__(self):
        super().__init__(Office, field="code")

    def clean(self, value, row=None, **kwargs):
        if value in (None, ""):
            return None
        code = str(value).strip()
        if code.endswith(".0"):  # a code typed as a number in Excel
            code = code[:-2]
        office = Office.objects.filter(code=code, level=2).first()
        if office is None:
            raise ValueError(
                _("未知的区代码“%(code)s”：请填写 331002、331003、331004，或留空表示市区统一。") % {"code": value}
            )
        return office


class DocumentNumberWidget(widgets.ForeignKeyWidget):
    def __init__(self):
        super().__init__(PolicyDocument, field="number")

    def clean(self, value, row=None, **kwargs):
        if value in (None, ""):
            return None
        document = PolicyDocument.objects.filter(number=str(value).strip()).first()
        if document is None:
            raise ValueError(_("未登记的文号“%(number)s”：请先登记该政策文件。") % {"number": value})
        return document


class ParameterCodeWidget(widgets.ForeignKeyWidget):
    def __init__(self):
        super().__init__(Parameter, field="code")

    def clean(self, value, row=None, **kwargs):
        if value in (None, ""):
            raise ValueError(_("请填写参数代码。"))
        parameter = Parameter.objects.filter(code=str(value).strip()).first()
        if parameter is None:
            raise ValueError(_("未知的参数代码“%(code)s”。") % {"code": value})
        return parameter


class LenientDateWidget(widgets.DateWidget):
    """Dates as Excel dates or YYYY-MM-DD text, with a Chinese message naming the format."""

    def clean(self, value, row=None, **kwargs):
        if value in (None, ""):
            return None
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        try:
            return datetime.date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise ValueError(_("日期“%(value)s”格式有误，应为 YYYY-MM-DD。") % {"value": value}) from None

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""


class UidField(fields.Field):
    """The opaque id: blank on a new row (a new id is given), kept on an existing one."""

    def clean(self, row, **kwargs):
        value = row.get(self.column_name)
        if value in (None, ""):
            return None
        try:
            return uuid.UUID(str(value).strip())
        except ValueError:
            raise ValueError(_("编号“%(uid)s”格式无效；新增取值请留空。") % {"uid": value}) from None

    def save(self, instance, row, is_m2m=False, **kwargs):
        value = self.clean(row)
        if value is not None:
            instance.uid = value


class ParameterValueResource(_UserResource):
    HEADERS = {"uid": "编号", "parameter": "参数代码", "value": "取值"}
    uid = UidField(attribute="uid", column_name="uid")
    parameter = fields.Field(attribute="parameter", column_name="code", widget=ParameterCodeWidget())
    district = fields.Field(attribute="district", column_name="district", widget=DistrictWidget())
    valid_from = fields.Field(attribute="valid_from", column_name="valid_from", widget=LenientDateWidget())
    valid_to = fields.Field(attribute="valid_to", column_name="valid_to", widget=LenientDateWidget())
    value = fields.Field(column_name="value")
    document = fields.Field(attribute="document", column_name="document", widget=DocumentNumberWidget())
    is_demo = fields.Field(attribute="is_demo", column_name="is_demo", widget=widgets.BooleanWidget())
    note = fields.Field(attribute="note", column_name="note")
    revision = fields.Field(attribute="revision", column_name="revision", readonly=True)

    class Meta:
        model = ParameterValue
        import_id_fields = ["uid"]
        fields = [
            "uid",
            "parameter",
            "district",
            "valid_from",
            "valid_to",
            "value",
            "document",
            "is_demo",
            "note",
            "revision",
        ]
        export_order = fields
        clean_model_instances = True
        skip_unchanged = False

    def get_queryset(self):
        return ParameterValue.objects.select_related("parameter", "district", "document")

    def get_instance(self, instance_loader, row):
        # A blank uid is a new row: never look it up (an empty string is not a UUID).
        raw = row.get(self.fields["uid"].column_name)
        if raw in (None, ""):
            return None
        try:
            uid = uuid.UUID(str(raw).strip())
        except ValueError:
            return None
        return self.get_queryset().filter(uid=uid).first()

    def dehydrate_value(self, value: ParameterValue) -> str:
        return to_text(value.kind, value.stored_value)

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if not instance.parameter_id:
            raise ValidationError({"parameter": _("请填写参数代码。")})
        raw = row.get(self.fields["value"].column_name)
        if raw in (None, ""):
            raise ValidationError({"value": _("请填写取值。")})
        parameter_value_assign(instance, raw)
        if instance.is_demo is None:
            instance.is_demo = False
        instance.note = instance.note or ""
        parameter_value_prepare(instance)


class PolicyDocumentResource(_UserResource):
    district = fields.Field(attribute="district", column_name="district", widget=DistrictWidget())
    issued_on = fields.Field(attribute="issued_on", column_name="issued_on", widget=LenientDateWidget())
    effective_from = fields.Field(attribute="effective_from", column_name="effective_from", widget=LenientDateWidget())
    repealed_on = fields.Field(
        attribute="repealed_on", column_name="repealed_on", widget=LenientDateWidget(), readonly=True
    )
    status = fields.Field(attribute="status", column_name="status", readonly=True)
    insurances = fields.Field(attribute="insurances", column_name="insurances")
    is_demo = fields.Field(attribute="is_demo", column_name="is_demo", widget=widgets.BooleanWidget())

    class Meta:
        model = PolicyDocument
        import_id_fields = ["number"]
        fields = [
            "number",
            "title",
            "issuer",
            "level",
            "district",
            "insurances",
            "issued_on",
            "effective_from",
            "repealed_on",
            "status",
            "is_demo",
            "note",
        ]
        export_order = fields
        clean_model_instances = True

    def dehydrate_insurances(self, document: PolicyDocument) -> str:
        return ",".join(document.insurances or [])

    def import_instance(self, instance, row, **kwargs):
        column = self.fields["insurances"].column_name
        raw = row.get(column)
        row = dict(row)
        row[column] = [part.strip() for part in str(raw or "").replace("，", ",").split(",") if part.strip()]
        super().import_instance(instance, row, **kwargs)
        if instance.is_demo is None:
            instance.is_demo = False
        instance.note = instance.note or ""
        policy_document_prepare(instance)
