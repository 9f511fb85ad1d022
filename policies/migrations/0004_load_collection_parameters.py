"""Two parameters contributions needs: the bill due day and the city's share of resident pension
subsidies (also used for the government share of land-expropriated farmers' funding). Demo values."""

import datetime
from decimal import Decimal

from django.db import migrations

CITY_POLICY = "台人社发〔2017〕演示1号"
CITY_FUND = "台财社〔2017〕演示2号"

PARAMETERS = [
    # code, name, kind, unit, category, insurance, min, max, description, value, document, note
    (
        "collection.due_day",
        "月度账单缴费截止日（次月几日）",
        "integer",
        "日",
        "collection",
        "",
        "1",
        "28",
        "所属期次月的该日为缴费截止日，次日起欠费、计收滞纳金。",
        15,
        CITY_POLICY,
        "演示值：截止日须按市区征缴办法核对。",
    ),
    (
        "res_pension.subsidy_city_share",
        "城乡居民养老保险缴费补贴市级承担比例",
        "ratio",
        "",
        "resident",
        "res_pension",
        None,
        "1",
        "其余由参保人所在区承担；被征地农民保障的政府出资部分同样按此比例分担。",
        Decimal("0.5"),
        CITY_FUND,
        "演示值：市、区分担比例须按两级分担办法核对。",
    ),
]


def load(apps, schema_editor):
    Parameter = apps.get_model("policies", "Parameter")
    ParameterValue = apps.get_model("policies", "ParameterValue")
    PolicyDocument = apps.get_model("policies", "PolicyDocument")
    for code, name, kind, unit, category, insurance, low, high, description, value, number, note in PARAMETERS:
        parameter = Parameter.objects.create(
            code=code,
            name=name,
            kind=kind,
            shape="",
            unit=unit,
            category=category,
            insurance=insurance,
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
            value_decimal=value if kind == "ratio" else None,
            value_int=value if kind == "integer" else None,
            value_table=None,
            document=PolicyDocument.objects.get(number=number),
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
    dependencies = [("policies", "0003_load_reference_data")]

    operations = [migrations.RunPython(load, unload)]
