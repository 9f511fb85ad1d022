"""The counter's daily items in the catalogue (issue 16): employee enrollment in the five insurances in one case,
an employer's staff changes (增员 / 减员), ending an enrollment (停保), changes of a person's and an employer's details.

Staff changes, 停保 and a person's change of details are done on the spot (即办) at any window down to the community;
employee enrollment and an employer's change of details are approved by the district. Time limits other than the
registration parameter are demo values (as in 0002).
"""

from django.db import migrations

CLERK, REVIEWER = "柜员", "审核"
DISTRICT, TOWNSHIP, COMMUNITY = 2, 3, 4
DEMO = "演示值：办理时限待按台州市区经办事项清单核定。"
ID = ("identity", "居民身份证", "identity", True)
EMPLOYER = ("employer_info", "单位登记信息", "employer", True)

ITEMS = [
    {
        "code": "CJ-ZG-001",
        "name": "职工参保登记（五险合一）",
        "subject": "person_employer",
        "effect": "employee_enrollment",
        "time_limit_days": 10,
        "time_limit_parameter": "case.time_limit_days.registration",
        "legal_basis": "社会保险法第五十八条；台政办发〔2016〕127号 二(四)2（五险统一征收）",
        "note": "一次办理职工基本养老、医疗、失业、工伤、生育保险，默认全选；入职超过 30 日登记的予以标注。",
        "steps": [("intake", CLERK, COMMUNITY), ("approval", REVIEWER, DISTRICT)],
        "materials": [ID, ("form", "社会保险参保登记表", "", True), ("contract", "劳动合同或用工证明", "", False)],
    },
    {
        "code": "CJ-DW-001",
        "name": "单位增员",
        "subject": "employer",
        "effect": "staff_add",
        "time_limit_days": 0,
        "time_limit_is_demo": True,
        "legal_basis": "社会保险法第五十八条",
        "note": "可一次增员多人，或上传单位的增员名单；跨区转入的职工原参保关系自同月终止。",
        "steps": [("intake", CLERK, COMMUNITY)],
        "materials": [ID, EMPLOYER, ("list", "增员名单", "", True)],
    },
    {
        "code": "CJ-DW-002",
        "name": "单位减员",
        "subject": "employer",
        "effect": "staff_remove",
        "time_limit_days": 0,
        "time_limit_is_demo": True,
        "legal_basis": "社会保险法第五十八条；社会保险经办条例",
        "note": DEMO,
        "steps": [("intake", CLERK, COMMUNITY)],
        "materials": [ID, EMPLOYER, ("list", "减员名单", "", True)],
    },
    {
        "code": "CJ-GR-003",
        "name": "停保（参保终止登记）",
        "subject": "person_employer",
        "effect": "enrollment_end",
        "time_limit_days": 0,
        "time_limit_is_demo": True,
        "legal_basis": "社会保险经办条例",
        "note": DEMO,
        "steps": [("intake", CLERK, COMMUNITY)],
        "materials": [ID],
    },
    {
        "code": "BG-GR-001",
        "name": "个人信息变更",
        "subject": "person",
        "effect": "person_change",
        "time_limit_days": 0,
        "time_limit_is_demo": True,
        "legal_basis": "社会保险法第五十七条",
        "note": "原值与新值记入办件和变更记录。",
        "steps": [("intake", CLERK, COMMUNITY)],
        "materials": [ID],
    },
    {
        "code": "BG-DW-002",
        "name": "单位信息变更",
        "subject": "employer",
        "effect": "employer_change",
        "time_limit_days": 5,
        "time_limit_is_demo": True,
        "legal_basis": "社会保险法第五十七条（变更登记）",
        "note": DEMO,
        "steps": [("intake", CLERK, TOWNSHIP), ("approval", REVIEWER, DISTRICT)],
        "materials": [ID, EMPLOYER, ("change_proof", "变更登记证明（营业执照等）", "", True)],
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
        item = ServiceItem.objects.create(sort_order=5 + order, **spec)
        for sequence, (kind, role, level) in enumerate(steps, start=1):
            Step.objects.create(item=item, sequence=sequence, kind=kind, role=role, lowest_level=level)
        for sequence, (code, name, source, required) in enumerate(materials, start=1):
            Material.objects.create(
                item=item, sequence=sequence, code=code, name=name, system_source=source, required=required
            )


def unload(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    ServiceItem.objects.filter(code__in=[i["code"] for i in ITEMS]).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0012_case_subject_key_window_office")]

    operations = [migrations.RunPython(load, unload)]
