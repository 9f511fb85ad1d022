"""The triggers that keep ``BillSettlement`` (issue 22): one row per issued bill, its ``paid`` moved by every
allocation inserted. Statement triggers with transition tables, so a payment file's million allocations or a
bill run's million bills cost one set-based upsert, not a million row triggers. They fire ALWAYS: the payment-file
import runs with session_replication_role = replica (it makes its foreign-key checks itself).

Allocations are append-only (allocation_append_only) and issued bills immutable, so INSERT on allocations and
INSERT / the issuing UPDATE on bills are all the writes there are. Concurrent allocations to one bill serialise
on the settlement row (ON CONFLICT … DO UPDATE locks it), so ``paid`` stays the exact sum."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
CREATE OR REPLACE FUNCTION contributions_bill_settlement_issue() RETURNS trigger AS $$
BEGIN
    -- Bills issued by this statement: inserted issued (resident, adjustment, late-fee bills) or issued by the
    -- bill run's UPDATE. A bill that got allocations before (none today) keeps its paid sum.
    INSERT INTO contributions_billsettlement (bill_id, total, paid, settled_at)
    SELECT n.id, n.total, 0, CASE WHEN n.total <= 0 THEN now() END
    FROM new_rows n
    WHERE n.issued_at IS NOT NULL
    ON CONFLICT (bill_id) DO UPDATE SET
        total = EXCLUDED.total,
        settled_at = CASE WHEN contributions_billsettlement.paid >= EXCLUDED.total
                          THEN COALESCE(contributions_billsettlement.settled_at, now()) END;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

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

CREATE TRIGGER bill_settlement_on_insert AFTER INSERT ON contributions_bill
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contributions_bill_settlement_issue();
CREATE TRIGGER bill_settlement_on_update AFTER UPDATE ON contributions_bill
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contributions_bill_settlement_issue();
CREATE TRIGGER bill_settlement_on_allocation AFTER INSERT ON contributions_paymentallocation
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contributions_bill_settlement_allocate();
ALTER TABLE contributions_bill ENABLE ALWAYS TRIGGER bill_settlement_on_insert;
ALTER TABLE contributions_bill ENABLE ALWAYS TRIGGER bill_settlement_on_update;
ALTER TABLE contributions_paymentallocation ENABLE ALWAYS TRIGGER bill_settlement_on_allocation;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS bill_settlement_on_insert ON contributions_bill;
DROP TRIGGER IF EXISTS bill_settlement_on_update ON contributions_bill;
DROP TRIGGER IF EXISTS bill_settlement_on_allocation ON contributions_paymentallocation;
DROP FUNCTION IF EXISTS contributions_bill_settlement_issue();
DROP FUNCTION IF EXISTS contributions_bill_settlement_allocate();
"""


class Migration(migrations.Migration):
    dependencies = [("contributions", "0023_bill_settlement")]

    operations = [PostgresOnlySQL(FORWARD, BACKWARD)]
