"""The application role owns no table, so it may not ANALYZE the payment-file line table after a large import
(PostgreSQL would skip it with a warning and the planner would keep statistics without the new million lines).
This SECURITY DEFINER function, owned by the role that migrates (the owner), does that one thing for it."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
CREATE OR REPLACE FUNCTION contributions_analyze_payment_file_lines() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    ANALYZE public.contributions_paymentfileline;
END $$;
REVOKE ALL ON FUNCTION contributions_analyze_payment_file_lines() FROM PUBLIC;
"""

REVERSE = "DROP FUNCTION IF EXISTS contributions_analyze_payment_file_lines();"


class Migration(migrations.Migration):
    dependencies = [("contributions", "0008_issued_bills_immutable_always")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=REVERSE)]
