"""A line of a month after the death, never paid (held or failed), is cancelled when the death is recorded."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payroll", "0003_benefit_payment_payroll_guard"),
    ]

    operations = [
        migrations.AlterField(
            model_name="payrollline",
            name="status",
            field=models.CharField(
                choices=[
                    ("held", "无发放账户，暂缓"),
                    ("issued", "已送银行"),
                    ("paid", "已发放"),
                    ("failed", "发放失败"),
                    ("reissued", "已重发"),
                    ("cancelled", "人员死亡，已取消"),
                ],
                max_length=10,
                verbose_name="状态",
            ),
        ),
    ]
