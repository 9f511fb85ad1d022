"""django-import-export resources: Excel/CSV in and out of admin, every row through the same preparation
and validation as the services, jurisdiction applied to imported rows."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from registry.audit import audit_mark
from registry.identifiers import credit_code_normalize, id_number_mask, id_number_normalize
from registry.jurisdiction import office_in_jurisdiction, scope_to_user
from registry.models import Employer, Enrollment, Office, Person, SensitiveAccess
from registry.resource_headers import ChineseHeaders
from registry.services import employer_prepare, enrollment_prepare, person_prepare


class OfficeCodeWidget(widgets.ForeignKeyWidget):
    def __init__(self):
        super().__init__(Office, field="code")

    def clean(self, value, row=None, **kwargs):
        if value in (None, ""):
            return None
        try:
            return super().clean(str(value).strip(), row, **kwargs)
        except Office.DoesNotExist:
            raise ValueError(_("未知的经办机构代码“%(code)s”。") % {"code": value}) from None


class UidWidget(widgets.ForeignKeyWidget):
    def clean(self, value, row=None, **kwargs):
        if value in (None, ""):
            return None
        try:
            return super().clean(str(value).strip(), row, **kwargs)
        except (self.model.DoesNotExist, ValidationError, ValueError):
            raise ValueError(_("编号“%(uid)s”对应的记录不存在。") % {"uid": value}) from None


class _NormalisedKeyWidget(widgets.CharWidget):
    """Normalises an identifying number so that a row finds its record however the number was written.

    A number that does not normalise is passed on as written: the preparation then names the error.
    """

    normalize = staticmethod(lambda value: value)

    def clean(self, value, row=None, **kwargs):
        value = super().clean(value, row, **kwargs)
        try:
            return self.normalize(value)
        except ValidationError:
            return value


class IdNumberWidget(_NormalisedKeyWidget):
    normalize = staticmethod(id_number_normalize)


class CreditCodeWidget(_NormalisedKeyWidget):
    normalize = staticmethod(credit_code_normalize)


class _JurisdictionResource(ChineseHeaders, resources.ModelResource):
    """Rows whose office lies outside the importing user's jurisdiction are errors."""

    office_attr = "office"

    def __init__(self, *args, user=None, request_id="", **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.request_id = request_id or ""

    def get_queryset(self):
        # Rows are matched to existing records inside the user's jurisdiction only: a row naming another
        # district's record becomes a new record, which its unique number then refuses.
        queryset = super().get_queryset()
        return scope_to_user(queryset, self.user) if self.user is not None else queryset

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        user = kwargs.get("user") or self.user
        office = (
            getattr(instance, self.office_attr, None) if getattr(instance, f"{self.office_attr}_id", None) else None
        )
        if user is not None and office is not None and not office_in_jurisdiction(user, office):
            raise ValidationError({self.office_attr: _("机构“%(office)s”不在您的辖区内。") % {"office": office.name}})

    def save_instance(self, instance, is_create, row, **kwargs):
        audit_mark(instance, acting_user=kwargs.get("user") or self.user)
        return super().save_instance(instance, is_create, row, **kwargs)


class PersonResource(_JurisdictionResource):
    office_attr = "residence_office"
    residence_office = fields.Field(
        attribute="residence_office", column_name="residence_office", widget=OfficeCodeWidget()
    )
    id_number = fields.Field(attribute="id_number", column_name="id_number", widget=IdNumberWidget())

    class Meta:
        model = Person
        import_id_fields = ["id_number"]
        fields = [
            "id_number",
            "name",
            "household_type",
            "phone",
            "address",
            "residence_office",
            "card_number",
            "card_status",
        ]
        export_order = fields
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = False

    def before_save_instance(self, instance, row, **kwargs):
        person_prepare(instance)

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        person_prepare(instance)

    def _exports_whole_numbers(self) -> bool:
        return self.user is not None and self.user.has_perm("registry.view_full_id_number")

    def export(self, queryset=None, **kwargs):
        self._revealed: list[Person] = []
        dataset = super().export(queryset=queryset, **kwargs)
        if self._revealed:
            # Every whole number leaving the system is a view of a sensitive value: logged like a reveal.
            office = getattr(self.user, "office", None)
            SensitiveAccess.objects.bulk_create(
                SensitiveAccess(
                    user=self.user,
                    office=office,
                    person=person,
                    field="id_number",
                    channel=SensitiveAccess.Channel.EXPORT,
                    request_id=self.request_id[:64],
                )
                for person in self._revealed
            )
        return dataset

    def dehydrate_id_number(self, person):
        # Exports carry masked numbers unless the exporting user may see them whole.
        if self._exports_whole_numbers():
            if hasattr(self, "_revealed"):
                self._revealed.append(person)
            return person.id_number
        return id_number_mask(person.id_number)


class EmployerResource(_JurisdictionResource):
    office = fields.Field(attribute="office", column_name="office", widget=OfficeCodeWidget())
    credit_code = fields.Field(attribute="credit_code", column_name="credit_code", widget=CreditCodeWidget())

    class Meta:
        model = Employer
        import_id_fields = ["credit_code"]
        fields = ["credit_code", "name", "employer_type", "industry", "risk_class", "office", "status"]
        export_order = fields
        clean_model_instances = True
        skip_unchanged = True

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        employer_prepare(instance)


class EnrollmentResource(_JurisdictionResource):
    HEADERS = {"uid": "编号", "person": "参保人员编号", "employer": "参保单位编号"}
    person = fields.Field(attribute="person", column_name="person_uid", widget=UidWidget(Person, field="uid"))
    employer = fields.Field(attribute="employer", column_name="employer_uid", widget=UidWidget(Employer, field="uid"))
    office = fields.Field(attribute="office", column_name="office", widget=OfficeCodeWidget(), readonly=True)

    class Meta:
        model = Enrollment
        import_id_fields = ["uid"]
        fields = ["uid", "person", "insurance_type", "employer", "is_flexible", "start_date", "end_date", "office"]
        export_order = fields
        clean_model_instances = True

    # What an existing enrollment keeps (services.ENROLLMENT_EDITABLE): a change is a new enrollment.
    fixed_on_update = ("person_id", "insurance_type", "employer_id", "is_flexible")

    def import_instance(self, instance, row, **kwargs):
        super(_JurisdictionResource, self).import_instance(instance, row, **kwargs)
        if not instance.person_id:
            raise ValidationError({"person": _("请填写参保人员编号。")})
        user = kwargs.get("user") or self.user
        # The same checks as services.enrollment_create: both the person and the employer in jurisdiction.
        if user is not None and not office_in_jurisdiction(user, instance.person.residence_office):
            raise ValidationError({"person": _("参保人员不在您的辖区内。")})
        if user is not None and instance.employer_id and not office_in_jurisdiction(user, instance.employer.office):
            raise ValidationError({"employer": _("参保单位不在您的辖区内。")})
        if instance.pk:
            stored = Enrollment.objects.filter(pk=instance.pk).values(*self.fixed_on_update).first() or {}
            changed = sorted(
                f.removesuffix("_id") for f in self.fixed_on_update if stored.get(f) != getattr(instance, f)
            )
            if changed:
                raise ValidationError({f: _("该字段不可修改；请终止本登记并新建一条。") for f in changed})
        enrollment_prepare(instance)
        if user is not None and not office_in_jurisdiction(user, instance.office):
            raise ValidationError({"office": _("该参保登记的经办机构不在您的辖区内。")})
