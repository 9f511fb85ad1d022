"""The 减员 item (BG-DW-001, migration 0011) looks the identity up too, like every item of the catalogue
(最多跑一次: the identity card is never handed in)."""

from django.db import migrations
from django.db.models import F


def add(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    Material = apps.get_model("cases", "ServiceItemMaterial")
    item = ServiceItem.objects.filter(code="BG-DW-001").first()
    if item is None or item.materials.filter(code="identity").exists():
        return
    item.materials.update(sequence=F("sequence") + 1)
    Material.objects.create(item=item, sequence=1, code="identity", name="居民身份证", system_source="identity")


def remove(apps, schema_editor):
    Material = apps.get_model("cases", "ServiceItemMaterial")
    Material.objects.filter(item__code="BG-DW-001", code="identity", item__cases__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0013_counter_catalogue")]

    operations = [migrations.RunPython(add, remove)]
