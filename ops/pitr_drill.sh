#!/usr/bin/env bash
# Point-in-time recovery, rehearsed end to end on a throwaway cluster (docs/operations.md, "Point-in-time recovery"):
#
#   ops/pitr_drill.sh FOLDER [PORT]
#
# 1. initdb a new cluster in FOLDER/data (never the machine's cluster), WAL archived by archive_command to FOLDER/wal;
# 2. a table with the rows "before", a base backup (pg_basebackup), more rows, a named restore point, then "the
#    mistake" (a DELETE of everything), WAL switched so it is archived;
# 3. the cluster stopped; the base backup restored into FOLDER/restore with restore_command and
#    recovery_target_name, started on the next port, promoted at the target;
# 4. the rows are those before the mistake, the mistake is not there. Prints "PITR OK" and stops what it started.
#
# Runs the PostgreSQL server programs as the postgres user (initdb refuses root). Binaries: PG_BIN, else the newest
# /usr/lib/postgresql/*/bin. Everything it starts is stopped by pg_ctl on its own data folder, also on failure.
set -euo pipefail

folder="${1:?usage: $0 FOLDER [PORT]}"
port="${2:-55432}"
restore_port=$((port + 1))
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
sql() { as_pg "$PG_BIN/psql" -h "$folder/sock" -p "$1" -d drill -XAtqv ON_ERROR_STOP=1 -c "$2"; }

mkdir -p "$folder"
folder="$(cd "$folder" && pwd)"
[ ! -e "$folder/data" ] || { echo "pitr_drill: $folder/data exists" >&2; exit 2; }
mkdir -p "$folder/wal" "$folder/sock"
[ "$(id -u)" != 0 ] || chown -R postgres: "$folder"

cleanup() {
  for d in data restore; do
    if [ -f "$folder/$d/postmaster.pid" ]; then as_pg "$PG_BIN/pg_ctl" -D "$folder/$d" -m immediate -w stop >/dev/null 2>&1 || true; fi
  done
}
trap cleanup EXIT

# 1. The cluster, archiving its WAL.
as_pg "$PG_BIN/initdb" -D "$folder/data" -A trust -U postgres >/dev/null
cat >> "$folder/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$folder/sock'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $folder/wal/%f && cp %p $folder/wal/%f'
archive_timeout = 60
CONF
as_pg "$PG_BIN/pg_ctl" -D "$folder/data" -l "$folder/data.log" -w start >/dev/null
as_pg "$PG_BIN/psql" -h "$folder/sock" -p "$port" -d postgres -Xqc "CREATE DATABASE drill" >/dev/null

# 2. Rows, the base backup, more rows, the restore point, the mistake.
sql "$port" "CREATE TABLE ledger (id serial PRIMARY KEY, amount numeric(14,2) NOT NULL)"
sql "$port" "INSERT INTO ledger (amount) SELECT 10.00 FROM generate_series(1, 100)"
as_pg "$PG_BIN/pg_basebackup" -h "$folder/sock" -p "$port" -U postgres -D "$folder/base" -X stream -c fast
sql "$port" "INSERT INTO ledger (amount) SELECT 1.50 FROM generate_series(1, 40)"
expected="$(sql "$port" "SELECT count(*) || ' ' || sum(amount) FROM ledger")"
sql "$port" "SELECT pg_create_restore_point('before_the_mistake')" >/dev/null
sql "$port" "DELETE FROM ledger"
sql "$port" "SELECT pg_switch_wal()" >/dev/null
# Wait until the segment with the mistake is archived (the archiver runs asynchronously).
for _ in $(seq 1 60); do
  [ "$(sql "$port" "SELECT last_failed_wal IS NULL AND archived_count > 0 AND last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1) FROM pg_stat_archiver")" = t ] && break
  sleep 0.5
done
as_pg "$PG_BIN/pg_ctl" -D "$folder/data" -m fast -w stop >/dev/null

# 3. Restore the base backup and replay the archive up to the restore point.
cp -a "$folder/base" "$folder/restore"
sed -i "s/^port = .*/port = $restore_port/" "$folder/restore/postgresql.conf"
cat >> "$folder/restore/postgresql.conf" <<CONF
port = $restore_port
archive_mode = off
restore_command = 'cp $folder/wal/%f %p'
recovery_target_name = 'before_the_mistake'
recovery_target_action = 'promote'
CONF
as_pg touch "$folder/restore/recovery.signal"
as_pg "$PG_BIN/pg_ctl" -D "$folder/restore" -l "$folder/restore.log" -w -t 120 start >/dev/null
for _ in $(seq 1 120); do
  [ "$(sql "$restore_port" "SELECT pg_is_in_recovery()")" = f ] && break
  sleep 0.5
done

# 4. The rows before the mistake, and nothing after.
got="$(sql "$restore_port" "SELECT count(*) || ' ' || sum(amount) FROM ledger")"
echo "before the mistake: $expected; recovered: $got"
[ "$got" = "$expected" ] || { echo "pitr_drill: recovered $got, expected $expected" >&2; exit 1; }
echo "PITR OK"
