"""The online hall offers the counter's 单位增员 and 单位减员 (CJ-DW-001/002, migration 0013, with their effects);
the hall's earlier generic 减员 item (BG-DW-001, migration 0011) is retired: one item per matter."""

from django.db import migrations

STAFF_CHANGES = ["CJ-DW-001", "CJ-DW-002"]


def apply(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    ServiceItem.objects.filter(code__in=STAFF_CHANGES).update(offered_online=True)
    ServiceItem.objects.filter(code="BG-DW-001").update(offered_online=False, is_active=False)


def revert(apps, schema_editor):
    ServiceItem = apps.get_model("cases", "ServiceItem")
    ServiceItem.objects.filter(code__in=STAFF_CHANGES).update(offered_online=False)
    ServiceItem.objects.filter(code="BG-DW-001").update(offered_online=True, is_active=True)


class Migration(migrations.Migration):
    dependencies = [("cases", "0017_case_escalation")]

    operations = [migrations.RunPython(apply, revert)]
