"""Which catalogue items the online service hall (网上办事大厅, hall/) offers, per item; and the employer's
减员 (an employee leaves: his employee insurances end), which employers file online.

Offered online: everything a person can apply for with uploaded scans, and the instant certificates. Not online
(demo choice, to be confirmed against the published catalogue): the work-injury benefit claim (original medical
bills are checked at the counter) and the land-farmer benefit (the township verifies the resettlement papers).
"""

from django.db import migrations

ONLINE = [
    "CJ-GR-001", "CJ-GR-002", "ZM-001", "ZM-002", "ZY-001", "ZY-002", "DY-001", "DY-002", "DY-003",
    "KA-001", "KA-002", "KA-003", "DY-005",
]  # fmt: skip
LEAVE = {
    "code": "BG-DW-001",
    "name": "参保人员减员（停保）",
    "insurance_type": "",
    "subject": "person_employer",
    "effect": "none",
    "time_limit_days": 5,
    "time_limit_is_demo": True,
    "legal_basis": "社会保险法第五十七条（用人单位应办理社会保险变更登记）",
    "note": "演示值：办理时限待按台州市区经办事项清单核定。单位申报职工减员，区级审核后终止其职工险种参保登记。",
    "offered_online": True,
}


def load(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    Step = apps.get_model("cases", "ServiceItemStep")
    Material = apps.get_model("cases", "ServiceItemMaterial")
    ServiceItem.objects.filter(code__in=ONLINE).update(offered_online=True)
    item, created = ServiceItem.objects.get_or_create(code=LEAVE["code"], defaults={**LEAVE, "sort_order": 15})
    if created:
        Step.objects.create(item=item, sequence=1, kind="intake", role="柜员", lowest_level=3)
        Step.objects.create(item=item, sequence=2, kind="approval", role="审核", lowest_level=2)
        Material.objects.create(item=item, sequence=1, code="enrollment", name="参保信息", system_source="enrollment")
        Material.objects.create(item=item, sequence=2, code="leave_proof", name="解除或终止劳动关系证明")


def unload(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    item = ServiceItem.objects.filter(code=LEAVE["code"]).first()
    if item is not None and not item.cases.exists():
        item.delete()
    ServiceItem.objects.update(offered_online=False)


class Migration(migrations.Migration):
    dependencies = [("cases", "0010_service_item_offered_online")]

    operations = [migrations.RunPython(load, unload)]
