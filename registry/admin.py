from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from simple_history.admin import SimpleHistoryAdmin

from .admin_mixins import JurisdictionAdminMixin
from .identifiers import id_number_mask
from .models import ApiKey, Employer, Enrollment, Office, Person, SensitiveAccess, SystemAccount, User
from .resources import EmployerResource, EnrollmentResource, PersonResource
from .services import employer_prepare, enrollment_prepare, person_prepare


class ImportExportJurisdictionAdmin(JurisdictionAdminMixin, ImportExportModelAdmin, SimpleHistoryAdmin):
    """Admin with import/export whose resources know the acting user (jurisdiction, masking)."""

    def get_resource_kwargs(self, request, *args, **kwargs):
        kwargs = super().get_resource_kwargs(request, *args, **kwargs)
        kwargs["user"] = request.user
        return kwargs

    def get_export_resource_kwargs(self, request, **kwargs):
        kwargs = super().get_export_resource_kwargs(request, **kwargs)
        kwargs["user"] = request.user
        return kwargs

    def get_import_resource_kwargs(self, request, **kwargs):
        kwargs = super().get_import_resource_kwargs(request, **kwargs)
        kwargs["user"] = request.user
        return kwargs

    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        super().save_model(request, obj, form, change)


@admin.register(Office)
class OfficeAdmin(JurisdictionAdminMixin, SimpleHistoryAdmin):
    list_display = ["code", "name", "level", "parent", "code_is_demo", "is_active"]
    list_filter = ["level", "code_is_demo", "is_active"]
    search_fields = ["code", "name"]
    readonly_fields = ["path"]
    list_select_related = ["parent"]

    def save_model(self, request, obj, form, change):
        from .services import office_save

        office_save(office=obj, acting_user=request.user)


class PersonAdminForm(forms.ModelForm):
    class Meta:
        model = Person
        fields = "__all__"

    def _post_clean(self):
        try:
            person_prepare(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)
        super()._post_clean()


@admin.register(Person)
class PersonAdmin(ImportExportJurisdictionAdmin):
    form = PersonAdminForm
    resource_classes = [PersonResource]
    list_display = [
        "name",
        "masked_id_number",
        "sex",
        "birth_date",
        "household_type",
        "residence_office",
        "card_status",
    ]
    list_filter = ["household_type", "card_status", "sex", "residence_office__level"]
    search_fields = ["=id_number", "name", "name_pinyin", "=name_initials"]
    list_select_related = ["residence_office"]
    readonly_fields = ["uid", "sex", "birth_date", "name_pinyin", "created_at", "updated_at"]
    autocomplete_fields = ["residence_office"]
    show_full_result_count = False

    @admin.display(description=_("公民身份号码"))
    def masked_id_number(self, obj):
        return id_number_mask(obj.id_number)

    def get_search_results(self, request, queryset, search_term):
        from .selectors import person_list

        term = (search_term or "").strip()
        if not term:
            return queryset, False
        return queryset & person_list(user=request.user, query=term), False


class EmployerAdminForm(forms.ModelForm):
    class Meta:
        model = Employer
        fields = "__all__"

    def _post_clean(self):
        try:
            employer_prepare(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)
        super()._post_clean()


@admin.register(Employer)
class EmployerAdmin(ImportExportJurisdictionAdmin):
    form = EmployerAdminForm
    resource_classes = [EmployerResource]
    list_display = ["name", "credit_code", "employer_type", "risk_class", "office", "status"]
    list_filter = ["employer_type", "status", "risk_class"]
    search_fields = ["=credit_code", "name", "name_pinyin"]
    list_select_related = ["office"]
    readonly_fields = ["uid", "created_at", "updated_at"]
    autocomplete_fields = ["office"]
    show_full_result_count = False


class EnrollmentAdminForm(forms.ModelForm):
    class Meta:
        model = Enrollment
        fields = "__all__"

    def _post_clean(self):
        if self.instance.person_id and not self.errors:
            try:
                enrollment_prepare(self.instance)
            except ValidationError as exc:
                self._update_errors(exc)
        super()._post_clean()


@admin.register(Enrollment)
class EnrollmentAdmin(ImportExportJurisdictionAdmin):
    form = EnrollmentAdminForm
    resource_classes = [EnrollmentResource]
    list_display = ["person", "insurance_type", "employer", "is_flexible", "start_date", "end_date", "office"]
    list_filter = ["insurance_type", "is_flexible"]
    search_fields = ["=person__id_number", "person__name", "employer__name", "=employer__credit_code"]
    list_select_related = ["person", "employer", "office"]
    raw_id_fields = ["person", "employer"]
    readonly_fields = ["uid", "office", "created_at", "updated_at"]
    show_full_result_count = False


@admin.register(User)
class StaffAdmin(JurisdictionAdminMixin, BaseUserAdmin, SimpleHistoryAdmin):
    list_display = ["username", "first_name", "last_name", "office", "is_active", "is_system", "is_staff"]
    list_filter = ["is_active", "is_staff", "is_system", "groups"]
    list_select_related = ["office"]
    fieldsets = BaseUserAdmin.fieldsets + ((_("经办机构"), {"fields": ("office", "is_system")}),)
    add_fieldsets = BaseUserAdmin.add_fieldsets + ((_("经办机构"), {"fields": ("office",)}),)
    autocomplete_fields = ["office"]


@admin.register(SensitiveAccess)
class SensitiveAccessAdmin(JurisdictionAdminMixin, admin.ModelAdmin):
    list_display = ["at", "user", "office", "person", "field", "channel", "request_id"]
    list_filter = ["channel", "field"]
    list_select_related = ["user", "office", "person"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["prefix", "label", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SystemAccount)
class SystemAccountAdmin(JurisdictionAdminMixin, SimpleHistoryAdmin):
    list_display = ["code", "name", "office", "is_active", "created_at"]
    list_select_related = ["office"]
    inlines = [ApiKeyInline]
    readonly_fields = ["user"]
    actions = ["issue_key"]

    @admin.action(description=_("签发新接口密钥（旧密钥保留至吊销，便于轮换）"))
    def issue_key(self, request, queryset):
        from django.contrib import messages

        from .services import api_key_issue

        for account in queryset:
            _key, raw = api_key_issue(account=account, acting_user=request.user, label="admin")
            self.message_user(
                request,
                _("%(account)s 的新密钥（只显示这一次）：%(key)s") % {"account": account, "key": raw},
                messages.WARNING,
            )


@admin.register(ApiKey)
class ApiKeyAdmin(JurisdictionAdminMixin, admin.ModelAdmin):
    list_display = ["account", "prefix", "label", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_select_related = ["account"]
    readonly_fields = ["account", "prefix", "key_hash", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("立即吊销所选密钥"))
    def revoke(self, request, queryset):
        from .services import api_key_revoke

        for key in queryset:
            api_key_revoke(key=key, acting_user=request.user)


admin.site.site_header = _("台州市区社保一体化 · 管理后台")
admin.site.site_title = _("台州市区社保一体化")
admin.site.index_title = _("系统管理")
