"""Fills ``BillSettlement`` for the bills issued before its triggers (issue 22): total, the sum of their
allocations, and settled now when that covers the total. One set-based statement. Backwards: emptied (the
schema migration before drops the table)."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
INSERT INTO contributions_billsettlement (bill_id, total, paid, settled_at)
SELECT b.id, b.total, COALESCE(a.paid, 0), CASE WHEN COALESCE(a.paid, 0) >= b.total THEN now() END
FROM contributions_bill b
LEFT JOIN (SELECT bill_id, SUM(amount) AS paid FROM contributions_paymentallocation
           WHERE bill_id IS NOT NULL GROUP BY bill_id) a ON a.bill_id = b.id
WHERE b.issued_at IS NOT NULL
ON CONFLICT (bill_id) DO NOTHING;
"""

BACKWARD = "DELETE FROM contributions_billsettlement;"


class Migration(migrations.Migration):
    dependencies = [("contributions", "0024_bill_settlement_triggers")]

    operations = [PostgresOnlySQL(FORWARD, BACKWARD)]
