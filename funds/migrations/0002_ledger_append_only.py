"""On PostgreSQL the database itself guards the ledger:

* UPDATE and DELETE of transactions and entries are refused (corrections are reversing transactions);
* after every INSERT statement into the entries, each transaction it touched must sum to zero, repeat its
  transaction's fund, office and date, and not fall in a closed fund year.

(TRUNCATE, a table-level maintenance statement, is left to the database owner.)
"""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FUNCTIONS = """
CREATE OR REPLACE FUNCTION funds_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: record a reversing transaction instead', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION funds_check_entries() RETURNS trigger AS $$
DECLARE
    bad RECORD;
BEGIN
    SELECT n.transaction_id, SUM(e.amount) AS total INTO bad
    FROM (SELECT DISTINCT transaction_id FROM new_entries) n
    JOIN funds_ledgerentry e ON e.transaction_id = n.transaction_id
    GROUP BY n.transaction_id
    HAVING SUM(e.amount) <> 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced: its entries sum to %', bad.transaction_id, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT e.transaction_id INTO bad
    FROM new_entries e JOIN funds_ledgertransaction t ON t.id = e.transaction_id
    WHERE t.fund_id <> e.fund_id OR t.office_id <> e.office_id OR t.booked_on <> e.booked_on
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entries of ledger transaction % must repeat its fund, office and date', bad.transaction_id
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT e.transaction_id, e.booked_on INTO bad
    FROM new_entries e
    JOIN funds_fundyear y ON y.fund_id = e.fund_id AND y.status = 'closed'
                         AND y.year = EXTRACT(YEAR FROM e.booked_on)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % is dated % in a closed fund year', bad.transaction_id, bad.booked_on
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""

TRIGGERS = """
CREATE TRIGGER ledger_transaction_append_only BEFORE UPDATE OR DELETE ON funds_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION funds_refuse_change();
CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON funds_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION funds_refuse_change();
CREATE TRIGGER ledger_entry_checks AFTER INSERT ON funds_ledgerentry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION funds_check_entries();
"""

DROP = """
DROP TRIGGER IF EXISTS ledger_entry_checks ON funds_ledgerentry;
DROP TRIGGER IF EXISTS ledger_entry_append_only ON funds_ledgerentry;
DROP TRIGGER IF EXISTS ledger_transaction_append_only ON funds_ledgertransaction;
DROP FUNCTION IF EXISTS funds_check_entries();
DROP FUNCTION IF EXISTS funds_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("funds", "0001_funds_initial")]

    operations = [PostgresOnlySQL(FUNCTIONS + TRIGGERS, reverse_sql=DROP)]
