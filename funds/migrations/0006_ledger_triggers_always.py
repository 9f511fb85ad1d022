"""The ledger's append-only and balance triggers fire ALWAYS: also in a session with session_replication_role =
replica (granted to the application role for the payment-file import's foreign keys, never to skip these). A bulk
load by the database owner (bench/bench_funds_warning.py) disables them by name for its transaction instead."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
ALTER TABLE funds_ledgertransaction ENABLE ALWAYS TRIGGER ledger_transaction_append_only;
ALTER TABLE funds_ledgerentry ENABLE ALWAYS TRIGGER ledger_entry_append_only;
ALTER TABLE funds_ledgerentry ENABLE ALWAYS TRIGGER ledger_entry_checks;
"""

REVERSE = """
ALTER TABLE funds_ledgertransaction ENABLE TRIGGER ledger_transaction_append_only;
ALTER TABLE funds_ledgerentry ENABLE TRIGGER ledger_entry_append_only;
ALTER TABLE funds_ledgerentry ENABLE TRIGGER ledger_entry_checks;
"""


class Migration(migrations.Migration):
    dependencies = [("funds", "0005_beat_schedule")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=REVERSE)]
