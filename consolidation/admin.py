"""Admin of the data consolidation: batches (with a re-queue action for operators), conflicts and merges to read.
Decisions are made on the clerk pages (maker-checker), never here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from consolidation.models import WORKING_STATUSES, BatchFile, BatchStatus, Conflict, ImportBatch, Merge
from consolidation.services.batches import import_batch_requeue
from registry.admin_mixins import JurisdictionAdminMixin, ReadOnlyAdminMixin


class BatchFileInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BatchFile
    extra = 0
    fields = ["kind", "name", "size", "sha256", "status", "file_format", "encoding", "line_count", "bad_count", "error"]
    readonly_fields = fields


@admin.register(ImportBatch)
class ImportBatchAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "district",
        "source_system",
        "label",
        "channel",
        "status",
        "created_at",
        "heartbeat_at",
        "worker",
        "attempts",
    ]
    list_filter = ["status", "channel", "district"]
    search_fields = ["source_system", "label", "=fingerprint"]
    readonly_fields = [f.name for f in ImportBatch._meta.fields]
    inlines = [BatchFileInline]
    actions = ["requeue"]

    @admin.action(description=_("重新排队（处理进程已中断的批次）"), permissions=["view"])
    def requeue(self, request, queryset):
        done = 0
        for batch in queryset.filter(status__in=[*WORKING_STATUSES, BatchStatus.FAILED]):
            import_batch_requeue(batch=batch)
            done += 1
        messages.info(request, _("已重新排队 %(n)s 个批次。") % {"n": done})


@admin.register(Conflict)
class ConflictAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "kind", "status", "score", "office", "batch", "proposed_by", "decided_by", "created_at"]
    list_filter = ["status", "kind"]
    readonly_fields = [f.name for f in Conflict._meta.fields]
    list_select_related = ["office", "batch", "proposed_by", "decided_by"]


@admin.register(Merge)
class MergeAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "survivor", "tombstone", "proposed_by", "approved_by", "merged_at", "undone_at"]
    readonly_fields = [f.name for f in Merge._meta.fields]
    list_select_related = ["survivor", "tombstone", "proposed_by", "approved_by"]
