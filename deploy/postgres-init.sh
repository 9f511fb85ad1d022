#!/usr/bin/env bash
# First start of the PostgreSQL container (docker-entrypoint-initdb.d): the two roles of docs/security.md.
#   tzsi_owner — owns the database and every table; migrations and data loads (DATABASE_OWNER_URL)
#   tzsi_app   — the web and worker processes (DATABASE_URL): no superuser, owns nothing; its row grants are given by
#                every `manage.py migrate` (post_migrate) and `manage.py db_roles`
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_password="${TZSI_OWNER_PASSWORD:?set TZSI_OWNER_PASSWORD}" \
  -v app_password="${TZSI_APP_PASSWORD:?set TZSI_APP_PASSWORD}" <<'SQL'
CREATE ROLE tzsi_owner LOGIN NOSUPERUSER NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE tzsi_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD :'app_password';
ALTER DATABASE :"DBNAME" OWNER TO tzsi_owner;
GRANT CONNECT, TEMPORARY ON DATABASE :"DBNAME" TO tzsi_app;
GRANT SET ON PARAMETER session_replication_role TO tzsi_app;
SQL
