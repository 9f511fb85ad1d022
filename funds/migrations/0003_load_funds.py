"""The city-pooled funds: one per insurance type (data, separate from the schema; reversible)."""

from django.db import migrations

FUNDS = [
    ("emp_pension", "职工基本养老保险基金"),
    ("emp_medical", "职工基本医疗保险统筹基金"),
    ("unemployment", "失业保险基金"),
    ("work_injury", "工伤保险基金"),
    ("maternity", "生育保险基金"),
    ("res_pension", "城乡居民基本养老保险基金"),
    ("res_medical", "城乡居民基本医疗保险基金"),
    ("land_farmer", "被征地农民基本生活保障资金"),
]


def load(apps, schema_editor):
    Fund = apps.get_model("funds", "Fund")
    for order, (insurance, name) in enumerate(FUNDS, start=1):
        Fund.objects.update_or_create(insurance_type=insurance, defaults={"name": name, "sort_order": order})


def unload(apps, schema_editor):
    Fund = apps.get_model("funds", "Fund")
    Fund.objects.filter(insurance_type__in=[f[0] for f in FUNDS]).delete()


class Migration(migrations.Migration):
    dependencies = [("funds", "0002_ledger_append_only")]

    operations = [migrations.RunPython(load, unload)]
