"""Admin for policy officers: documents, the parameter catalogue, dated values (xlsx import/export),
clean-up decisions (approval by a city administrator through the services), the working-day calendar."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from registry.admin import ImportExportJurisdictionAdmin
from registry.admin_mixins import JurisdictionAdminMixin, PreparedModelForm, ReadOnlyAdminMixin
from registry.audit import audit_mark
from registry.exceptions import ApplicationError

from . import services
from .models import CalendarDay, CalendarYear, Parameter, ParameterValue, PolicyDecision, PolicyDocument
from .resources import ParameterValueResource, PolicyDocumentResource


class PolicyDocumentAdminForm(PreparedModelForm):
    class Meta:
        model = PolicyDocument
        fields = "__all__"

    def prepare(self, instance) -> None:
        services.policy_document_prepare(instance)


class ParameterValueInline(admin.TabularInline):
    model = ParameterValue
    fk_name = "document"
    fields = ["parameter", "district", "valid_from", "valid_to", "shown_value", "is_demo"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("取值"))
    def shown_value(self, obj):
        return obj.value_text


@admin.register(PolicyDocument)
class PolicyDocumentAdmin(ImportExportJurisdictionAdmin):
    form = PolicyDocumentAdminForm
    resource_classes = [PolicyDocumentResource]
    list_display = ["number", "title", "issuer", "level", "district", "effective_from", "status", "is_demo"]
    list_filter = ["level", "status", "is_demo", "district"]
    search_fields = ["number", "title", "issuer", "text"]
    list_select_related = ["district"]
    date_hierarchy = "effective_from"
    # Status changes only through repeal or an approved clean-up decision, which also end the values.
    readonly_fields = ["uid", "status", "repealed_on", "superseded_by", "created_at", "updated_at"]
    inlines = [ParameterValueInline]

    def has_delete_permission(self, request, obj=None):
        return False


class ParameterAdminForm(PreparedModelForm):
    class Meta:
        model = Parameter
        fields = "__all__"

    def prepare(self, instance) -> None:
        services.parameter_prepare(instance)


@admin.register(Parameter)
class ParameterAdmin(JurisdictionAdminMixin, SimpleHistoryAdmin):
    form = ParameterAdminForm
    list_display = ["code", "name", "kind", "shape", "category", "insurance", "unit"]
    list_filter = ["category", "kind", "insurance"]
    search_fields = ["code", "name", "description"]
    readonly_fields = ["created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        audit_mark(obj, acting_user=request.user)
        super().save_model(request, obj, form, change)


class ParameterValueAdminForm(PreparedModelForm):
    value = forms.CharField(
        label=_("取值"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("费率填小数或百分数（0.14 或 14%）；金额填元；表格填 JSON。"),
    )
    change_reason = forms.CharField(
        label=_("修改原因"), required=False, help_text=_("修改已有取值时填写，记入变更记录。")
    )

    class Meta:
        model = ParameterValue
        fields = ["parameter", "district", "valid_from", "valid_to", "document", "is_demo", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A user who may only view gets a form without the fields (Django removes the read-only ones).
        if self.instance.pk and "value" in self.fields:
            self.fields["value"].initial = self.instance.value_text
        if self.instance.pk and "parameter" in self.fields:
            self.fields["parameter"].disabled = True

    def prepare(self, instance) -> None:
        if self.instance.pk and self.has_changed() and not (self.cleaned_data.get("change_reason") or "").strip():
            raise ValidationError({"change_reason": _("修改已有取值须填写原因。")})
        if not self.instance.parameter_id:
            return
        services.parameter_value_assign(self.instance, self.cleaned_data.get("value"))
        services.parameter_value_prepare(self.instance)


@admin.register(ParameterValue)
class ParameterValueAdmin(ImportExportJurisdictionAdmin):
    form = ParameterValueAdminForm
    resource_classes = [ParameterValueResource]
    list_display = ["parameter", "scope", "valid_from", "valid_to", "shown_value", "document", "is_demo", "revision"]
    list_filter = ["is_demo", "parameter__category", "district", "kind"]
    search_fields = ["parameter__code", "parameter__name", "document__number", "note"]
    list_select_related = ["parameter", "district", "document"]
    autocomplete_fields = ["parameter", "document"]
    date_hierarchy = "valid_from"
    readonly_fields = ["uid", "revision", "created_at", "updated_at"]

    @admin.display(description=_("适用范围"), ordering="district__code")
    def scope(self, obj):
        return obj.district.short_name if obj.district_id else _("市区统一")

    @admin.display(description=_("取值"))
    def shown_value(self, obj):
        return obj.value_text

    def save_model(self, request, obj, form, change):
        audit_mark(obj, acting_user=request.user, reason=form.cleaned_data.get("change_reason", ""))
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        # A value that was ever in force is evidence for bills issued under it; only a scheduled one may go.
        if obj is not None and obj.valid_from <= timezone.localdate():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(PolicyDecision)
class PolicyDecisionAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Read-only list with approve/reject actions; proposals are made on the document page
    (/policies/documents/<id>/), where the service checks every rule."""

    list_display = ["document", "decision", "effective_on", "status", "proposed_by", "proposed_at", "decided_by"]
    list_filter = ["status", "decision"]
    search_fields = ["document__number", "document__title", "reason"]
    list_select_related = ["document", "proposed_by", "decided_by"]
    actions = ["approve", "reject"]

    def has_approve_permission(self, request):
        return request.user.has_perm("policies.approve_policydecision")

    def _decide(self, request, queryset, verdict: str) -> None:
        for decision in queryset:
            try:
                if verdict == "approve":
                    services.policy_decision_approve(decision=decision, acting_user=request.user)
                else:
                    services.policy_decision_reject(
                        decision=decision,
                        acting_user=request.user,
                        note=str(_("经管理后台退回，请补充理由后重新提出。")),
                    )
            except (ValidationError, ApplicationError) as exc:
                text = "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{decision.document.number}：{text}", messages.ERROR)
            else:
                self.message_user(request, f"{decision.document.number}：{_('已处理')}", messages.SUCCESS)

    @admin.action(description=_("批准所选清理决定（须为提出人以外的市级管理员）"), permissions=["approve"])
    def approve(self, request, queryset):
        self._decide(request, queryset, "approve")

    @admin.action(description=_("退回所选清理决定"), permissions=["approve"])
    def reject(self, request, queryset):
        self._decide(request, queryset, "reject")


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0
    ordering = ("date",)


@admin.register(CalendarYear)
class CalendarYearAdmin(JurisdictionAdminMixin, SimpleHistoryAdmin):
    list_display = ("year", "source", "document", "note", "updated_at")
    inlines = [CalendarDayInline]
    actions = ["reload_from_package"]

    def save_model(self, request, obj, form, change):
        audit_mark(obj, acting_user=request.user)
        super().save_model(request, obj, form, change)

    @admin.action(description=_("用 holidays 软件包数据覆盖所选年度"))
    def reload_from_package(self, request, queryset):
        for calendar in queryset:
            try:
                services.calendar_year_load(year=calendar.year, acting_user=request.user, replace=True)
            except ValidationError as exc:
                self.message_user(request, "；".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, _("%(year)d 年已重新载入。") % {"year": calendar.year}, messages.SUCCESS)
