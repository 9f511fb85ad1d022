"""The six catalogue items that changed nothing when completed now do their effect (issue 16)."""

from django.db import migrations

EFFECTS = {
    "CJ-GR-002": ("res_pension_enrollment", "enrollment_create"),
    "ZY-001": ("transfer_out", "none"),
    "ZY-002": ("transfer_in", "none"),
    "DY-003": ("benefit_maternity", "none"),
    "DY-004": ("benefit_disability", "none"),
    "KA-001": ("card_apply", "none"),
    "KA-003": ("card_replace", "none"),
}
NOTES = {
    "DY-003": (
        " 津贴金额按用人单位上年度职工月平均工资计发，本系统暂按通用流程办理。",
        " 生育津贴 = 用人单位上年度职工月平均工资 ÷ 30 × 产假天数（天数按孩次取政策参数）。",
    ),
}


def forward(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    for code, (effect, _old) in EFFECTS.items():
        item = ServiceItem.objects.filter(code=code).first()
        if item is None:
            continue
        item.effect = effect
        if code in NOTES:
            item.note = item.note.replace(*NOTES[code])
        item.save(update_fields=["effect", "note"])


def backward(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    for code, (_effect, old) in EFFECTS.items():
        item = ServiceItem.objects.filter(code=code).first()
        if item is None:
            continue
        item.effect = old
        if code in NOTES:
            new, before = NOTES[code][1], NOTES[code][0]
            item.note = item.note.replace(new, before)
        item.save(update_fields=["effect", "note"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0015_counter_effects_and_cards")]

    operations = [migrations.RunPython(forward, backward)]
