"""The evaluation scheme as dated policy parameters (demo values, city-wide, from 2017): the weights of the four
components (a table of shares: policies refuses a set that does not sum to 1) and the yearly funding pool.
Policy officers change them like any other parameter; a new value from a date is a new scheme from that date."""

import datetime
from decimal import Decimal

from django.db import migrations

DOCUMENT = "台人社发〔2017〕演示21号"
KEYS = ["volume", "on_time", "rating", "collection"]

PARAMETERS = [
    # code, name, kind, shape, unit, keys, description, value, note
    (
        "evaluation.weights",
        "经办机构考核权重（办件量、按时办结、群众评价、征缴）",
        "table",
        "shares",
        "",
        KEYS,
        "综合得分 = Σ 权重 × 分项得分（0–100）；某分项不适用于某机构（如非区级机构的征缴率）时按其余权重折算。"
        "四项权重合计必须为 1。",
        {"volume": "0.3", "on_time": "0.3", "rating": "0.2", "collection": "0.2"},
        "演示值：权重须按市区经办机构考核办法核对。",
    ),
    (
        "evaluation.funding_pool",
        "经办机构考核奖励资金（每年）",
        "amount",
        "",
        "元/年",
        [],
        "按综合得分占全部机构得分之和的比例分配；月度考核每月分配全年的十二分之一。",
        Decimal("6000000"),
        "演示值：资金规模须按年度预算核对。",
    ),
]


def _document(PolicyDocument):
    document = PolicyDocument.objects.filter(number=DOCUMENT).first()
    if document is None:
        document = PolicyDocument.objects.create(
            number=DOCUMENT,
            title="台州市区社会保险经办机构评价考核办法（演示）",
            issuer="台州市人力资源和社会保障局",
            level="city",
            effective_from=datetime.date(2017, 1, 1),
            is_demo=True,
            note="演示值：台州市区尚无公开的经办机构评价考核办法；权重与资金池为演示，待市人社局发文后按文件录入。",
        )
    return document


def load(apps, schema_editor):
    Parameter = apps.get_model("policies", "Parameter")
    ParameterValue = apps.get_model("policies", "ParameterValue")
    document = _document(apps.get_model("policies", "PolicyDocument"))
    for code, name, kind, shape, unit, keys, description, value, note in PARAMETERS:
        if Parameter.objects.filter(code=code).exists():
            continue
        parameter = Parameter.objects.create(
            code=code,
            name=name,
            kind=kind,
            shape=shape,
            unit=unit,
            category="case",  # office evaluation is about case handling (not a fund's figures)
            insurance="",
            table_keys=keys,
            description=description,
        )
        ParameterValue.objects.create(
            parameter=parameter,
            kind=kind,
            district=None,
            valid_from=datetime.date(2017, 1, 1),
            valid_to=None,
            value_decimal=value if kind == "amount" else None,
            value_table=value if kind == "table" else None,
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
    dependencies = [("evaluation", "0002_metrics_schedule"), ("policies", "0006_load_statutory_calendar_2016_2026")]

    operations = [migrations.RunPython(load, unload)]
