from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from simple_history.admin import SimpleHistoryAdmin

from registry import import_formats
from registry.admin_mixins import JurisdictionAdminMixin, PreparedModelForm, ReadOnlyAdminMixin
from registry.api.calllog import api_routes
from registry.api.permissions import operation_choices
from registry.audit import audit_mark, audited_save
from registry.exceptions import ApplicationError
from registry.identifiers import id_number_mask
from registry.jurisdiction import scope_to_user
from registry.models import (
    ApiCallLog,
    ApiKey,
    Employer,
    Enrollment,
    Office,
    Person,
    SecurityEventKind,
    SystemAccount,
    User,
)
from registry.resources import EmployerResource, EnrollmentResource, PersonResource
from registry.security.log import security_event_record
from registry.security.passwords import password_reset_force
from registry.security.sessions import user_sessions_end_by
from registry.security.twofactor import two_factor_reset
from registry.selectors import person_matching
from registry.services import (
    api_key_issue,
    api_key_revoke,
    employer_prepare,
    enrollment_prepare,
    office_save,
    person_prepare,
    system_account_create,
)


class ImportExportJurisdictionAdmin(JurisdictionAdminMixin, ImportExportModelAdmin, SimpleHistoryAdmin):
    """Admin with import/export whose resources know the acting user (jurisdiction, masking)."""

    # CSV and xlsx only: exports neutralise formulas, xlsx imports are read within limits (registry/import_formats.py).
    formats = [import_formats.CSV, import_formats.XLSX]

    def get_resource_kwargs(self, request, *args, **kwargs):
        # Import and export resource kwargs both come from here.
        kwargs = super().get_resource_kwargs(request, *args, **kwargs)
        kwargs["user"] = request.user
        kwargs["request_id"] = getattr(request, "request_id", "")
        return kwargs

    def has_import_permission(self, request):
        # Importing writes rows: only for roles that may add and change them (not auditors).
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        # A file is imported whole or not at all, also when the confirmation is posted directly.
        kwargs["rollback_on_validation_errors"] = True
        return kwargs

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            self.message_user(
                request, _("文件中有错误的行，未导入任何数据。请重新上传并查看每行的错误。"), messages.ERROR
            )
            info = self.model._meta.app_label, self.model._meta.model_name
            return HttpResponseRedirect(reverse("admin:{}_{}_import".format(*info), current_app=self.admin_site.name))
        return super().process_result(result, request)

    def save_model(self, request, obj, form, change):
        audit_mark(obj, acting_user=request.user)
        super().save_model(request, obj, form, change)


class OfficeAdminForm(forms.ModelForm):
    """The structural rules of ``services.office_save``, checked before saving so they show on the form."""

    class Meta:
        model = Office
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        level, parent = cleaned.get("level"), cleaned.get("parent")
        if level is None or "parent" in self.errors:
            return cleaned
        if level == 1 and parent is not None:
            self.add_error("parent", _("市级机构没有上级。"))
        elif level > 1 and parent is None:
            self.add_error("parent", _("请选择上级机构。"))
        elif parent is not None and parent.level != level - 1:
            self.add_error("level", _("层级必须比上级机构低一级。"))
        elif parent is not None and self.instance.pk and parent.path.startswith(self.instance.path):
            self.add_error("parent", _("上级机构不能是本机构或其下级。"))
        return cleaned


@admin.register(Office)
class OfficeAdmin(JurisdictionAdminMixin, SimpleHistoryAdmin):
    form = OfficeAdminForm
    list_display = ["code", "name", "level", "parent", "code_is_demo", "is_active"]
    list_filter = ["level", "code_is_demo", "is_active"]
    search_fields = ["code", "name"]
    readonly_fields = ["path"]
    list_select_related = ["parent"]

    def save_model(self, request, obj, form, change):

        office_save(office=obj, acting_user=request.user)


class PersonAdminForm(PreparedModelForm):
    prepare = staticmethod(person_prepare)

    class Meta:
        model = Person
        fields = "__all__"


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

    # A registered number is never edited (services.PERSON_EDITABLE) and never shown whole in admin: change
    # pages and history versions show it masked. Whole numbers are revealed, and logged, on the person page.
    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        return [*exclude, "id_number"] if obj is not None else exclude

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return ["masked_id_number", *readonly] if obj is not None else readonly

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None:
            fields = ["masked_id_number", *[f for f in fields if f != "masked_id_number"]]
        return fields

    def get_search_results(self, request, queryset, search_term):
        term = (search_term or "").strip()
        if not term:
            return queryset, False
        return queryset & person_matching(user=request.user, query=term), False


class EmployerAdminForm(PreparedModelForm):
    prepare = staticmethod(employer_prepare)

    class Meta:
        model = Employer
        fields = "__all__"


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

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        # The credit code identifies the employer (services.EMPLOYER_EDITABLE).
        return ["credit_code", *readonly] if obj is not None else readonly


class EnrollmentAdminForm(PreparedModelForm):
    prepare = staticmethod(enrollment_prepare)

    class Meta:
        model = Enrollment
        fields = "__all__"


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

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Only the period changes (services.ENROLLMENT_EDITABLE); anything else is a new enrollment.
            readonly = ["person", "insurance_type", "employer", "is_flexible", *readonly]
        return readonly


class StaffPasswordSetForm(AdminPasswordChangeForm):
    """An administrator setting someone's password knows it: the user must choose his own at the next login."""

    def save(self, commit=True):
        user = super().save(commit=False)
        if user.has_usable_password():
            user.must_change_password = True
        if commit:
            user.save()

            security_event_record(SecurityEventKind.PASSWORD_RESET_FORCED, user=user, detail={"set_by_admin": True})
        return user


@admin.register(User)
class StaffAdmin(JurisdictionAdminMixin, BaseUserAdmin, SimpleHistoryAdmin):
    list_display = ["username", "first_name", "last_name", "office", "is_active", "is_system", "is_staff"]
    list_filter = ["is_active", "is_staff", "is_system", "groups"]
    list_select_related = ["office"]
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("经办机构"), {"fields": ("office", "is_system")}),
        (_("密码策略"), {"fields": ("must_change_password", "password_changed_at")}),
    )
    change_password_form = StaffPasswordSetForm
    add_fieldsets = BaseUserAdmin.add_fieldsets + ((_("经办机构"), {"fields": ("office",)}),)
    autocomplete_fields = ["office"]
    actions = ["reset_second_factor", "force_password_change", "end_sessions"]

    def _each(self, request, queryset, service, done: str) -> None:
        for user in queryset:
            try:
                service(user=user, acting_user=request.user, request=request)
            except ApplicationError as exc:
                self.message_user(request, f"{user.username}：{exc}", messages.ERROR)
            else:
                self.message_user(request, done % {"user": user.username}, messages.SUCCESS)

    @admin.action(description=_("重置双因素认证（丢失手机时；须由另一位管理员办理）"), permissions=["change"])
    def reset_second_factor(self, request, queryset):

        self._each(request, queryset, two_factor_reset, _("%(user)s 的双因素认证已重置，下次登录时重新绑定。"))

    @admin.action(description=_("要求下次登录时修改密码（并结束其会话）"), permissions=["change"])
    def force_password_change(self, request, queryset):

        self._each(request, queryset, password_reset_force, _("%(user)s 下次登录时须修改密码。"))

    @admin.action(description=_("结束所选人员的全部登录会话"), permissions=["change"])
    def end_sessions(self, request, queryset):

        self._each(request, queryset, user_sessions_end_by, _("%(user)s 的登录会话已全部结束。"))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        readonly.append("password_changed_at")
        if not request.user.is_superuser:
            # Roles (groups) are how rights are given; superuser status and single permissions would let an
            # administrator step outside the roles, or outside the jurisdiction (a superuser without an office).
            readonly += ["is_superuser", "user_permissions"]
        return readonly


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["prefix", "label", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class SystemAccountAdminForm(forms.ModelForm):
    operations = forms.MultipleChoiceField(
        label=_("可调用的接口"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("“读取”允许 GET，“写入”允许 POST/PUT/PATCH/DELETE；未勾选的接口返回 403。"),
    )

    class Meta:
        model = SystemAccount
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Built from the router on every form, so routes any app registers appear without a change here. A user
        # who may only view gets a form without the field (Django removes the read-only ones).
        if "operations" in self.fields:
            self.fields["operations"].choices = operation_choices(extra=self.instance.operations or [])

    def clean_operations(self):
        return sorted(set(self.cleaned_data["operations"]))

    def clean_code(self):
        code = self.cleaned_data["code"]
        if self.instance.pk is None and User.objects.filter(username=f"sys-{code}").exists():
            raise ValidationError(_("已有名为“sys-%(code)s”的用户，请换一个代码。") % {"code": code})
        return code


@admin.register(SystemAccount)
class SystemAccountAdmin(JurisdictionAdminMixin, SimpleHistoryAdmin):
    form = SystemAccountAdminForm
    list_display = ["code", "name", "office", "is_active", "operations_summary", "rate_limit_per_minute", "created_at"]
    list_select_related = ["office"]
    inlines = [ApiKeyInline]
    readonly_fields = ["user"]
    actions = ["issue_key"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new account comes with its service user: created the one way the services create it.

        account = system_account_create(
            acting_user=request.user,
            code=obj.code,
            name=obj.name,
            office=obj.office,
            operations=obj.operations,
            rate_limit_per_minute=obj.rate_limit_per_minute,
        )
        if not obj.is_active:
            account.is_active = False
            audited_save(account, acting_user=request.user, update_fields=["is_active"])
        obj.pk, obj.user, obj.created_at = account.pk, account.user, account.created_at
        obj._state.adding = False

    @admin.display(description=_("可调用的接口"))
    def operations_summary(self, obj):
        return "、".join(obj.operations) if obj.operations else _("（无）")

    @admin.action(description=_("签发新接口密钥（旧密钥保留至吊销，便于轮换）"))
    def issue_key(self, request, queryset):

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

        for key in queryset:
            api_key_revoke(key=key, acting_user=request.user)


class ApiCallSystemFilter(admin.SimpleListFilter):
    """The systems of the admin's jurisdiction (from the small account table, not a scan of the log)."""

    title = _("外部系统")
    parameter_name = "system"

    def lookups(self, request, model_admin):
        accounts = scope_to_user(SystemAccount.objects.order_by("code"), request.user)
        return [("none", _("（员工会话）")), *[(str(a.pk), a.name) for a in accounts]]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(system_account__isnull=True)
        if self.value():
            return queryset.filter(system_account_id=self.value())
        return queryset


class ApiCallStatusFilter(admin.SimpleListFilter):
    title = _("状态码")
    parameter_name = "status_class"

    def lookups(self, request, model_admin):
        return [
            ("2", _("2xx 成功")),
            ("4", _("4xx 请求被拒")),
            ("5", _("5xx 服务器错误")),
            *[(str(code), str(code)) for code in (400, 401, 403, 404, 409, 413, 422, 429)],
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value in ("2", "4", "5"):
            low = int(value) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        if value and value.isdigit():
            return queryset.filter(status=int(value))
        return queryset


class ApiCallRouteFilter(admin.SimpleListFilter):
    """The routes of the URLconf (not a DISTINCT over millions of log rows)."""

    title = _("接口路由")
    parameter_name = "route"

    def lookups(self, request, model_admin):
        return [(route, route) for route in api_routes()]

    def queryset(self, request, queryset):
        return queryset.filter(route=self.value()) if self.value() else queryset


class ApiCallMethodFilter(admin.SimpleListFilter):
    title = _("方法")
    parameter_name = "method"

    def lookups(self, request, model_admin):
        return [(m, m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")]

    def queryset(self, request, queryset):
        return queryset.filter(method=self.value()) if self.value() else queryset


@admin.register(ApiCallLog)
class ApiCallLogAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "at",
        "system_account",
        "user",
        "method",
        "route",
        "status",
        "latency_ms",
        "client_ip",
        "request_id",
    ]
    list_filter = [ApiCallSystemFilter, ApiCallStatusFilter, ApiCallMethodFilter, ApiCallRouteFilter]
    list_select_related = ["system_account", "user"]
    search_fields = ["=request_id"]
    date_hierarchy = "at"
    ordering = ["-at"]
    show_full_result_count = False


admin.site.site_header = _("台州市区社保一体化 · 管理后台")
admin.site.site_title = _("台州市区社保一体化")
admin.site.index_title = _("系统管理")

# The change feed and webhooks, and the audit logs, have their own admin modules.
from registry.feed import admin as feed_admin  # noqa: E402, F401
from registry.security import admin as security_admin  # noqa: E402, F401
