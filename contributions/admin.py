"""Admin of contributions. Issued bills, payments and allocations are evidence: read-only here (the
database refuses changes too). Declarations are written by ``services.declaration_submit`` — through
the clerk page, the API, or the import of declaration lines below — never edited in place."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from contributions import services
from contributions.models import (
    Bill,
    BillExport,
    BillLine,
    BillRun,
    BillRunStatus,
    BillTotal,
    ContributionHistory,
    Declaration,
    DeclarationLine,
    Payment,
    PaymentAllocation,
    PaymentFile,
    PaymentFileLine,
    ReconciliationItem,
    ReconciliationSummary,
    ResidentPensionChoice,
    WorkInjuryFloat,
)
from contributions.resources import DeclarationLineResource
from registry.admin import ImportExportJurisdictionAdmin
from registry.admin_mixins import JurisdictionAdminMixin, PreparedModelForm, ReadOnlyAdminMixin
from registry.audit import audit_mark
from registry.exceptions import ConflictError
from registry.identifiers import id_number_mask
from registry.jurisdiction import scope_to_user


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields or [f.name for f in self.model._meta.fields]


# ---------------------------------------------------------------------------------------------
# Bill runs.


@admin.register(BillRun)
class BillRunAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "period",
        "scope",
        "office",
        "employer",
        "status",
        "progress",
        "bills_created",
        "floor_lines",
        "created_at",
    ]
    list_filter = ["status", "scope"]
    search_fields = ["=period"]
    list_select_related = ["office", "employer"]
    readonly_fields = [f.name for f in BillRun._meta.fields] + ["progress"]
    actions = ["mark_failed"]

    @admin.display(description=_("进度（已核定/待核定单位）"))
    def progress(self, obj):
        return f"{obj.done}/{obj.total}（{obj.progress_percent}%）"

    def has_fail_permission(self, request):
        return request.user.has_perm("contributions.change_billrun")

    @admin.action(description=_("将卡住的批次标记为失败（可重新发起该所属期的核定）"), permissions=["fail"])
    def mark_failed(self, request, queryset):
        done = 0
        for run in queryset:
            if run.status not in (BillRunStatus.QUEUED, BillRunStatus.RUNNING):
                self.message_user(request, _("%(run)s 不是排队中或核定中，未作处理。") % {"run": run}, messages.WARNING)
                continue
            try:
                services.bill_run_fail(
                    bill_run=run, acting_user=request.user, reason=str(_("管理后台标记失败：任务疑似中断"))
                )
            except ConflictError as exc:  # a worker still executes it
                self.message_user(request, str(exc), messages.ERROR)
                continue
            done += 1
        if done:
            self.message_user(request, _("已将 %(n)s 个批次标记为失败。") % {"n": done}, messages.SUCCESS)


# ---------------------------------------------------------------------------------------------
# Bills.


class BillTotalInline(ReadOnlyInline):
    model = BillTotal
    fields = ["insurance_type", "employer_amount", "individual_amount", "amount"]


class BillLineInline(ReadOnlyInline):
    model = BillLine
    fields = [
        "person",
        "insurance_type",
        "period",
        "base",
        "base_source",
        "employer_rate",
        "individual_rate",
        "employer_amount",
        "individual_amount",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person")


@admin.register(Bill)
class BillAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "period",
        "kind",
        "payer",
        "office",
        "total_employer",
        "total_individual",
        "total",
        "due_date",
        "issued_at",
    ]
    list_filter = ["kind"]
    search_fields = ["=period", "employer__name", "=employer__credit_code", "person__name", "=person__id_number"]
    list_select_related = ["employer", "person", "office"]
    readonly_fields = [f.name for f in Bill._meta.fields]
    inlines = [BillTotalInline, BillLineInline]
    show_full_result_count = False

    @admin.display(description=_("缴费方"))
    def payer(self, obj):
        return obj.employer or obj.person


# ---------------------------------------------------------------------------------------------
# Payments.


class PaymentAllocationInline(ReadOnlyInline):
    model = PaymentAllocation
    fk_name = "payment"
    fields = ["bill", "insurance_type", "amount", "reverses", "note", "created_at", "created_by"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("bill", "bill__employer", "bill__person", "created_by")


@admin.register(Payment)
class PaymentAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["agency_reference", "payer_type", "payer", "amount", "paid_on", "channel", "office", "recorded_at"]
    list_filter = ["payer_type", "channel"]
    search_fields = ["=agency_reference", "employer__name", "=employer__credit_code", "person__name"]
    list_select_related = ["employer", "person", "office"]
    readonly_fields = [f.name for f in Payment._meta.fields]
    inlines = [PaymentAllocationInline]
    date_hierarchy = "paid_on"
    show_full_result_count = False

    @admin.display(description=_("缴费方"))
    def payer(self, obj):
        return obj.employer or obj.person


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["payment", "bill", "insurance_type", "amount", "reverses", "note", "created_at"]
    list_filter = ["insurance_type"]
    search_fields = ["=payment__agency_reference"]
    list_select_related = ["payment", "bill", "bill__employer", "bill__person", "reverses"]
    readonly_fields = [f.name for f in PaymentAllocation._meta.fields]
    show_full_result_count = False


# ---------------------------------------------------------------------------------------------
# Declarations.


class DeclarationLineInline(ReadOnlyInline):
    model = DeclarationLine
    fields = ["person", "masked_id_number", "declared_base", "base", "clamp"]
    readonly_fields = fields

    @admin.display(description=_("公民身份号码"))
    def masked_id_number(self, obj):
        return id_number_mask(obj.person.id_number)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person")


@admin.register(Declaration)
class DeclarationAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["employer", "period", "status", "channel", "updated_at"]
    list_filter = ["status", "channel"]
    search_fields = ["=period", "employer__name", "=employer__credit_code"]
    list_select_related = ["employer"]
    readonly_fields = ["uid", "employer", "period", "status", "channel", "created_at", "updated_at"]
    inlines = [DeclarationLineInline]
    show_full_result_count = False


@admin.register(DeclarationLine)
class DeclarationLineAdmin(ReadOnlyAdminMixin, ImportExportJurisdictionAdmin):
    """Lines of every declaration; import a file of lines (统一社会信用代码, 所属期, 公民身份号码, 申报基数):
    each row goes through ``declaration_submit``, and a file with any bad row is refused as a whole."""

    resource_classes = [DeclarationLineResource]
    list_display = ["declaration", "person", "masked_id_number", "declared_base", "base", "clamp"]
    list_filter = ["clamp"]
    search_fields = ["=declaration__period", "declaration__employer__name", "=person__id_number", "person__name"]
    list_select_related = ["declaration", "declaration__employer", "person"]
    readonly_fields = ["declaration", "person", "declared_base", "base", "clamp"]
    show_full_result_count = False

    @admin.display(description=_("公民身份号码"))
    def masked_id_number(self, obj):
        return id_number_mask(obj.person.id_number)

    def has_import_permission(self, request):
        return request.user.has_perm("contributions.add_declaration")

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).select_related("declaration__employer", "person")


# ---------------------------------------------------------------------------------------------
# Work-injury float and resident pension grades.


class WorkInjuryFloatAdminForm(PreparedModelForm):
    class Meta:
        model = WorkInjuryFloat
        fields = "__all__"

    def prepare(self, instance) -> None:
        services.work_injury_float_prepare(instance=instance)


@admin.register(WorkInjuryFloat)
class WorkInjuryFloatAdmin(JurisdictionAdminMixin, SimpleHistoryAdmin):
    form = WorkInjuryFloatAdminForm
    list_display = ["employer", "ratio", "valid_from", "valid_to", "basis"]
    search_fields = ["employer__name", "=employer__credit_code"]
    list_select_related = ["employer"]
    raw_id_fields = ["employer"]

    def save_model(self, request, obj, form, change):
        audit_mark(obj, acting_user=request.user)
        super().save_model(request, obj, form, change)


@admin.register(ResidentPensionChoice)
class ResidentPensionChoiceAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["person", "year", "grade", "chosen_at"]
    list_filter = ["year", "grade"]
    search_fields = ["=person__id_number", "person__name"]
    list_select_related = ["person"]
    readonly_fields = ["person", "year", "grade", "chosen_at"]


# ---------------------------------------------------------------------------------------------
# Files exchanged with the collecting agency. Written by services only (bill files by the nightly job or the
# clerk page, payment files by upload); a kept bad line is corrected on its clerk page, linked from here.


@admin.register(BillExport)
class BillExportAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["period", "office", "format", "encoding", "status", "bill_count", "total", "sha256", "created_at"]
    list_filter = ["status", "format", "encoding"]
    search_fields = ["=period", "=sha256"]
    list_select_related = ["office"]
    readonly_fields = [f.name for f in BillExport._meta.fields]


class ReconciliationSummaryInline(ReadOnlyInline):
    model = ReconciliationSummary
    fields = ["office", "category", "item_count", "line_count", "due", "paid"]

    def get_queryset(self, request):
        return scope_to_user(super().get_queryset(request).select_related("office"), request.user)


@admin.register(PaymentFile)
class PaymentFileAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "office",
        "mode",
        "status",
        "line_count",
        "imported_count",
        "repeat_count",
        "bad_count",
        "open_bad_count",
        "imported_amount",
        "created_at",
    ]
    list_filter = ["status", "mode", "channel"]
    search_fields = ["name", "=sha256"]
    list_select_related = ["office"]
    readonly_fields = [f.name for f in PaymentFile._meta.fields] + ["page"]
    inlines = [ReconciliationSummaryInline]

    @admin.display(description=_("导入结果与对账页"))
    def page(self, obj):
        url = reverse("contributions_payment_file_detail", kwargs={"uid": obj.uid})
        return format_html('<a href="{}">{}</a>', url, _("打开"))


@admin.register(PaymentFileLine)
class PaymentFileLineAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["payment_file", "line_no", "reference", "payer_code", "amount", "status", "problem", "correct"]
    list_filter = ["status", "problem_code"]
    search_fields = ["=reference", "=payer_code"]
    list_select_related = ["payment_file", "payment_file__office"]
    readonly_fields = [f.name for f in PaymentFileLine._meta.fields] + ["problem"]
    show_full_result_count = False

    @admin.display(description=_("问题"))
    def problem(self, obj):
        return obj.problem_text

    @admin.display(description=_("更正"))
    def correct(self, obj):
        if obj.status != "bad":
            return ""
        url = reverse(
            "contributions_payment_file_line_correct", kwargs={"uid": obj.payment_file.uid, "line_no": obj.line_no}
        )
        return format_html('<a href="{}">{}</a>', url, _("更正并登记"))


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["payment_file", "office", "category", "payer_type", "period", "due", "paid", "line_count"]
    list_filter = ["category", "payer_type"]
    search_fields = ["=payer_code", "=period"]
    list_select_related = ["payment_file", "office"]
    readonly_fields = [f.name for f in ReconciliationItem._meta.fields]
    show_full_result_count = False


@admin.register(ReconciliationSummary)
class ReconciliationSummaryAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["payment_file", "office", "category", "item_count", "line_count", "due", "paid"]
    list_filter = ["category"]
    list_select_related = ["payment_file", "office"]
    readonly_fields = [f.name for f in ReconciliationSummary._meta.fields]


@admin.register(ContributionHistory)
class ContributionHistoryAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Migrated history (数据大集中): read only; it is never changed."""

    list_display = ["person", "period", "emp_pension_base", "amount", "office", "source_batch_id", "source_line"]
    list_filter = ["office"]
    search_fields = ["=person__id_number", "person__name"]
    list_select_related = ["person", "office"]
    readonly_fields = [f.name for f in ContributionHistory._meta.fields]
    show_full_result_count = False
