"""The allocation trigger of ``BillSettlement`` (migration 0024) made cheap for a payment file's million
allocations (issue 22, "the payment file faster"): the bills an INSERT touched are summed once, in bill order,
and their settlement rows are UPDATEd in place (a join on the primary key, in key order); only a bill that has
no settlement row yet (none today: every issued bill gets one when issued) goes through the upsert, which
before took every row through ``INSERT … ON CONFLICT`` (a speculative insertion into the primary key, then the
update) and read ``contributions_bill`` for each bill's total.

Concurrency is as before: an UPDATE locks the rows it changes (a concurrent allocation to the same bill waits,
then adds to the committed sum), and a settlement row committed by another transaction after this statement's
snapshot is found by the upsert's ON CONFLICT. ``paid`` stays the exact sum of the allocations."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
CREATE OR REPLACE FUNCTION contributions_bill_settlement_allocate() RETURNS trigger AS $$
BEGIN
    WITH paid AS MATERIALIZED (
        SELECT bill_id, SUM(amount) AS paid FROM new_rows WHERE bill_id IS NOT NULL GROUP BY bill_id ORDER BY bill_id
    ), updated AS (
        UPDATE contributions_billsettlement s
        SET paid = s.paid + p.paid,
            settled_at = CASE WHEN s.paid + p.paid >= s.total THEN COALESCE(s.settled_at, now()) END
        FROM paid p
        WHERE s.bill_id = p.bill_id
        RETURNING s.bill_id
    )
    INSERT INTO contributions_billsettlement AS s (bill_id, total, paid, settled_at)
    SELECT p.bill_id, b.total, p.paid, CASE WHEN p.paid >= b.total THEN now() END
    FROM paid p
    JOIN contributions_bill b ON b.id = p.bill_id
    WHERE NOT EXISTS (SELECT 1 FROM updated u WHERE u.bill_id = p.bill_id)
    ON CONFLICT (bill_id) DO UPDATE SET
        paid = s.paid + EXCLUDED.paid,
        settled_at = CASE WHEN s.paid + EXCLUDED.paid >= s.total THEN COALESCE(s.settled_at, now()) END;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""

# Migration 0024's function, as it was.
BACKWARD = """
CREATE OR REPLACE FUNCTION contributions_bill_settlement_allocate() RETURNS trigger AS $$
BEGIN
    INSERT INTO contributions_billsettlement AS s (bill_id, total, paid, settled_at)
    SELECT a.bill_id, b.total, a.paid, CASE WHEN a.paid >= b.total THEN now() END
    FROM (SELECT bill_id, SUM(amount) AS paid FROM new_rows WHERE bill_id IS NOT NULL GROUP BY bill_id) a
    JOIN contributions_bill b ON b.id = a.bill_id
    ON CONFLICT (bill_id) DO UPDATE SET
        paid = s.paid + EXCLUDED.paid,
        settled_at = CASE WHEN s.paid + EXCLUDED.paid >= s.total THEN COALESCE(s.settled_at, now()) END;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("contributions", "0025_bill_settlement_fill")]

    operations = [PostgresOnlySQL(FORWARD, BACKWARD)]
