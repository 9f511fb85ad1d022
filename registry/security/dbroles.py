"""Least privilege in the database (docs/security.md): the web and worker processes connect as an *application
role* that is no superuser and owns nothing — it may read and write rows (SELECT, INSERT, UPDATE, DELETE), use the
sequences, create TEMP tables and set ``session_replication_role`` (PostgreSQL 15's GRANT SET ON PARAMETER), and
nothing else: no TRUNCATE, no ALTER, no DISABLE TRIGGER, no DDL. Migrations, ``seed_demo``/``load_demo`` and
benchmark seeding run as the *owner role* (``DATABASE_OWNER_URL``; ``manage.py`` switches to it for those commands).

What the application needs beyond row access goes through SECURITY DEFINER functions owned by the owner role
(``SECURITY_DEFINER_FUNCTIONS``). The grants are applied after every ``migrate`` (``post_migrate``) to the role
named by ``DATABASE_APP_ROLE``, and by ``manage.py db_roles``, which also creates the role.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections
from psycopg2 import sql

# Named functions the application role calls for what row privileges do not give (created by migrations).
SECURITY_DEFINER_FUNCTIONS = {
    "contributions_analyze_payment_file_lines()": (
        "ANALYZE of the payment-file line table after a large import (only its owner may run ANALYZE)."
    ),
    "consolidation_raw_create(bigint,integer)": (
        "The UNLOGGED raw table a delivered file is COPied into (data consolidation), with row access for the caller."
    ),
    "contributions_history_withdraw(bigint[])": (
        "The undo of a merge withdraws the migrated history rows that merge loaded (the table refuses DELETE otherwise)."
    ),
    "consolidation_typed_create(bigint,text)": (
        "The UNLOGGED typed table a history file's plain lines are COPied into beside its raw table (amounts numeric)."
    ),
    "consolidation_raw_drop(bigint)": "Drop a batch file's raw table (and typed table) once its batch is applied.",
    "consolidation_analyze(text)": "ANALYZE of the consolidation's raw, typed and staging tables after a load.",
    "registry_partitions_ensure(integer)": (
        "The monthly partitions ahead of the API call log, the change events and the bill lines (beat job; only the "
        "owner may CREATE)."
    ),
}


def _statements(role: str, database: str) -> list[sql.Composed]:
    r, db = sql.Identifier(role), sql.Identifier(database)
    return [
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, r),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(r),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(r),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(r),
        sql.SQL("REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {}").format(r),
        sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}").format(r),
        sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {}").format(r),
    ]


def app_role_grants_apply(*, role: str, using: str = "default") -> None:
    """Grant the application role row access to every table, sequence and function there is now (run as the
    owner role after each migration: new tables need their grant)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not role:
        return
    with connection.cursor() as cursor:
        for statement in _statements(role, connection.settings_dict["NAME"]):
            cursor.execute(statement)


def app_role_create(*, role: str, password: str = "", using: str = "default") -> list[str]:
    """Create the application role when missing (LOGIN, no superuser, no CREATEDB/CREATEROLE), grant it SET on
    ``session_replication_role`` (needs a superuser; skipped with a note otherwise) and the row grants.
    Returns what was done, for the command to print."""
    connection = connections[using]
    done: list[str] = []
    r = sql.Identifier(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT").format(r)
                + (sql.SQL(" PASSWORD {}").format(sql.Literal(password)) if password else sql.SQL(""))
            )
            done.append(f"created role {role}")
        elif password:
            cursor.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(r, sql.Literal(password)))
            done.append(f"set the password of role {role}")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            cursor.execute(sql.SQL("GRANT SET ON PARAMETER session_replication_role TO {}").format(r))
            done.append(f"granted SET ON PARAMETER session_replication_role to {role}")
        else:
            done.append(
                "not a superuser: ask one to run "
                f"GRANT SET ON PARAMETER session_replication_role TO {role}; (payment files are slower without it)"
            )
    app_role_grants_apply(role=role, using=using)
    done.append(f"granted {role} row access (DML), sequences, functions and TEMP on {connection.settings_dict['NAME']}")
    return done


def grants_after_migrate(*, app_config=None, using: str = "default", **_kwargs) -> None:
    """post_migrate (once, for registry): the configured application role gets its grants on the tables the
    migration made."""
    role = getattr(settings, "DATABASE_APP_ROLE", "")
    if role and getattr(app_config, "label", None) == "registry":
        app_role_grants_apply(role=role, using=using)
