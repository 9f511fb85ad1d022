"""Hall accounts in admin: read-only, within the administrator's jurisdiction, the ID number masked, no secrets."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from registry.admin_mixins import JurisdictionAdminMixin, ReadOnlyAdminMixin
from registry.identifiers import id_number_mask

from .models import HallAccount


@admin.register(HallAccount)
class HallAccountAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "status", "masked_phone", "employer", "office", "created_at", "last_login")
    list_filter = ("kind", "status")
    list_select_related = ("employer", "office")
    search_fields = ("name", "phone", "employer__name", "employer__credit_code")
    fields = (
        "uid", "kind", "status", "name", "masked_id_number", "masked_phone", "person", "employer", "office",
        "rights", "phone_matches_registry", "confirmed_at", "confirmed_by", "notify_opt_out", "created_at",
        "last_login",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description=_("公民身份号码"))
    def masked_id_number(self, obj: HallAccount) -> str:
        return id_number_mask(obj.id_number)

    @admin.display(description=_("手机号码"))
    def masked_phone(self, obj: HallAccount) -> str:
        return f"{obj.phone[:3]}****{obj.phone[-4:]}"
