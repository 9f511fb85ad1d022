"""Admin of cases: the catalogue and the holiday calendar are maintained here; cases and their archive are
read-only evidence (they change only through the workflow services)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from registry.admin_mixins import JurisdictionAdminMixin, ReadOnlyAdminMixin
from registry.audit import audit_mark

from .models import (
    STEP_ORDER,
    Attachment,
    BenefitAward,
    BenefitPayment,
    Case,
    CaseEvent,
    CaseMaterial,
    CaseRating,
    Certificate,
    OverdueNotice,
    ServiceItem,
    ServiceItemMaterial,
    ServiceItemStep,
    StepKind,
)


class StepFormSet(forms.BaseInlineFormSet):
    """The steps of an item start with 受理 and follow the order 受理 → 审核 → 复核/审批 → 办结 (steps may be skipped)."""

    def clean(self):
        super().clean()
        steps = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE"):
                continue
            steps.append((data.get("sequence") or 0, data.get("kind")))
        if not steps:
            raise ValidationError(_("至少需要一个“受理”环节。"))
        steps.sort()
        if steps[0][1] != StepKind.INTAKE:
            raise ValidationError(_("第一个环节必须是“受理”。"))
        order = [STEP_ORDER.index(kind) for _seq, kind in steps if kind in STEP_ORDER]
        if order != sorted(order):
            raise ValidationError(_("环节顺序须为 受理 → 审核 → 复核/审批 → 办结（可跳过）。"))


class StepInline(admin.TabularInline):
    model = ServiceItemStep
    formset = StepFormSet
    extra = 0
    min_num = 1


class MaterialInline(admin.TabularInline):
    model = ServiceItemMaterial
    extra = 0


@admin.register(ServiceItem)
class ServiceItemAdmin(JurisdictionAdminMixin, SimpleHistoryAdmin):
    list_display = (
        "code", "name", "insurance_type", "effect", "time_limit_days", "time_limit_parameter", "offered_online", "is_active"
    )  # fmt: skip
    list_filter = ("insurance_type", "effect", "is_active", "offered_online", "time_limit_is_demo")
    search_fields = ("code", "name")
    inlines = [StepInline, MaterialInline]

    def save_model(self, request, obj, form, change):
        audit_mark(obj, acting_user=request.user)
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Cases and what they produced are changed through the workflow only."""


class CaseMaterialInline(admin.TabularInline):
    model = CaseMaterial
    extra = 0
    can_delete = False
    readonly_fields = ("material", "status", "received_at", "note")

    def has_add_permission(self, request, obj=None):
        return False


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "action", "step_kind", "from_state", "to_state", "actor", "actor_office", "note")
    exclude = ("data",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ("number", "item", "person", "state", "intake_office", "current_office", "due_date")
    list_filter = ("state", "channel", "item")
    search_fields = ("number",)
    inlines = [CaseMaterialInline, CaseEventInline]
    list_select_related = ("item", "person", "intake_office", "current_office")


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("original_name", "case", "kind", "content_type", "size", "uploaded_at")
    list_select_related = ("case",)
    exclude = ("file",)


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "person", "issuing_office", "issued_at")
    list_select_related = ("person", "issuing_office")


@admin.register(BenefitAward)
class BenefitAwardAdmin(ReadOnlyAdmin):
    list_display = ("person", "effect", "monthly_amount", "start_month", "months", "office")
    list_select_related = ("person", "office")


@admin.register(BenefitPayment)
class BenefitPaymentAdmin(ReadOnlyAdmin):
    list_display = ("award", "period", "amount", "paid_on", "posted_to_funds")
    list_filter = ("posted_to_funds",)


@admin.register(OverdueNotice)
class OverdueNoticeAdmin(ReadOnlyAdmin):
    list_display = ("on", "office", "recipients")
    list_select_related = ("office",)


@admin.register(CaseRating)
class CaseRatingAdmin(ReadOnlyAdmin):
    list_display = ("case", "office", "score", "channel", "rated_at")
    list_filter = ("channel", "score")
    list_select_related = ("case", "office")
