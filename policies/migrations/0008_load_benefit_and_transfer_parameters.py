"""Parameters of the maternity allowance, the work-injury one-off disability subsidy and the pension transfer
(issue 16: the catalogue items DY-003, DY-004, ZY-001 do their effect). Sources: ../shared/reference/domain-facts.md.

- Maternity allowance = the employer's average monthly wage of last year ÷ 30 × leave days (社会保险法 art. 56;
  the ÷ 30 day rate is the usual practice — demo value). Leave days by birth order: 98 days nationally (女职工劳动
  保护特别规定 art. 7) plus Zhejiang's extension under the 浙江省人口与计划生育条例 as amended in 2021: first child
  158 days, second and third 188 days in total — unsure, loaded as demo values.
- Work-injury one-off disability subsidy: 27, 25, 23, 21, 18, 16, 13, 11, 9, 7 months of the worker's own wage for
  grades 1–10 (工伤保险条例 arts. 35–37, 2010 revision). Sure.
- Pension transfer out (国办发〔2009〕66号 art. 4): the individual account moves in full, the pooled part at 12 % of
  the contribution bases of the years paid since 1998-01-01. Sure in outline.
"""

import datetime
from decimal import Decimal

from django.db import migrations

LAW = "中华人民共和国主席令第35号"
WORK_INJURY_REG = "国务院令第586号"
TRANSFER_2009 = "国办发〔2009〕66号"
ZJ_BIRTH_2021 = "（文号待核）浙江省人口与计划生育条例（2021年修正）"

DOCUMENTS = [
    # number, title, issuer, level, insurances, issued_on, effective_from, is_demo, note
    (
        TRANSFER_2009,
        "国务院办公厅关于转发人力资源社会保障部 财政部城镇企业职工基本养老保险关系转移接续暂行办法的通知",
        "国务院办公厅",
        "national",
        ["emp_pension"],
        datetime.date(2009, 12, 28),
        datetime.date(2010, 1, 1),
        False,
        "跨省、跨统筹地区转移：个人账户储存额全部转移，统筹基金按 1998 年以后各年度实际缴费工资的 12% 转移；"
        "转出地出具参保缴费凭证。",
    ),
    (
        ZJ_BIRTH_2021,
        "浙江省人口与计划生育条例（2021年11月25日修正）",
        "浙江省人民代表大会常务委员会",
        "province",
        ["maternity"],
        datetime.date(2021, 11, 25),
        datetime.date(2021, 11, 25),
        True,
        "在国家规定产假 98 天基础上延长：一孩合计 158 天，二孩、三孩合计 188 天（演示值：天数和文号待核）。",
    ),
]

# code, name, kind, shape, unit, insurance, table_keys, min, max, description, value, document, is_demo, note
PARAMETERS = [
    (
        "benefit.maternity.leave_days",
        "生育津贴计发天数（按生育孩次）",
        "table",
        "counts",
        "天",
        "maternity",
        ["1", "2", "3"],
        "享受生育津贴的产假天数：键为孩次（1 一孩、2 二孩、3 三孩及以上）。",
        {"1": 158, "2": 188, "3": 188},
        ZJ_BIRTH_2021,
        True,
        "演示值：按浙江省 2021 年修正的人口与计划生育条例（一孩 158 天，二孩、三孩 188 天），待核。",
    ),
    (
        "benefit.maternity.day_divisor",
        "生育津贴日标准折算天数",
        "integer",
        "",
        "天",
        "maternity",
        [],
        "生育津贴 = 用人单位上年度职工月平均工资 ÷ 本值 × 产假天数（社会保险法第五十六条）。",
        30,
        LAW,
        True,
        "演示值：按月平均工资除以 30 折算日标准是通行做法，待核。",
    ),
    (
        "benefit.work_injury.disability_months",
        "一次性伤残补助金（按伤残等级，本人工资月数）",
        "table",
        "counts",
        "个月",
        "work_injury",
        [str(g) for g in range(1, 11)],
        "工伤保险条例第三十五至三十七条：一级至十级伤残一次性伤残补助金为本人工资的月数。",
        {"1": 27, "2": 25, "3": 23, "4": 21, "5": 18, "6": 16, "7": 13, "8": 11, "9": 9, "10": 7},
        WORK_INJURY_REG,
        False,
        "工伤保险条例（2010年修订）第三十五条、第三十六条、第三十七条。",
    ),
    (
        "transfer.emp_pension.pooled_rate",
        "养老保险关系转出统筹基金转移比例",
        "rate",
        "",
        "",
        "emp_pension",
        [],
        "转出统筹基金 = 1998 年 1 月 1 日以后各年度实际缴费基数之和 × 本比例（国办发〔2009〕66号第四条）。",
        Decimal("0.12"),
        TRANSFER_2009,
        False,
        "国办发〔2009〕66号第四条。",
    ),
]


def load(apps, schema_editor):
    Parameter = apps.get_model("policies", "Parameter")
    ParameterValue = apps.get_model("policies", "ParameterValue")
    PolicyDocument = apps.get_model("policies", "PolicyDocument")
    for number, title, issuer, level, insurances, issued, effective, is_demo, note in DOCUMENTS:
        PolicyDocument.objects.get_or_create(
            number=number,
            defaults={
                "title": title,
                "issuer": issuer,
                "level": level,
                "insurances": insurances,
                "issued_on": issued,
                "effective_from": effective,
                "status": "in_force",
                "is_demo": is_demo,
                "note": note,
            },
        )
    for code, name, kind, shape, unit, insurance, keys, description, value, number, is_demo, note in PARAMETERS:
        parameter = Parameter.objects.create(
            code=code,
            name=name,
            kind=kind,
            shape=shape,
            unit=unit,
            category="benefit",
            insurance=insurance,
            table_keys=keys,
            description=description,
        )
        document = PolicyDocument.objects.get(number=number)
        ParameterValue.objects.create(
            parameter=parameter,
            kind=kind,
            district=None,
            # From the unification (2017) or from the document's own date when later (the 2021 leave days).
            valid_from=max(datetime.date(2017, 1, 1), document.effective_from),
            valid_to=None,
            value_decimal=value if kind == "rate" else None,
            value_int=value if kind == "integer" else None,
            value_table=value if kind == "table" else None,
            document=document,
            is_demo=is_demo,
            note=note,
        )


def unload(apps, schema_editor):
    Parameter = apps.get_model("policies", "Parameter")
    ParameterValue = apps.get_model("policies", "ParameterValue")
    PolicyDocument = apps.get_model("policies", "PolicyDocument")
    codes = [row[0] for row in PARAMETERS]
    ParameterValue.objects.filter(parameter__code__in=codes).delete()
    Parameter.objects.filter(code__in=codes).delete()
    PolicyDocument.objects.filter(number__in=[row[0] for row in DOCUMENTS], values__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("policies", "0007_counts_table_shape")]

    operations = [migrations.RunPython(load, unload)]
