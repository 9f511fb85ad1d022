"""The API core of the data exchange: operations and rate limit per system account, the call log and the
Idempotency-Key records."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import registry.models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_load_office_tree"),
    ]

    operations = [
        migrations.AddField(
            model_name="systemaccount",
            name="operations",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="未授权的接口返回 403。“读取”允许 GET，“写入”允许 POST/PUT/PATCH/DELETE。",
                validators=[registry.models.operations_validator],
                verbose_name="可调用的接口",
            ),
        ),
        migrations.AddField(
            model_name="systemaccount",
            name="rate_limit_per_minute",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="空表示使用系统默认值（设置项 API_RATE_LIMIT_PER_MINUTE）。",
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
                verbose_name="每分钟调用上限",
            ),
        ),
        migrations.AddField(
            model_name="historicalsystemaccount",
            name="operations",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="未授权的接口返回 403。“读取”允许 GET，“写入”允许 POST/PUT/PATCH/DELETE。",
                validators=[registry.models.operations_validator],
                verbose_name="可调用的接口",
            ),
        ),
        migrations.AddField(
            model_name="historicalsystemaccount",
            name="rate_limit_per_minute",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="空表示使用系统默认值（设置项 API_RATE_LIMIT_PER_MINUTE）。",
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
                verbose_name="每分钟调用上限",
            ),
        ),
        migrations.AddConstraint(
            model_name="systemaccount",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("rate_limit_per_minute__isnull", True), ("rate_limit_per_minute__gte", 1), _connector="OR"
                ),
                name="system_account_rate_limit_positive",
            ),
        ),
        migrations.CreateModel(
            name="ApiCallLog",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="时间")),
                ("method", models.CharField(max_length=10, verbose_name="方法")),
                ("route", models.CharField(max_length=200, verbose_name="接口路由")),
                ("status", models.PositiveSmallIntegerField(verbose_name="状态码")),
                ("latency_ms", models.PositiveIntegerField(verbose_name="耗时（毫秒）")),
                ("request_id", models.CharField(max_length=64, verbose_name="请求编号")),
                ("client_ip", models.GenericIPAddressField(blank=True, null=True, verbose_name="客户端地址")),
                (
                    "office",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.office",
                        verbose_name="所属机构",
                    ),
                ),
                (
                    "system_account",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.systemaccount",
                        verbose_name="外部系统",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="用户",
                    ),
                ),
            ],
            options={
                "verbose_name": "接口调用记录",
                "verbose_name_plural": "接口调用记录",
                "indexes": [
                    models.Index(fields=["at"], name="api_call_log_at"),
                    models.Index(fields=["system_account", "at"], name="api_call_log_system_at"),
                ],
            },
        ),
        migrations.CreateModel(
            name="IdempotencyRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "principal",
                    models.CharField(
                        help_text="system:<账户编号> 或 user:<用户编号>", max_length=40, verbose_name="调用方"
                    ),
                ),
                ("key", models.CharField(max_length=100, verbose_name="幂等键")),
                ("fingerprint", models.CharField(max_length=64, verbose_name="请求指纹")),
                ("method", models.CharField(max_length=10, verbose_name="方法")),
                ("route", models.CharField(max_length=200, verbose_name="接口路由")),
                (
                    "state",
                    models.CharField(
                        choices=[("in_progress", "处理中"), ("completed", "已完成")],
                        default="in_progress",
                        max_length=12,
                        verbose_name="状态",
                    ),
                ),
                ("status", models.PositiveSmallIntegerField(blank=True, null=True, verbose_name="响应状态码")),
                ("response_headers", models.JSONField(blank=True, default=dict, verbose_name="响应头")),
                ("response_body", models.BinaryField(blank=True, default=bytes, verbose_name="响应内容")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="创建时间")),
                ("locked_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="开始处理时间")),
                ("completed_at", models.DateTimeField(blank=True, null=True, verbose_name="完成时间")),
                ("expires_at", models.DateTimeField(db_index=True, verbose_name="过期时间")),
            ],
            options={
                "verbose_name": "幂等请求记录",
                "verbose_name_plural": "幂等请求记录",
                "constraints": [
                    models.UniqueConstraint(fields=("principal", "key"), name="idempotency_key_once_per_principal"),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("state", "in_progress"),
                            models.Q(("completed_at__isnull", False), ("status__isnull", False)),
                            _connector="OR",
                        ),
                        name="idempotency_completed_has_response",
                    ),
                ],
            },
        ),
    ]
