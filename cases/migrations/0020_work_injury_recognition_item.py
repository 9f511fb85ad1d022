"""Issue 20: 工伤认定申请 as a catalogue item with the accident date and the statutory time limits
(工伤保险条例第十七条: the employer within 30 days, the worker or his close relatives within 1 year; a late employer
bears the costs in between). Effect ``work_injury_recognition`` (cases/services/counter_items.py)."""

from django.db import migrations

CLERK, REVIEWER = "柜员", "审核"
DISTRICT, COMMUNITY = 2, 4
ITEM = {
    "code": "GS-001",
    "name": "工伤认定申请",
    "insurance_type": "work_injury",
    "subject": "person_employer",
    "effect": "work_injury_recognition",
    "time_limit_days": 60,
    "time_limit_is_demo": True,
    "legal_basis": "工伤保险条例第十七条、第二十条（受理之日起 60 日内作出认定决定）",
    "note": "填写事故伤害发生日期和申请人：用人单位 30 日内、职工或其近亲属 1 年内；单位逾期申请的予以标注，"
    "其间发生的工伤待遇等有关费用由单位负担。时限按工作日计算为演示处理。",
    "steps": [("intake", CLERK, COMMUNITY), ("review", REVIEWER, DISTRICT)],
    "materials": [
        ("identity", "居民身份证", "identity", True),
        ("form", "工伤认定申请表", "", True),
        ("labour", "劳动关系证明材料", "", True),
        ("medical", "医疗诊断证明或职业病诊断证明书", "", True),
    ],
}


def load(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    Step = apps.get_model("cases", "ServiceItemStep")
    Material = apps.get_model("cases", "ServiceItemMaterial")
    spec = dict(ITEM)
    steps = spec.pop("steps")
    materials = spec.pop("materials")
    item = ServiceItem.objects.create(sort_order=90, **spec)
    for sequence, (kind, role, level) in enumerate(steps, start=1):
        Step.objects.create(item=item, sequence=sequence, kind=kind, role=role, lowest_level=level)
    for sequence, (code, name, source, required) in enumerate(materials, start=1):
        Material.objects.create(
            item=item, sequence=sequence, code=code, name=name, system_source=source, required=required
        )


def unload(apps, schema_editor):
    # Plain deletes, children first: the ORM's cascade collector, run on historical models while another app's
    # migrations are unapplied in the same plan, mixes model classes of two states (ValueError). An item that
    # cases already use cannot be unloaded (the foreign key refuses).
    item = apps.get_model("cases", "ServiceItem")._meta.db_table
    for model in ("ServiceItemMaterial", "ServiceItemStep"):
        child = apps.get_model("cases", model)._meta.db_table
        schema_editor.execute(
            f"DELETE FROM {child} WHERE item_id IN (SELECT id FROM {item} WHERE code = %s)", [ITEM["code"]]
        )
    schema_editor.execute(f"DELETE FROM {item} WHERE code = %s", [ITEM["code"]])


class Migration(migrations.Migration):
    dependencies = [("cases", "0019_service_item_effect_work_injury_recognition")]

    operations = [migrations.RunPython(load, unload)]
