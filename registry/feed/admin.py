"""Admin of the change feed and webhooks (imported by registry/admin.py): the outbox read-only, subscriptions with
a secret shown once and rotatable, deliveries with filters and the replay of parked ones."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from registry.admin_mixins import JurisdictionAdminMixin
from registry.audit import audit_mark
from registry.feed import webhooks
from registry.feed.changes import feed_types
from registry.models import ChangeEvent, WebhookDelivery, WebhookSubscription


class _ReadOnlyAdmin(JurisdictionAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ChangeEvent)
class ChangeEventAdmin(_ReadOnlyAdmin):
    list_display = ["id", "txid", "change_type", "op", "object_id", "office", "occurred_at"]
    list_filter = ["change_type", "op"]
    search_fields = ["object_id"]
    search_help_text = _("输入记录编号（uid 或 id）精确查找该记录的全部变更。")
    list_select_related = ["office"]
    readonly_fields = [f.name for f in ChangeEvent._meta.fields]
    show_full_result_count = False  # the outbox is large: no COUNT(*) per page

    def get_search_results(self, request, queryset, search_term):
        # Exact match only: the outbox's object_id index is a hash index (equality), and a substring search
        # over millions of events would scan them all.
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(object_id__in={term, term.lower()}), False

    def has_change_permission(self, request, obj=None):
        return False


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(label=_("接收地址"), max_length=500, assume_scheme="https")
    change_types = forms.MultipleChoiceField(
        label=_("变更类型"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("不选表示全部有权查看的类型。"),
    )

    class Meta:
        model = WebhookSubscription
        fields = ["account", "url", "change_types", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A user who may only view gets a form without the fields (Django removes the read-only ones).
        if "change_types" in self.fields:
            self.fields["change_types"].choices = [(t, t) for t in feed_types()]
        if self.instance.pk and "account" in self.fields:
            self.fields["account"].disabled = True

    def clean(self):
        cleaned = super().clean()
        account, types = cleaned.get("account"), cleaned.get("change_types") or []
        if account is not None:
            try:
                webhooks._clean_types(account, types)
                webhooks._clean_url(cleaned.get("url") or "")
            except ValidationError as exc:
                self._update_errors(exc)
        return cleaned


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(JurisdictionAdminMixin, SimpleHistoryAdmin):
    form = WebhookSubscriptionForm
    list_display = ["account", "url", "change_types", "is_active", "created_at", "created_by"]
    list_filter = ["is_active"]
    list_select_related = ["account", "created_by"]
    search_fields = ["url", "account__name", "account__code"]
    actions = ["rotate_secret"]

    def save_model(self, request, obj, form, change):
        if change:
            audit_mark(obj, acting_user=request.user)
            super().save_model(request, obj, form, change)
            return
        # A new subscription is made the one way the API makes it: secret generated, cursor at the feed head.
        subscription, secret = webhooks.webhook_subscription_create(
            account=obj.account, acting_user=request.user, url=obj.url, change_types=obj.change_types
        )
        if not obj.is_active:
            WebhookSubscription.objects.filter(pk=subscription.pk).update(is_active=False)
        obj.pk, obj.uid, obj.secret, obj.created_at = subscription.pk, subscription.uid, secret, subscription.created_at
        obj._state.adding = False
        self.message_user(
            request, _("签名密钥（只显示这一次，请交给对方系统）：%(secret)s") % {"secret": secret}, messages.WARNING
        )

    def delete_model(self, request, obj):
        webhooks.webhook_subscription_delete(subscription=obj, acting_user=request.user)

    @admin.action(description=_("轮换签名密钥"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        for subscription in queryset.select_related("account__office"):
            secret = webhooks.webhook_secret_rotate(subscription=subscription, acting_user=request.user)
            self.message_user(
                request,
                _("%(subscription)s 的新签名密钥（只显示这一次）：%(secret)s")
                % {"subscription": subscription, "secret": secret},
                messages.WARNING,
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnlyAdmin):
    list_display = [
        "id",
        "subscription",
        "change_type",
        "change_object",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
    ]
    # Only the systems that have deliveries in the (jurisdiction-scoped) list, not every system of the city.
    list_filter = ["status", "change__change_type", ("subscription__account", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["subscription__account", "change"]
    search_fields = ["change__object_id", "subscription__url"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["replay"]
    show_full_result_count = False

    @admin.display(description=_("变更类型"), ordering="change__change_type")
    def change_type(self, obj):
        return obj.change.change_type

    @admin.display(description=_("记录编号"))
    def change_object(self, obj):
        return obj.change.object_id

    @admin.action(description=_("重新投递"), permissions=["change"])
    def replay(self, request, queryset):
        count = webhooks.webhook_deliveries_replay(deliveries=queryset, acting_user=request.user)
        if count:
            self.message_user(request, _("已重新投递 %(count)d 条暂停的推送。") % {"count": count}, messages.SUCCESS)
        else:
            self.message_user(request, _("所选推送中没有已暂停的，未重新投递。"), messages.WARNING)
