"""Three parameters funds reads, added to the policies catalogue (demo values, city-wide, from 2017):
the method of the two-level sharing, and the thresholds of budget deviation and collection rate.
Policy officers change them like any other parameter. Codes in ``funds/codes.py``."""

import datetime
from decimal import Decimal

from django.db import migrations

CITY_FUND = "台财社〔2017〕演示2号"

PARAMETERS = [
    # code, name, kind, unit, min, max, description, value, note
    (
        "sharing.subsidy_method",
        "社保基金缺口市、区两级分担方式",
        "integer",
        "",
        "1",
        "2",
        "1 = 市、区均按 sharing.subsidy_rule 的固定比例分担；2 = 市级按其比例分担，其余由各区按各自形成的缺口（支出−收入）分担。",
        1,
        "演示值：分担方式须按两级分担办法核对。",
    ),
    (
        "fund.warning.budget_deviation",
        "基金预算执行偏差预警线（±）",
        "ratio",
        "",
        None,
        "10",
        "实际收入或支出与按时间进度计算的预算数之比偏离 1 超过该比例即预警，如 0.1 表示 ±10%。",
        Decimal("0.1"),
        "演示值：未找到官方阈值。",
    ),
    (
        "fund.warning.collection_rate",
        "基金征缴率预警线",
        "rate",
        "",
        None,
        None,
        "本年度账单实缴 ÷ 应缴低于该比例即预警。",
        Decimal("0.9"),
        "演示值：未找到官方阈值。",
    ),
]


def load(apps, schema_editor):
    Parameter = apps.get_model("policies", "Parameter")
    ParameterValue = apps.get_model("policies", "ParameterValue")
    PolicyDocument = apps.get_model("policies", "PolicyDocument")
    document = PolicyDocument.objects.filter(number=CITY_FUND).first()
    if document is None:
        document = PolicyDocument.objects.create(
            number=CITY_FUND,
            title="台州市区社会保险基金市级统筹管理办法（演示）",
            issuer="台州市财政局、台州市人力资源和社会保障局",
            level="city",
            effective_from=datetime.date(2017, 1, 1),
            is_demo=True,
        )
    for code, name, kind, unit, low, high, description, value, note in PARAMETERS:
        if Parameter.objects.filter(code=code).exists():
            continue
        parameter = Parameter.objects.create(
            code=code,
            name=name,
            kind=kind,
            shape="",
            unit=unit,
            category="fund",
            insurance="",
            table_keys=[],
            min_value=Decimal(low) if low is not None else None,
            max_value=Decimal(high) if high is not None else None,
            description=description,
        )
        ParameterValue.objects.create(
            parameter=parameter,
            kind=kind,
            district=None,
            valid_from=datetime.date(2017, 1, 1),
            valid_to=None,
            value_decimal=value if kind in ("rate", "ratio") else None,
            value_int=value if kind == "integer" else None,
            value_table=None,
            document=document,
            is_demo=True,
            note=note,
        )


def unload(apps, schema_editor):
    Parameter = apps.get_model("policies", "Parameter")
    ParameterValue = apps.get_model("policies", "ParameterValue")
    codes = [row[0] for row in PARAMETERS]
    ParameterValue.objects.filter(parameter__code__in=codes).delete()
    Parameter.objects.filter(code__in=codes).delete()


class Migration(migrations.Migration):
    dependencies = [("funds", "0003_load_funds"), ("policies", "0004_load_collection_parameters")]

    operations = [migrations.RunPython(load, unload)]
