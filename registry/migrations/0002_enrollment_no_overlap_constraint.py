from django.db import migrations

from registry.migration_ops import PostgresOnlySQL


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_registry_initial")]

    operations = [
        PostgresOnlySQL("CREATE EXTENSION IF NOT EXISTS btree_gist", reverse_sql=migrations.RunSQL.noop),
        # One person cannot hold two overlapping enrollments of one insurance type.
        # end_date is the last covered day (inclusive), NULL = open-ended.
        PostgresOnlySQL(
            """
            ALTER TABLE registry_enrollment ADD CONSTRAINT enrollment_no_overlap
            EXCLUDE USING gist (
                person_id WITH =,
                insurance_type WITH =,
                daterange(start_date, end_date, '[]') WITH &&
            )
            """,
            reverse_sql="ALTER TABLE registry_enrollment DROP CONSTRAINT enrollment_no_overlap",
        ),
    ]
