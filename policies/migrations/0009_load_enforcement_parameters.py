"""Issue 20: the time limit of an order to pay arrears, and the medical funds' "high" band of the fund warning.

- ``collection.order_limit_days``: an order to pay within a time limit (责令限期缴纳, 社会保险法第八十六条) gives the
  employer this many calendar days; the statute leaves the limit to the agency — demo value 10.
- ``fund.warning.months.emp_medical`` / ``res_medical``: the reference gives five bands for the medical pooled fund
  (below 3 alarm, 3 to under 6 warn, 6 to 9 reasonable, over 9 to 15 high, over 15 excess; 人社部发〔2009〕67号,
  unsure): the value gains ``high_above`` = 9. The other funds keep their three thresholds (no band given).
"""

import datetime

from django.db import migrations

CITY_POLICY = "台人社发〔2017〕演示1号"
MEDICAL_FUNDS = ("fund.warning.months.emp_medical", "fund.warning.months.res_medical")


def load(apps, schema_editor):
    Parameter = apps.get_model("policies", "Parameter")
    ParameterValue = apps.get_model("policies", "ParameterValue")
    PolicyDocument = apps.get_model("policies", "PolicyDocument")
    parameter = Parameter.objects.create(
        code="collection.order_limit_days",
        name="责令限期缴纳的期限（日）",
        kind="integer",
        shape="",
        unit="日",
        category="collection",
        insurance="",
        table_keys=[],
        min_value=1,
        max_value=90,
        description="责令限期缴纳通知发出之日起的自然日数；期限最后一日为休息日或法定节假日的，顺延至其后第一个工作日。",
    )
    ParameterValue.objects.create(
        parameter=parameter,
        kind="integer",
        district=None,
        valid_from=datetime.date(2017, 1, 1),
        valid_to=None,
        value_int=10,
        document=PolicyDocument.objects.get(number=CITY_POLICY),
        is_demo=True,
        note="演示值：社会保险法第八十六条未规定期限，须按本市执法文书规范核对。",
    )
    for value in ParameterValue.objects.filter(parameter__code__in=MEDICAL_FUNDS):
        if isinstance(value.value_table, dict) and "high_above" not in value.value_table:
            value.value_table = {**value.value_table, "high_above": "9"}
            value.save(update_fields=["value_table"])


def unload(apps, schema_editor):
    Parameter = apps.get_model("policies", "Parameter")
    ParameterValue = apps.get_model("policies", "ParameterValue")
    ParameterValue.objects.filter(parameter__code="collection.order_limit_days").delete()
    Parameter.objects.filter(code="collection.order_limit_days").delete()
    for value in ParameterValue.objects.filter(parameter__code__in=MEDICAL_FUNDS):
        if isinstance(value.value_table, dict) and "high_above" in value.value_table:
            value.value_table = {k: v for k, v in value.value_table.items() if k != "high_above"}
            value.save(update_fields=["value_table"])


class Migration(migrations.Migration):
    dependencies = [("policies", "0008_load_benefit_and_transfer_parameters")]

    operations = [migrations.RunPython(load, unload)]
