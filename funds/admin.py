"""Admin of funds: everything is evidence, viewed only. The ledger is append-only (the database refuses
changes on PostgreSQL); budgets, year close, warnings, remittances and imports are written by the services
through the funds pages."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from registry.admin_mixins import JurisdictionAdminMixin, ReadOnlyAdminMixin

from .models import (
    Budget,
    BudgetLine,
    ExpenditureImport,
    ExpenditureImportLine,
    Fund,
    FundIndicator,
    FundWarning,
    FundYear,
    LedgerEntry,
    LedgerTransaction,
    PostingRun,
    Remittance,
    SubsidyShare,
    SubsidySharing,
)


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class ReadOnlyAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class ReadOnlyHistoryAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Fund)
class FundAdmin(ReadOnlyAdmin):
    list_display = ["name", "insurance_type", "sort_order", "is_active"]


@admin.register(FundYear)
class FundYearAdmin(ReadOnlyHistoryAdmin):
    list_display = ["fund", "year", "status", "income", "expenditure", "balance_end", "closed_by", "closed_at"]
    list_filter = ["status", "fund"]
    list_select_related = ["fund", "closed_by"]


@admin.register(PostingRun)
class PostingRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "up_to",
        "contribution_transactions",
        "contribution_amount",
        "subsidy_transactions",
        "subsidy_amount",
        "started_by",
    ]


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ["account", "amount", "office", "booked_on"]


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ["booked_on", "fund", "office", "kind", "amount", "description", "source_type", "source_id"]
    list_filter = ["kind", "fund"]
    list_select_related = ["fund", "office"]
    search_fields = ["=uid", "document_number", "=source_id"]
    date_hierarchy = "booked_on"
    show_full_result_count = False
    inlines = [LedgerEntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["booked_on", "fund", "office", "account", "amount", "transaction"]
    list_filter = ["account", "fund"]
    list_select_related = ["fund", "office", "transaction"]
    show_full_result_count = False


class BudgetLineInline(ReadOnlyInline):
    model = BudgetLine
    fields = ["direction", "account", "office", "base_actual", "growth_rate", "amount"]


@admin.register(Budget)
class BudgetAdmin(ReadOnlyHistoryAdmin):
    list_display = ["fund", "year", "status", "drafted_by", "approved_by", "approved_at"]
    list_filter = ["status", "year", "fund"]
    list_select_related = ["fund", "drafted_by", "approved_by"]
    inlines = [BudgetLineInline]


class SubsidyShareInline(ReadOnlyInline):
    model = SubsidyShare
    fields = ["party", "office", "ratio", "caused", "amount"]


@admin.register(SubsidySharing)
class SubsidySharingAdmin(ReadOnlyAdmin):
    list_display = ["fund", "year", "gap", "method", "computed_by", "computed_at"]
    list_filter = ["method", "fund"]
    inlines = [SubsidyShareInline]


@admin.register(FundIndicator)
class FundIndicatorAdmin(ReadOnlyAdmin):
    list_display = ["on", "fund", "office", "code", "value", "level"]
    list_filter = ["code", "level", "fund"]
    list_select_related = ["fund", "office"]
    date_hierarchy = "on"


@admin.register(FundWarning)
class FundWarningAdmin(ReadOnlyHistoryAdmin):
    list_display = ["opened_on", "fund", "office", "code", "level", "status", "acknowledged_by"]
    list_filter = ["status", "level", "code", "fund"]
    list_select_related = ["fund", "office", "acknowledged_by"]


@admin.register(Remittance)
class RemittanceAdmin(ReadOnlyAdmin):
    list_display = ["booked_on", "fund", "direction", "amount", "document_number", "created_by"]
    list_filter = ["direction"]
    list_select_related = ["fund", "created_by"]


class ExpenditureImportLineInline(ReadOnlyInline):
    model = ExpenditureImportLine
    fields = ["row", "fund", "office", "period", "account", "amount"]


@admin.register(ExpenditureImport)
class ExpenditureImportAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "file_name", "rows", "total", "uploaded_by"]
    list_select_related = ["uploaded_by"]
    inlines = [ExpenditureImportLineInline]
