from django.db import migrations

from registry.migration_ops import PostgresOnlySQL


class Migration(migrations.Migration):
    dependencies = [
        ("contributions", "0004_bill_export_schedule"),
        ("registry", "0002_enrollment_no_overlap_constraint"),  # btree_gist
    ]

    operations = [
        # The bill run joins the one float grade in force on the month's last day: two overlapping grades of one
        # employer would bill its work-injury lines twice. valid_to is exclusive, NULL = open-ended.
        PostgresOnlySQL(
            """
            ALTER TABLE contributions_workinjuryfloat ADD CONSTRAINT injury_float_no_overlap
            EXCLUDE USING gist (employer_id WITH =, daterange(valid_from, valid_to, '[)') WITH &&)
            """,
            reverse_sql="ALTER TABLE contributions_workinjuryfloat DROP CONSTRAINT injury_float_no_overlap",
        ),
    ]
