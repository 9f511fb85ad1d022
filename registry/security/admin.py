"""The audit logs in admin: the security log and the sensitive-access log. Auditors (the 审计 role) browse and
export them within their jurisdiction; nobody else sees them — city administrators and superusers included
(separation of duties: who administers the system does not read the record of what he did)."""

from __future__ import annotations

import json
from io import BytesIO

from django.contrib import admin, messages
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from openpyxl import Workbook

from registry import roles
from registry.admin_mixins import JurisdictionAdminMixin, ReadOnlyAdminMixin
from registry.identifiers import id_number_mask
from registry.models import SecurityEvent, SecurityEventKind, SensitiveAccess
from registry.security.log import security_event_record
from registry.spreadsheets import xlsx_row

EXPORT_MAX_ROWS = 100_000


def is_auditor(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    cached = getattr(user, "_is_auditor", None)
    if cached is None:
        cached = user.groups.filter(name=roles.AUDITOR).exists()
        user._is_auditor = cached
    return cached


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


class AuditLogAdmin(JurisdictionAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only, auditors only, with an xlsx export of the selected rows (text cells neutralised)."""

    actions = ["export_xlsx"]
    export_name = "audit"
    date_hierarchy = "at"
    show_full_result_count = False

    def export_columns(self) -> list[tuple[str, object]]:  # (header, row -> value)
        raise NotImplementedError

    def has_module_permission(self, request):
        return is_auditor(request.user)

    def has_view_permission(self, request, obj=None):
        return is_auditor(request.user) and super().has_view_permission(request, obj)

    @admin.action(description=gettext_lazy("导出所选记录（Excel）"), permissions=["view"])
    def export_xlsx(self, request, queryset):
        total = queryset.count()
        if total > EXPORT_MAX_ROWS:
            self.message_user(
                request,
                _("所选记录共 %(n)s 条，超过一次导出的上限 %(max)s 条，请按日期筛选后分批导出。")
                % {"n": total, "max": EXPORT_MAX_ROWS},
                messages.ERROR,
            )
            return None
        columns = self.export_columns()
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(str(self.model._meta.verbose_name))
        sheet.append([header for header, _get in columns])
        for row in queryset.order_by("-at", "-id").iterator(chunk_size=2000):
            sheet.append(xlsx_row(sheet, [get(row) for _header, get in columns]))
        security_event_record(
            SecurityEventKind.AUDIT_EXPORT,
            user=request.user,
            actor=request.user,
            request=request,
            detail={"log": self.model._meta.model_name, "rows": total},
        )

        out = BytesIO()
        workbook.save(out)
        response = HttpResponse(
            out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="{self.export_name}-{stamp}.xlsx"'
        return response


@admin.register(SecurityEvent)
class SecurityEventAdmin(AuditLogAdmin):
    list_display = ["at", "kind", "username", "actor", "office", "client_ip", "request_id"]
    list_filter = ["kind"]
    list_select_related = ["actor", "office"]
    search_fields = ["=username", "=client_ip", "=request_id"]
    readonly_fields = ["at", "kind", "user", "username", "actor", "office", "client_ip", "request_id", "detail"]
    export_name = "security-log"

    def export_columns(self):
        return [
            (_("时间"), lambda e: _local(e.at)),
            (_("事件"), lambda e: str(e.get_kind_display())),
            (_("用户名"), lambda e: e.username),
            (_("操作人"), lambda e: e.actor.username if e.actor_id and e.actor else ""),
            (_("所属机构"), lambda e: e.office.name if e.office_id and e.office else ""),
            (_("客户端地址"), lambda e: e.client_ip or ""),
            (_("请求编号"), lambda e: e.request_id),
            (_("详情"), lambda e: json.dumps(e.detail, ensure_ascii=False) if e.detail else ""),
        ]


@admin.register(SensitiveAccess)
class SensitiveAccessAdmin(AuditLogAdmin):
    list_display = ["at", "user", "office", "person", "field", "channel", "request_id"]
    list_filter = ["channel", "field"]
    list_select_related = ["user", "office", "person"]
    search_fields = ["=request_id", "=user__username"]
    readonly_fields = ["at", "user", "office", "person", "field", "channel", "request_id"]
    export_name = "sensitive-access"

    def export_columns(self):
        return [
            (_("时间"), lambda a: _local(a.at)),
            (_("用户"), lambda a: a.user.username),
            (_("操作机构"), lambda a: a.office.name if a.office_id else ""),
            (_("参保人员"), lambda a: a.person.name),
            (_("公民身份号码"), lambda a: id_number_mask(a.person.id_number)),
            (_("字段"), lambda a: a.field),
            (_("渠道"), lambda a: str(a.get_channel_display())),
            (_("请求编号"), lambda a: a.request_id),
        ]


# Authenticator keys and backup codes are never shown in admin: recovery is the staff admin's "reset" action.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
