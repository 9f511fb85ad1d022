"""Exchange files with the collecting agency: bill exports, payment files and their lines, reconciliation."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contributions", "0002_issued_bills_immutable"),
        ("registry", "0003_load_office_tree"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PaymentFile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="编号")),
                ("name", models.CharField(max_length=200, verbose_name="文件名")),
                ("sha256", models.CharField(max_length=64, verbose_name="SHA-256")),
                ("size", models.PositiveBigIntegerField(default=0, verbose_name="字节数")),
                ("file", models.FileField(blank=True, max_length=255, upload_to="", verbose_name="文件")),
                (
                    "mode",
                    models.CharField(
                        choices=[
                            ("strict", "严格：有任何错误行则整份拒收"),
                            ("skip_bad", "跳过错误行：导入正确行，错误行留待更正（管理员选择）"),
                        ],
                        default="strict",
                        max_length=8,
                        verbose_name="导入方式",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "排队中"),
                            ("processing", "导入中"),
                            ("imported", "已导入"),
                            ("pending", "已导入，有待更正的错误行"),
                            ("rejected", "已拒收（未写入任何到账）"),
                            ("failed", "失败"),
                        ],
                        default="queued",
                        max_length=10,
                        verbose_name="状态",
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[("counter", "柜面"), ("api", "接口"), ("file", "文件"), ("online", "网上服务大厅")],
                        default="file",
                        max_length=8,
                        verbose_name="渠道",
                    ),
                ),
                ("line_count", models.PositiveIntegerField(default=0, verbose_name="数据行数")),
                ("imported_count", models.PositiveIntegerField(default=0, verbose_name="新登记到账笔数")),
                (
                    "repeat_count",
                    models.PositiveIntegerField(default=0, verbose_name="已登记过的到账笔数（未重复登记）"),
                ),
                ("bad_count", models.PositiveIntegerField(default=0, verbose_name="错误行数")),
                ("open_bad_count", models.PositiveIntegerField(default=0, verbose_name="待更正的错误行数")),
                (
                    "imported_amount",
                    models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name="新登记到账金额"),
                ),
                (
                    "credit_amount",
                    models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name="其中转入结余"),
                ),
                (
                    "bad_amount",
                    models.DecimalField(
                        decimal_places=2, default=0, max_digits=14, verbose_name="错误行金额（可识别部分）"
                    ),
                ),
                ("periods", models.JSONField(blank=True, default=list, verbose_name="涉及所属期")),
                ("report", models.JSONField(blank=True, default=dict, verbose_name="错误报告")),
                ("error", models.TextField(blank=True, verbose_name="错误")),
                ("seconds", models.FloatField(blank=True, null=True, verbose_name="处理耗时（秒）")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="上传时间")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="完成时间")),
                (
                    "office",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.office",
                        verbose_name="导入机构（辖区）",
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
                "verbose_name": "到账文件",
                "verbose_name_plural": "到账文件",
                "ordering": ["-id"],
                "permissions": [("import_skip_bad", "可选择跳过错误行导入到账文件")],
            },
        ),
        migrations.CreateModel(
            name="PaymentFileLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("line_no", models.PositiveIntegerField(verbose_name="行号")),
                ("reference", models.CharField(blank=True, max_length=64, verbose_name="流水号")),
                ("payer_type", models.CharField(blank=True, max_length=8, verbose_name="缴费方类型")),
                ("payer_code", models.CharField(blank=True, max_length=40, verbose_name="缴费方代码")),
                ("payer_name", models.CharField(blank=True, max_length=200, verbose_name="缴费方名称")),
                ("period", models.PositiveIntegerField(blank=True, null=True, verbose_name="所属期")),
                (
                    "amount",
                    models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True, verbose_name="金额"),
                ),
                ("paid_on", models.DateField(blank=True, null=True, verbose_name="到账日期")),
                ("raw", models.JSONField(blank=True, null=True, verbose_name="原始内容")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("new", "已登记"),
                            ("repeat", "此前已登记，未重复登记"),
                            ("duplicate", "与本文件前面一行相同，按一笔登记"),
                            ("bad", "错误，待更正"),
                            ("corrected", "已更正并登记"),
                        ],
                        max_length=10,
                        verbose_name="状态",
                    ),
                ),
                ("problem_code", models.CharField(blank=True, max_length=24, verbose_name="问题")),
                ("problem_detail", models.CharField(blank=True, max_length=200, verbose_name="问题详情")),
                ("corrected_at", models.DateTimeField(blank=True, null=True, verbose_name="更正时间")),
                (
                    "corrected_by",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="更正人",
                    ),
                ),
                (
                    "employer",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.employer",
                        verbose_name="单位",
                    ),
                ),
                (
                    "office",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.office",
                        verbose_name="经办机构",
                    ),
                ),
                (
                    "payment_file",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="lines",
                        to="contributions.paymentfile",
                        verbose_name="到账文件",
                    ),
                ),
                (
                    "person",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.person",
                        verbose_name="个人",
                    ),
                ),
            ],
            options={
                "verbose_name": "到账文件行",
                "verbose_name_plural": "到账文件行",
                "ordering": ["payment_file", "line_no"],
            },
        ),
        migrations.CreateModel(
            name="ReconciliationItem",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "category",
                    models.CharField(
                        choices=[
                            ("matched", "相符"),
                            ("unknown_payer", "有到账、缴费方不明"),
                            ("billed_unpaid", "已出账、未到账"),
                            ("mismatch", "金额不符"),
                        ],
                        max_length=16,
                        verbose_name="对账结果",
                    ),
                ),
                ("payer_type", models.CharField(blank=True, max_length=8, verbose_name="缴费方类型")),
                ("payer_code", models.CharField(blank=True, max_length=40, verbose_name="缴费方代码")),
                ("period", models.PositiveIntegerField(blank=True, null=True, verbose_name="所属期")),
                (
                    "due",
                    models.DecimalField(
                        decimal_places=2, default=0, max_digits=14, verbose_name="应缴（未由其他到账缴清部分）"
                    ),
                ),
                ("paid", models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name="本文件到账")),
                ("line_count", models.PositiveIntegerField(default=0, verbose_name="到账笔数")),
                ("first_line", models.PositiveIntegerField(blank=True, null=True, verbose_name="首行行号")),
                (
                    "employer",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.employer",
                        verbose_name="单位",
                    ),
                ),
                (
                    "line",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="contributions.paymentfileline",
                        verbose_name="文件行",
                    ),
                ),
                (
                    "office",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.office",
                        verbose_name="经办机构",
                    ),
                ),
                (
                    "payment_file",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reconciliation",
                        to="contributions.paymentfile",
                        verbose_name="到账文件",
                    ),
                ),
                (
                    "person",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.person",
                        verbose_name="个人",
                    ),
                ),
            ],
            options={
                "verbose_name": "对账结果",
                "verbose_name_plural": "对账结果",
            },
        ),
        migrations.CreateModel(
            name="ReconciliationSummary",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "category",
                    models.CharField(
                        choices=[
                            ("matched", "相符"),
                            ("unknown_payer", "有到账、缴费方不明"),
                            ("billed_unpaid", "已出账、未到账"),
                            ("mismatch", "金额不符"),
                        ],
                        max_length=16,
                        verbose_name="对账结果",
                    ),
                ),
                ("item_count", models.PositiveIntegerField(default=0, verbose_name="条数")),
                ("line_count", models.PositiveIntegerField(default=0, verbose_name="到账笔数")),
                ("due", models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name="应缴")),
                ("paid", models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name="本文件到账")),
                (
                    "office",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.office",
                        verbose_name="经办机构",
                    ),
                ),
                (
                    "payment_file",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="summaries",
                        to="contributions.paymentfile",
                        verbose_name="到账文件",
                    ),
                ),
            ],
            options={
                "verbose_name": "对账汇总",
                "verbose_name_plural": "对账汇总",
            },
        ),
        migrations.CreateModel(
            name="BillExport",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="编号")),
                ("period", models.PositiveIntegerField(verbose_name="所属期")),
                (
                    "format",
                    models.CharField(
                        choices=[("csv", "CSV"), ("xlsx", "Excel（.xlsx）")], max_length=4, verbose_name="格式"
                    ),
                ),
                (
                    "encoding",
                    models.CharField(
                        blank=True,
                        choices=[("", "—（xlsx）"), ("utf-8", "UTF-8"), ("gbk", "GBK")],
                        default="",
                        max_length=8,
                        verbose_name="编码",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("queued", "排队中"), ("done", "已生成"), ("failed", "失败")],
                        default="queued",
                        max_length=8,
                        verbose_name="状态",
                    ),
                ),
                ("file", models.FileField(blank=True, max_length=255, upload_to="", verbose_name="文件")),
                ("sha256", models.CharField(blank=True, max_length=64, verbose_name="SHA-256")),
                ("size", models.PositiveBigIntegerField(default=0, verbose_name="字节数")),
                ("bill_count", models.PositiveIntegerField(default=0, verbose_name="账单数")),
                ("employer_bill_count", models.PositiveIntegerField(default=0, verbose_name="单位账单数")),
                ("person_bill_count", models.PositiveIntegerField(default=0, verbose_name="个人账单数")),
                (
                    "total_employer",
                    models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name="单位应缴合计"),
                ),
                (
                    "total_individual",
                    models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name="个人应缴合计"),
                ),
                ("total", models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name="应缴合计")),
                (
                    "open_amount",
                    models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name="未缴合计"),
                ),
                ("insurance_totals", models.JSONField(blank=True, default=dict, verbose_name="分险种合计")),
                ("last_bill_id", models.BigIntegerField(blank=True, null=True, verbose_name="最大账单内部号")),
                (
                    "replaced_chars",
                    models.PositiveIntegerField(
                        default=0,
                        help_text="只影响名称列；代码和金额都是 ASCII。",
                        verbose_name="GBK 无法表示而替换为“?”的字符数",
                    ),
                ),
                ("error", models.TextField(blank=True, verbose_name="错误")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="创建时间")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="完成时间")),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="生成人",
                    ),
                ),
                (
                    "office",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="registry.office",
                        verbose_name="范围机构",
                    ),
                ),
            ],
            options={
                "verbose_name": "账单导出文件",
                "verbose_name_plural": "账单导出文件",
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["period", "office"], name="bill_export_period_office")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("encoding", ""), ("format", "xlsx")),
                            models.Q(("encoding__in", ["utf-8", "gbk"]), ("format", "csv")),
                            _connector="OR",
                        ),
                        name="bill_export_format_encoding",
                    )
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="paymentfile",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ("queued", "processing", "imported", "pending"))),
                fields=("sha256",),
                name="payment_file_sha256_once",
            ),
        ),
        migrations.AddIndex(
            model_name="paymentfileline",
            index=models.Index(fields=["payment_file", "status", "line_no"], name="payment_file_line_status"),
        ),
        migrations.AddIndex(
            model_name="paymentfileline",
            index=models.Index(fields=["payment_file", "reference"], name="payment_file_line_reference"),
        ),
        migrations.AddConstraint(
            model_name="paymentfileline",
            constraint=models.UniqueConstraint(fields=("payment_file", "line_no"), name="payment_file_line_once"),
        ),
        migrations.AddIndex(
            model_name="reconciliationitem",
            index=models.Index(fields=["payment_file", "office", "category"], name="reconciliation_file_office"),
        ),
        migrations.AddIndex(
            model_name="reconciliationitem",
            index=models.Index(
                fields=["payment_file", "employer", "person", "period"], name="reconciliation_file_payer"
            ),
        ),
        migrations.AddConstraint(
            model_name="reconciliationsummary",
            constraint=models.UniqueConstraint(
                fields=("payment_file", "office", "category"), name="reconciliation_summary_once"
            ),
        ),
    ]
