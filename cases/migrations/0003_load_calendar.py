"""Formerly: loaded 2016–2026's statutory holidays from whatever ``holidays`` package was installed at migrate
time. The calendar now belongs to policies, whose migration 0006 holds those years as literal data; this
migration stays in the graph (databases that ran it keep its rows) and does nothing.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_load_catalogue")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
