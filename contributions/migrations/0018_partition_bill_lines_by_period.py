"""The bill lines become a table partitioned by period (PostgreSQL range partitions, one per month YYYYMM;
registry.partitions, docs/scaling.md): rows moved, index names, foreign keys and the immutability triggers kept
(the row trigger and the statement trigger with its transition table live on the parent and fire for every
partition). The primary key becomes (id, period), as PostgreSQL requires; nothing points at a bill line by
foreign key. The owner's function ``registry_partitions_ensure`` learns the period-keyed table, so the nightly job
makes the months ahead. Reversible: backwards, one ordinary table again with its rows. Nothing on SQLite.

Converting takes an ACCESS EXCLUSIVE lock and copies every line: a maintenance window (docs/scaling.md)."""

from django.db import migrations

from registry.partitions import ensure_function_sql, partitioned_table_convert, partitioned_table_revert

KEY = "period"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("contributions", "BillLine")._meta.db_table
    with schema_editor.connection.cursor() as cur:
        partitioned_table_convert(cur, table=table, key=KEY)
        cur.execute(ensure_function_sql())  # contributions.apps registered the table: the months ahead include it


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("contributions", "BillLine")._meta.db_table
    with schema_editor.connection.cursor() as cur:
        partitioned_table_revert(cur, table=table, key=KEY)


class Migration(migrations.Migration):
    dependencies = [
        ("contributions", "0017_bill_line_without_duplicate_indexes"),
        ("registry", "0020_partitions_ensure_schedule"),
    ]

    operations = [migrations.RunPython(forward, backward)]
