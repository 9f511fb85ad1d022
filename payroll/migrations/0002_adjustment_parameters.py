"""The yearly pension adjustment (调待) as dated parameters (no value: each adjustment is entered by a policy officer
with its document; payroll.services.amounts explains how the values add up)."""

from django.db import migrations

PARAMETERS = [
    (
        "benefit.emp_pension.adjustment_monthly",
        "企业职工基本养老金调整额（每次调整，月增加额）",
        "emp_pension",
        "每个取值为一次调整：自起始日所在月起，起始日前已按月领取基本养老金的人员每月增加的金额；各次调整累加。"
        "依据人力资源社会保障部、财政部当年《关于调整退休人员基本养老金的通知》及省、市实施办法。",
    ),
    (
        "benefit.res_pension.adjustment_monthly",
        "城乡居民基础养老金调整额（每次调整，月增加额）",
        "res_pension",
        "每个取值为一次调整：自起始日所在月起，起始日前已按月领取城乡居民养老保险待遇的人员每月增加的金额；各次调整累加。",
    ),
]


def load(apps, schema_editor):
    Parameter = apps.get_model("policies", "Parameter")
    for code, name, insurance, description in PARAMETERS:
        Parameter.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": "amount",
                "shape": "",
                "unit": "元/月",
                "category": "benefit",
                "insurance": insurance,
                "table_keys": [],
                "description": description,
            },
        )


def unload(apps, schema_editor):
    Parameter = apps.get_model("policies", "Parameter")
    ParameterValue = apps.get_model("policies", "ParameterValue")
    codes = [row[0] for row in PARAMETERS]
    ParameterValue.objects.filter(parameter__code__in=codes).delete()
    Parameter.objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("payroll", "0001_payroll_models"), ("policies", "0008_load_benefit_and_transfer_parameters")]

    operations = [migrations.RunPython(load, unload)]
