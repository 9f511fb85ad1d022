"""Return files recorded by a Celery task: the upload kept with its job (payroll.services.returns)."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payroll", "0004_line_status_cancelled"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BankReturnJob",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="编号")),
                ("name", models.CharField(max_length=200, verbose_name="文件名")),
                ("data", models.BinaryField(verbose_name="文件内容")),
                ("sha256", models.CharField(max_length=64, verbose_name="SHA-256")),
                ("size", models.PositiveBigIntegerField(default=0, verbose_name="字节数")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "排队中"),
                            ("processing", "导入中"),
                            ("done", "已导入"),
                            ("rejected", "被拒绝，未导入"),
                        ],
                        default="queued",
                        max_length=10,
                        verbose_name="状态",
                    ),
                ),
                ("errors", models.JSONField(blank=True, default=list, verbose_name="错误")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="上传时间")),
                ("started_at", models.DateTimeField(blank=True, null=True, verbose_name="开始时间")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="完成时间")),
                ("requeued_at", models.DateTimeField(blank=True, null=True, verbose_name="重新派发时间")),
                ("requeue_count", models.PositiveIntegerField(default=0, verbose_name="重新派发次数")),
                (
                    "bank_file",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="return_jobs",
                        to="payroll.bankfile",
                        verbose_name="代发文件",
                    ),
                ),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="上传人",
                    ),
                ),
            ],
            options={
                "verbose_name": "回盘导入",
                "verbose_name_plural": "回盘导入",
                "ordering": ["-pk"],
            },
        ),
    ]
