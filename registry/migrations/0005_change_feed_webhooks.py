"""The change feed (outbox) and webhooks: ChangeEvent, WebhookSubscription (with history), WebhookDelivery.

On PostgreSQL a trigger stamps every change event with the id of the transaction that writes it (the feed's
order, see registry/changes.py) and another refuses UPDATE and DELETE: the outbox is append-only."""

import uuid

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

from registry.migration_ops import PostgresOnlySQL

FUNCTIONS = """
CREATE OR REPLACE FUNCTION registry_change_event_stamp_txid() RETURNS trigger AS $$
BEGIN
    NEW.txid := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION registry_change_event_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'change events are append-only'
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER change_event_txid BEFORE INSERT ON registry_changeevent
    FOR EACH ROW EXECUTE FUNCTION registry_change_event_stamp_txid();
CREATE TRIGGER change_event_append_only BEFORE UPDATE OR DELETE ON registry_changeevent
    FOR EACH ROW EXECUTE FUNCTION registry_change_event_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS change_event_txid ON registry_changeevent;
DROP TRIGGER IF EXISTS change_event_append_only ON registry_changeevent;
DROP FUNCTION IF EXISTS registry_change_event_stamp_txid();
DROP FUNCTION IF EXISTS registry_change_event_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0004_api_exchange"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChangeEvent",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("txid", models.BigIntegerField(default=0, editable=False, verbose_name="事务号")),
                ("change_type", models.CharField(max_length=20, verbose_name="变更类型")),
                ("object_id", models.CharField(max_length=64, verbose_name="记录编号")),
                (
                    "op",
                    models.CharField(
                        choices=[("created", "新增"), ("updated", "修改"), ("deleted", "删除")],
                        max_length=8,
                        verbose_name="操作",
                    ),
                ),
                ("office_path", models.CharField(blank=True, max_length=120, verbose_name="机构路径")),
                ("occurred_at", models.DateTimeField(verbose_name="发生时间")),
                ("payload", models.JSONField(blank=True, default=dict, verbose_name="内容")),
                (
                    "office",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.office",
                        verbose_name="所属机构",
                    ),
                ),
            ],
            options={
                "verbose_name": "数据变更",
                "verbose_name_plural": "数据变更",
            },
        ),
        migrations.CreateModel(
            name="HistoricalWebhookSubscription",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("uid", models.UUIDField(db_index=True, default=uuid.uuid4, editable=False, verbose_name="编号")),
                ("url", models.URLField(max_length=500, verbose_name="接收地址")),
                (
                    "change_types",
                    models.JSONField(
                        blank=True, default=list, help_text="空表示全部有权查看的类型。", verbose_name="变更类型"
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="启用")),
                ("created_at", models.DateTimeField(blank=True, editable=False, verbose_name="创建时间")),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.TextField(null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
                (
                    "account",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="registry.systemaccount",
                        verbose_name="系统账户",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="创建人",
                    ),
                ),
                (
                    "history_office",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="registry.office",
                        verbose_name="操作机构",
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "historical Webhook 订阅",
                "verbose_name_plural": "historical Webhook 订阅",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="WebhookSubscription",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="编号")),
                ("url", models.URLField(max_length=500, verbose_name="接收地址")),
                ("secret", models.CharField(editable=False, max_length=80, verbose_name="签名密钥")),
                (
                    "change_types",
                    models.JSONField(
                        blank=True, default=list, help_text="空表示全部有权查看的类型。", verbose_name="变更类型"
                    ),
                ),
                ("is_active", models.BooleanField(default=True, verbose_name="启用")),
                ("cursor_txid", models.BigIntegerField(default=0, editable=False, verbose_name="已入队位置（事务号）")),
                ("cursor_id", models.BigIntegerField(default=0, editable=False, verbose_name="已入队位置（编号）")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="创建时间")),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhooks",
                        to="registry.systemaccount",
                        verbose_name="系统账户",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="创建人",
                    ),
                ),
            ],
            options={
                "verbose_name": "Webhook 订阅",
                "verbose_name_plural": "Webhook 订阅",
            },
        ),
        migrations.CreateModel(
            name="WebhookDelivery",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "待投递"), ("delivered", "已投递"), ("parked", "已暂停（待人工重投）")],
                        default="pending",
                        max_length=10,
                        verbose_name="状态",
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="尝试次数")),
                ("next_attempt_at", models.DateTimeField(verbose_name="下次尝试时间")),
                (
                    "last_status_code",
                    models.PositiveSmallIntegerField(blank=True, null=True, verbose_name="最近响应码"),
                ),
                ("last_error", models.CharField(blank=True, max_length=500, verbose_name="最近错误")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="入队时间")),
                ("delivered_at", models.DateTimeField(blank=True, null=True, verbose_name="投递成功时间")),
                ("replayed_at", models.DateTimeField(blank=True, null=True, verbose_name="人工重投时间")),
                (
                    "change",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.changeevent",
                        verbose_name="数据变更",
                    ),
                ),
                (
                    "replayed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="人工重投人",
                    ),
                ),
                (
                    "subscription",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="registry.webhooksubscription",
                        verbose_name="订阅",
                    ),
                ),
            ],
            options={
                "verbose_name": "Webhook 投递",
                "verbose_name_plural": "Webhook 投递",
            },
        ),
        migrations.AddIndex(
            model_name="changeevent",
            index=models.Index(fields=["txid", "id"], name="change_event_feed_order"),
        ),
        migrations.AddIndex(
            model_name="changeevent",
            index=models.Index(fields=["change_type", "object_id"], name="change_event_object"),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(
                fields=("subscription", "change"), name="webhook_delivery_once_per_change"
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("delivered_at__isnull", False), ("status", "delivered")),
                    models.Q(("status", "delivered"), _negated=True),
                    _connector="OR",
                ),
                name="webhook_delivery_delivered_has_time",
            ),
        ),
        PostgresOnlySQL(FUNCTIONS, reverse_sql=DROP),
    ]
