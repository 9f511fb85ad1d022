"""The security log is append-only in the database: UPDATE is refused, and DELETE of a row younger than 183 days
(等保 2.0 keeps the log at least six months), whoever asks. The change feed's append-only trigger and this one
fire ALWAYS, also in a session that set session_replication_role = replica (which only the payment-file import
does, to skip foreign-key checks it makes itself)."""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

FORWARD = """
CREATE OR REPLACE FUNCTION registry_security_event_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.at < now() - interval '183 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'security log rows are append-only (the purge deletes rows older than 183 days)'
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER security_event_append_only BEFORE UPDATE OR DELETE ON registry_securityevent
    FOR EACH ROW EXECUTE FUNCTION registry_security_event_guard();
ALTER TABLE registry_securityevent ENABLE ALWAYS TRIGGER security_event_append_only;
ALTER TABLE registry_changeevent ENABLE ALWAYS TRIGGER change_event_append_only;
"""

REVERSE = """
ALTER TABLE registry_changeevent ENABLE TRIGGER change_event_append_only;
DROP TRIGGER IF EXISTS security_event_append_only ON registry_securityevent;
DROP FUNCTION IF EXISTS registry_security_event_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("registry", "0012_security_log_passwords_sessions")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=REVERSE)]
