from django.db import migrations

from registry.migration_ops import PostgresOnlySQL


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0001_policies_initial"),
        ("registry", "0002_enrollment_no_overlap_constraint"),
    ]

    operations = [
        PostgresOnlySQL("CREATE EXTENSION IF NOT EXISTS btree_gist", reverse_sql=migrations.RunSQL.noop),
        # Two values of one parameter and one scope may not be in force on the same day.
        # valid_to is exclusive ('[)'), NULL = open-ended; a NULL district (city-wide) is its own scope 0.
        PostgresOnlySQL(
            """
            ALTER TABLE policies_parametervalue ADD CONSTRAINT paramvalue_no_overlap
            EXCLUDE USING gist (
                parameter_id WITH =,
                (COALESCE(district_id, 0)) WITH =,
                daterange(valid_from, valid_to, '[)') WITH &&
            )
            """,
            reverse_sql="ALTER TABLE policies_parametervalue DROP CONSTRAINT paramvalue_no_overlap",
        ),
    ]
