"""The API call log and the change-feed outbox become tables partitioned by month (PostgreSQL; registry.partitions,
docs/scaling.md): their rows are moved, their index names, foreign keys and triggers kept; the primary key becomes
(id, time column), as PostgreSQL requires of a partitioned table. Webhook deliveries keep the change's id without a
database constraint (none can point at a partitioned table by id). The owner's function
``registry_partitions_ensure`` creates months ahead for the beat job. Reversible: backwards, both are ordinary tables
again with their rows. Nothing changes on SQLite."""

import django.db.models.deletion
from django.db import migrations, models

from registry.partitions import (
    ENSURE_FUNCTION_DROP,
    MONTHLY_PARTITIONED,
    ensure_function_sql,
    partitioned_table_convert,
    partitioned_table_revert,
)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        for table, key in MONTHLY_PARTITIONED.items():
            partitioned_table_convert(cur, table=table, key=key)
        cur.execute(ensure_function_sql())


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute(ENSURE_FUNCTION_DROP)
        for table, key in MONTHLY_PARTITIONED.items():
            partitioned_table_revert(cur, table=table, key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0018_card_status_applied"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookdelivery",
            name="change",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.changeevent",
                verbose_name="数据变更",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
