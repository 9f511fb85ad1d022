"""Held history lines become months too: the insurance columns of the line (values) and its amount."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("consolidation", "0004_raw_tables_owner_functions")]

    operations = [
        migrations.AddField(
            model_name="stagedhistory",
            name="values",
            field=models.JSONField(default=dict, verbose_name="各险种基数和金额"),
        ),
        migrations.AddField(
            model_name="stagedhistory",
            name="amount",
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name="实缴合计"),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="stagedhistory", name="insurance_type", field=models.CharField(max_length=16, blank=True)
        ),
        migrations.AlterField(
            model_name="stagedhistory",
            name="base",
            field=models.DecimalField(decimal_places=2, max_digits=14, null=True),
        ),
        migrations.AlterField(
            model_name="stagedhistory",
            name="employer_amount",
            field=models.DecimalField(decimal_places=2, max_digits=14, null=True),
        ),
        migrations.AlterField(
            model_name="stagedhistory",
            name="individual_amount",
            field=models.DecimalField(decimal_places=2, max_digits=14, null=True),
        ),
    ]
