#!/usr/bin/env bash
# Logical backup of the database and its restore into a NEW database (docs/operations.md, "Backups").
#
#   ops/db_backup.sh backup  DATABASE_URL  FILE.dump     # pg_dump, custom format, and FILE.dump.sha256 beside it
#   ops/db_backup.sh restore FILE.dump     DATABASE_URL  # checks the SHA-256, creates the database, pg_restore
#   ops/db_backup.sh verify  DATABASE_URL  DATABASE_URL  # row counts of every table and the ledger totals, compared
#
# The restore never writes into an existing database: the target must not exist (a restore drill, or the first
# step of a recovery: the application is pointed at the new database once it is checked). Roles are not in a
# database dump: the owner and application roles (manage.py db_roles) exist on the target server beforehand.
# PostgreSQL client programs are taken from PG_BIN if set (e.g. /usr/lib/postgresql/15/bin), else from PATH.
set -euo pipefail

bin() { if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN/$1"; else echo "$1"; fi; }
die() { echo "db_backup: $*" >&2; exit 2; }

# postgres://user@host:port/name → the server URL (…/postgres) and the database name.
server_of() { echo "${1%/*}/postgres"; }
name_of() { local n="${1##*/}"; echo "${n%%\?*}"; }

backup() {
  local url="$1" file="$2"
  [ -e "$file" ] && die "$file exists: a backup never overwrites another"
  # Custom format: compressed, restorable table by table, with its own table of contents; --no-owner/--no-acl
  # are decided at restore time.
  "$(bin pg_dump)" --format=custom --compress=6 --file="$file.part" "$url"
  mv "$file.part" "$file"
  (cd "$(dirname "$file")" && sha256sum "$(basename "$file")" > "$(basename "$file").sha256")
  echo "backup: $file ($(stat -c %s "$file") bytes), sha256 $(cut -d' ' -f1 "$file.sha256")"
}

restore() {
  local file="$1" url="$2" name server
  name="$(name_of "$url")" server="$(server_of "$url")"
  [ -f "$file" ] || die "no such backup: $file"
  if [ -f "$file.sha256" ]; then
    (cd "$(dirname "$file")" && sha256sum --check --quiet "$(basename "$file").sha256") || die "$file: SHA-256 does not match"
  fi
  exists="$("$(bin psql)" "$server" -XAtqc "SELECT 1 FROM pg_database WHERE datname = '$name'")"
  [ -z "$exists" ] || die "database $name exists: restore into a new database only"
  "$(bin psql)" "$server" -Xqc "CREATE DATABASE \"$name\"" >/dev/null
  # One transaction: a restore that fails leaves an empty database, never a half-restored one.
  "$(bin pg_restore)" --exit-on-error --single-transaction --dbname="$url" "$file"
  "$(bin psql)" "$url" -Xqc "ANALYZE" >/dev/null
  echo "restored: $file into $name"
}

# Every table's exact row count and the ledger totals, one line each, sorted: two databases agree when the outputs
# are equal (what the monthly restore drill and the tests compare).
figures() {
  local url="$1"
  "$(bin psql)" "$url" -XAtq -v ON_ERROR_STOP=1 <<'SQL'
CREATE TEMP TABLE _figures (item text, value text);
DO $$
DECLARE t record; n bigint;
BEGIN
  FOR t IN SELECT schemaname, tablename FROM pg_tables WHERE schemaname = 'public' LOOP
    EXECUTE format('SELECT count(*) FROM %I.%I', t.schemaname, t.tablename) INTO n;
    INSERT INTO _figures VALUES ('rows ' || t.tablename, n::text);
  END LOOP;
END $$;
INSERT INTO _figures SELECT 'ledger ' || account, SUM(amount)::text FROM funds_ledgerentry GROUP BY account;
INSERT INTO _figures SELECT 'ledger balance', COALESCE(SUM(amount), 0)::text FROM funds_ledgerentry;
INSERT INTO _figures SELECT 'payments', COALESCE(SUM(amount), 0)::text FROM contributions_payment;
INSERT INTO _figures SELECT 'allocations', COALESCE(SUM(amount), 0)::text FROM contributions_paymentallocation;
INSERT INTO _figures SELECT 'bills', COALESCE(SUM(total), 0)::text FROM contributions_bill;
SELECT item || ' ' || value FROM _figures ORDER BY item;
SQL
}

verify() {
  local a b
  a="$(figures "$1")" b="$(figures "$2")"
  if [ "$a" != "$b" ]; then
    diff <(echo "$a") <(echo "$b") >&2 || true
    die "the databases differ"
  fi
  echo "verified: $(echo "$a" | grep -c '^rows ') tables, row counts and ledger totals equal"
}

case "${1:-}" in
  backup) [ $# -eq 3 ] || die "usage: $0 backup DATABASE_URL FILE.dump"; backup "$2" "$3" ;;
  restore) [ $# -eq 3 ] || die "usage: $0 restore FILE.dump DATABASE_URL"; restore "$2" "$3" ;;
  verify) [ $# -eq 3 ] || die "usage: $0 verify DATABASE_URL DATABASE_URL"; verify "$2" "$3" ;;
  figures) [ $# -eq 2 ] || die "usage: $0 figures DATABASE_URL"; figures "$2" ;;
  *) die "usage: $0 backup|restore|verify|figures …" ;;
esac
