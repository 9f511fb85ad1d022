"""The city-wide service catalogue (经办事项清单): items, steps with their authority (核定权限), materials.

Time limits: individual registration follows the policy parameter ``case.time_limit_days.registration``
(社会保险经办条例); the other figures are demo values (``time_limit_is_demo``) until the office confirms
them against the published catalogue. Benefit conditions in ``effect_options`` cite their legal basis.
"""

from django.db import migrations

CLERK, REVIEWER, HEAD = "柜员", "审核", "负责人"
CITY, DISTRICT, TOWNSHIP, COMMUNITY = 1, 2, 3, 4
DEMO = "演示值：办理时限待按台州市区经办事项清单核定。"

# Materials the system already holds (最多跑一次: looked up, not handed in).
ID = ("identity", "居民身份证", "identity")
ENROLLED = ("enrollment", "参保信息", "enrollment")
CONTRIB = ("contribution", "缴费记录", "contribution")
CARD = ("card", "社会保障卡信息", "card")


def m(code, name, required=True, note=""):
    return (code, name, "", required, note)


def sysm(spec):
    code, name, source = spec
    return (code, name, source, True, "")


ITEMS = [
    {
        "code": "CJ-GR-001",
        "name": "个人参保登记",
        "insurance_type": "",
        "subject": "person_employer",
        "effect": "enrollment_create",
        "time_limit_days": 10,
        "time_limit_parameter": "case.time_limit_days.registration",
        "time_limit_is_demo": False,
        "legal_basis": "社会保险法第五十八条；社会保险经办条例（国务院令第765号）",
        "note": "职工参保填写参保单位；灵活就业和城乡居民险种不填单位。",
        "steps": [("intake", CLERK, COMMUNITY), ("approval", REVIEWER, DISTRICT)],
        "materials": [
            sysm(ID),
            m("form", "社会保险参保登记表"),
            m("contract", "劳动合同或用工证明（职工参保时提交）", required=False),
        ],
    },
    {
        "code": "CJ-GR-002",
        "name": "城乡居民基本养老保险参保登记",
        "insurance_type": "res_pension",
        "subject": "person",
        "effect": "enrollment_create",
        "time_limit_days": 10,
        "time_limit_parameter": "case.time_limit_days.registration",
        "time_limit_is_demo": False,
        "legal_basis": "国发〔2014〕8号",
        "note": "乡镇（街道）审核即可办结（服务下沉）。",
        "steps": [("intake", CLERK, COMMUNITY), ("approval", REVIEWER, TOWNSHIP)],
        "materials": [sysm(ID), m("hukou", "户口簿")],
    },
    {
        "code": "ZM-001",
        "name": "社会保险参保证明",
        "insurance_type": "",
        "subject": "person",
        "effect": "certificate_enrollment",
        "time_limit_days": 0,
        "two_person_rule": False,
        "legal_basis": "浙江省“最多跑一次”改革：即办事项",
        "note": "即办：当场出具，附验证码和二维码，任何人可在线核验真伪。",
        "steps": [("intake", CLERK, COMMUNITY)],
        "materials": [sysm(ID), sysm(ENROLLED)],
    },
    {
        "code": "ZM-002",
        "name": "个人社会保险权益记录打印",
        "insurance_type": "",
        "subject": "person",
        "effect": "certificate_record",
        "time_limit_days": 0,
        "two_person_rule": False,
        "legal_basis": "社会保险法第七十四条",
        "note": "即办。",
        "steps": [("intake", CLERK, COMMUNITY)],
        "materials": [sysm(ID), sysm(CONTRIB)],
    },
    {
        "code": "ZY-001",
        "name": "基本养老保险关系转移接续（转出）",
        "insurance_type": "emp_pension",
        "subject": "person",
        "effect": "none",
        "time_limit_days": 15,
        "time_limit_is_demo": True,
        "legal_basis": "国办发〔2009〕66号",
        "note": DEMO + "（转出地 15 个工作日内办理，待核）",
        "steps": [("intake", CLERK, TOWNSHIP), ("review", REVIEWER, DISTRICT), ("approval", HEAD, DISTRICT)],
        "materials": [sysm(ID), sysm(CONTRIB), m("application", "基本养老保险关系转移接续申请表")],
    },
    {
        "code": "ZY-002",
        "name": "基本养老保险关系转移接续（转入）",
        "insurance_type": "emp_pension",
        "subject": "person",
        "effect": "none",
        "time_limit_days": 15,
        "time_limit_is_demo": True,
        "legal_basis": "国办发〔2009〕66号",
        "note": DEMO,
        "steps": [("intake", CLERK, TOWNSHIP), ("review", REVIEWER, DISTRICT), ("approval", HEAD, DISTRICT)],
        "materials": [
            sysm(ID),
            m("application", "基本养老保险关系转移接续申请表"),
            m("certificate", "转出地出具的参保缴费凭证"),
        ],
    },
    {
        "code": "DY-001",
        "name": "职工基本养老保险待遇申领（退休）",
        "insurance_type": "emp_pension",
        "subject": "person",
        "effect": "benefit_emp_pension",
        "effect_options": {
            "basic_rate_per_year": "0.01",
            "account_divisor_months": 139,
            "basis": "国发〔2005〕38号：基础养老金按缴费每满一年发给 1%；60 岁退休个人账户计发月数 139（演示：未按退休年龄区分）",
        },
        "time_limit_days": 20,
        "time_limit_is_demo": True,
        "legal_basis": "社会保险法第十六条；国发〔2005〕38号",
        "note": DEMO + " 街道受理 → 区级审核 → 市级审批。",
        "steps": [("intake", CLERK, TOWNSHIP), ("review", REVIEWER, DISTRICT), ("approval", HEAD, CITY)],
        "materials": [sysm(ID), sysm(CONTRIB), m("retirement", "退休审批表"), m("bank", "本人银行账户信息")],
    },
    {
        "code": "DY-002",
        "name": "失业保险金申领",
        "insurance_type": "unemployment",
        "subject": "person",
        "effect": "benefit_unemployment",
        "effect_options": {
            "min_contribution_months": 12,
            "duration_tiers": [[12, 12], [60, 18], [120, 24]],
            "basis": "社会保险法第四十五、四十六条：缴费满一年；满一年不足五年最长 12 个月，满五年不足十年最长 18 个月，十年以上最长 24 个月",
        },
        "time_limit_days": 10,
        "time_limit_is_demo": True,
        "legal_basis": "社会保险法第四十五至四十七条；失业保险条例",
        "note": DEMO,
        "steps": [("intake", CLERK, TOWNSHIP), ("review", REVIEWER, DISTRICT)],
        "materials": [
            sysm(ID),
            sysm(CONTRIB),
            m("separation", "解除或终止劳动关系证明"),
            m("registration", "失业登记证明"),
            m("bank", "本人银行账户信息"),
        ],
    },
    {
        "code": "DY-003",
        "name": "生育津贴申领",
        "insurance_type": "maternity",
        "subject": "person_employer",
        "effect": "none",
        "time_limit_days": 15,
        "time_limit_is_demo": True,
        "legal_basis": "社会保险法第五十四至五十六条",
        "note": DEMO + " 津贴金额按用人单位上年度职工月平均工资计发，本系统暂按通用流程办理。",
        "steps": [("intake", CLERK, TOWNSHIP), ("review", REVIEWER, DISTRICT)],
        "materials": [sysm(ID), m("birth", "出生医学证明"), m("medical", "医疗机构诊断证明或出院小结", required=False)],
    },
    {
        "code": "DY-004",
        "name": "工伤保险待遇申领",
        "insurance_type": "work_injury",
        "subject": "person_employer",
        "effect": "none",
        "time_limit_days": 20,
        "time_limit_is_demo": True,
        "legal_basis": "工伤保险条例第三十条至第四十二条",
        "note": DEMO,
        "steps": [("intake", CLERK, TOWNSHIP), ("review", REVIEWER, DISTRICT), ("approval", HEAD, DISTRICT)],
        "materials": [
            sysm(ID),
            m("decision", "工伤认定决定书"),
            m("assessment", "劳动能力鉴定结论", required=False),
            m("bills", "医疗费用票据及明细"),
        ],
    },
    {
        "code": "KA-001",
        "name": "社会保障卡申领",
        "insurance_type": "",
        "subject": "person",
        "effect": "none",
        "time_limit_days": 20,
        "time_limit_is_demo": True,
        "legal_basis": "社会保障卡管理办法",
        "note": DEMO,
        "steps": [("intake", CLERK, COMMUNITY), ("review", REVIEWER, DISTRICT)],
        "materials": [sysm(ID), m("photo", "近期免冠证件照（电子或纸质）")],
    },
    {
        "code": "KA-002",
        "name": "社会保障卡挂失",
        "insurance_type": "",
        "subject": "person",
        "effect": "card_loss",
        "time_limit_days": 0,
        "two_person_rule": False,
        "legal_basis": "社会保障卡管理办法",
        "note": "即办：受理即挂失，防止盗用。",
        "steps": [("intake", CLERK, COMMUNITY)],
        "materials": [sysm(ID), sysm(CARD)],
    },
    {
        "code": "KA-003",
        "name": "社会保障卡补换",
        "insurance_type": "",
        "subject": "person",
        "effect": "none",
        "time_limit_days": 10,
        "time_limit_is_demo": True,
        "legal_basis": "社会保障卡管理办法",
        "note": DEMO,
        "steps": [("intake", CLERK, COMMUNITY), ("review", REVIEWER, DISTRICT)],
        "materials": [
            sysm(ID),
            sysm(CARD),
            m("photo", "近期免冠证件照（电子或纸质）"),
            m("old_card", "原社会保障卡（换卡时交回）", required=False),
        ],
    },
    {
        "code": "DY-005",
        "name": "城乡居民基本养老保险待遇申领",
        "insurance_type": "res_pension",
        "subject": "person",
        "effect": "benefit_res_pension",
        "effect_options": {
            "min_age": 60,
            "min_contribution_months": 180,
            "account_divisor_months": 139,
            "basis": "国发〔2014〕8号：年满 60 周岁、累计缴费满 15 年；个人账户计发月数 139（演示：制度实施时已满 45 周岁人员的过渡办法未建模）",
        },
        "time_limit_days": 15,
        "time_limit_is_demo": True,
        "legal_basis": "国发〔2014〕8号",
        "note": DEMO,
        "steps": [("intake", CLERK, COMMUNITY), ("review", REVIEWER, TOWNSHIP), ("approval", REVIEWER, DISTRICT)],
        "materials": [sysm(ID), sysm(CONTRIB), m("hukou", "户口簿"), m("bank", "本人银行账户信息")],
    },
    {
        "code": "DY-006",
        "name": "被征地农民基本生活保障金申领",
        "insurance_type": "land_farmer",
        "subject": "person",
        "effect": "benefit_land_farmer",
        "effect_options": {
            "min_age": {"M": 60, "F": 55},
            "basis": "浙江省被征地农民基本生活保障办法：男满 60 周岁、女满 55 周岁按月领取（演示值，待核）",
        },
        "time_limit_days": 15,
        "time_limit_is_demo": True,
        "legal_basis": "浙政发〔2003〕26号（演示，待核）",
        "note": DEMO,
        "steps": [("intake", CLERK, TOWNSHIP), ("review", REVIEWER, DISTRICT), ("approval", HEAD, DISTRICT)],
        "materials": [sysm(ID), sysm(ENROLLED), m("resettlement", "征地安置证明")],
    },
]


def load(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    Step = apps.get_model("cases", "ServiceItemStep")
    Material = apps.get_model("cases", "ServiceItemMaterial")
    for order, spec in enumerate(ITEMS, start=1):
        spec = dict(spec)
        steps = spec.pop("steps")
        materials = spec.pop("materials")
        item = ServiceItem.objects.create(sort_order=order * 10, **spec)
        for sequence, (kind, role, level) in enumerate(steps, start=1):
            Step.objects.create(item=item, sequence=sequence, kind=kind, role=role, lowest_level=level)
        for sequence, (code, name, source, required, note) in enumerate(materials, start=1):
            Material.objects.create(
                item=item, sequence=sequence, code=code, name=name, system_source=source, required=required, note=note
            )


def unload(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    ServiceItem.objects.filter(code__in=[i["code"] for i in ITEMS]).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_cases_initial")]

    operations = [migrations.RunPython(load, unload)]
