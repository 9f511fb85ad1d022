"""Issued bills complete their immutability: a line or a per-insurance total added to a bill that was issued in
an earlier transaction is refused (UPDATE and DELETE already were, migration 0002). A bill is issued together
with its lines and totals in one transaction (the bill run writes the lines first; resident and adjustment bills
are issued at insert), so the check asks whether the bill row was written by this very transaction.

Every immutability trigger fires ALWAYS: also in a session with session_replication_role = replica, which the
payment-file import (as the application role) sets only to skip the foreign-key checks it makes itself.
"""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
CREATE OR REPLACE FUNCTION contributions_xid_is_current(x xid) RETURNS boolean LANGUAGE sql STABLE AS $$
    -- Whether x (a row's xmin: 32 bits) is this transaction or one of its subtransactions. It is widened to 64 bits
    -- with the current epoch and asked of pg_xact_status, which answers 'in progress' for this transaction's own
    -- ids; a visible row written by any other transaction was committed.
    SELECT pg_xact_status(
        (GREATEST(((c.cur >> 32) - CASE WHEN x::text::bigint > (c.cur & 4294967295) THEN 1 ELSE 0 END), 0) << 32
         | x::text::bigint)::text::xid8
    ) = 'in progress'
    FROM (SELECT pg_current_xact_id()::text::bigint AS cur) c
$$;

CREATE OR REPLACE FUNCTION contributions_refuse_part_of_issued_bill() RETURNS trigger AS $$
DECLARE
    bad bigint;
BEGIN
    -- One check per writing transaction of the bills touched (a statement of a million lines has one or two).
    SELECT d.bill_id INTO bad
    FROM (
        SELECT DISTINCT ON (b.xmin::text) b.id AS bill_id, b.xmin AS x
        FROM new_rows n JOIN contributions_bill b ON b.id = n.bill_id
        WHERE b.issued_at IS NOT NULL
    ) d
    WHERE NOT contributions_xid_is_current(d.x)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% of issued bill % is immutable: corrections are adjustment bills', TG_TABLE_NAME, bad
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER bill_line_insert_immutable AFTER INSERT ON contributions_billline
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contributions_refuse_part_of_issued_bill();
CREATE TRIGGER bill_total_insert_immutable AFTER INSERT ON contributions_billtotal
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contributions_refuse_part_of_issued_bill();

ALTER TABLE contributions_bill ENABLE ALWAYS TRIGGER bill_immutable;
ALTER TABLE contributions_billline ENABLE ALWAYS TRIGGER bill_line_immutable;
ALTER TABLE contributions_billline ENABLE ALWAYS TRIGGER bill_line_insert_immutable;
ALTER TABLE contributions_billtotal ENABLE ALWAYS TRIGGER bill_total_immutable;
ALTER TABLE contributions_billtotal ENABLE ALWAYS TRIGGER bill_total_insert_immutable;
ALTER TABLE contributions_payment ENABLE ALWAYS TRIGGER payment_append_only;
ALTER TABLE contributions_paymentallocation ENABLE ALWAYS TRIGGER allocation_append_only;
"""

REVERSE = """
ALTER TABLE contributions_bill ENABLE TRIGGER bill_immutable;
ALTER TABLE contributions_billline ENABLE TRIGGER bill_line_immutable;
ALTER TABLE contributions_billtotal ENABLE TRIGGER bill_total_immutable;
ALTER TABLE contributions_payment ENABLE TRIGGER payment_append_only;
ALTER TABLE contributions_paymentallocation ENABLE TRIGGER allocation_append_only;
DROP TRIGGER IF EXISTS bill_line_insert_immutable ON contributions_billline;
DROP TRIGGER IF EXISTS bill_total_insert_immutable ON contributions_billtotal;
DROP FUNCTION IF EXISTS contributions_refuse_part_of_issued_bill();
DROP FUNCTION IF EXISTS contributions_xid_is_current(xid);
"""


class Migration(migrations.Migration):
    dependencies = [("contributions", "0007_payment_file_cheaper_indexes")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=REVERSE)]
