"""Closed cases, their materials and attachments and the case log stay immutable also in a session with
session_replication_role = replica: the triggers fire ALWAYS."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
ALTER TABLE cases_case ENABLE ALWAYS TRIGGER case_closed_immutable;
ALTER TABLE cases_casematerial ENABLE ALWAYS TRIGGER case_material_closed_immutable;
ALTER TABLE cases_attachment ENABLE ALWAYS TRIGGER attachment_closed_immutable;
ALTER TABLE cases_caseevent ENABLE ALWAYS TRIGGER case_event_append_only;
"""

REVERSE = """
ALTER TABLE cases_case ENABLE TRIGGER case_closed_immutable;
ALTER TABLE cases_casematerial ENABLE TRIGGER case_material_closed_immutable;
ALTER TABLE cases_attachment ENABLE TRIGGER attachment_closed_immutable;
ALTER TABLE cases_caseevent ENABLE TRIGGER case_event_append_only;
"""


class Migration(migrations.Migration):
    dependencies = [("cases", "0005_closed_cases_immutable")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=REVERSE)]
