"""Set-based writes into the registry for bulk loaders (the data consolidation, issue 19). PostgreSQL only.

A loader hands in a ``SELECT`` yielding the columns below, in that order, already checked (normalised ID
numbers and credit codes, derived sex, birth date and pinyin, offices in range). These functions own what the
registry adds to every write: the change-feed events of the new rows, and for enrollments the no-overlap rule.

``triggers_off``: PostgreSQL's per-row foreign-key triggers (and the enrollment no-overlap statement trigger) are
switched off for the INSERT (``session_replication_role = replica``, allowed to superusers or, on PostgreSQL 15+,
to roles granted SET on that parameter; see ``row_triggers_off_allowed``). The caller then guarantees the keys:
the rows it points at are locked FOR KEY SHARE (``rows_lock_key_share``) or were written in its transaction.
The no-overlap rule is then checked here, set-based, under the trigger's own advisory locks.
"""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.db.models.expressions import RawSQL

from registry.feed.changes import change_events_record
from registry.locks import AdvisoryLock, advisory_xact_lock_range
from registry.models import ChangeEvent, Employer, Enrollment, Person

PERSON_INSERT_COLUMNS = (
    "uid", "id_number", "name", "name_pinyin", "name_initials", "sex", "birth_date", "household_type", "phone",
    "address", "residence_office_id", "card_number", "card_status", "created_at", "updated_at",
)  # fmt: skip
EMPLOYER_INSERT_COLUMNS = (
    "uid", "credit_code", "name", "name_pinyin", "employer_type", "industry", "risk_class", "office_id", "status",
    "created_at", "updated_at",
)  # fmt: skip
ENROLLMENT_INSERT_COLUMNS = (
    "uid", "person_id", "insurance_type", "employer_id", "is_flexible", "start_date", "end_date", "office_id",
    "created_at", "updated_at",
)  # fmt: skip

# The bucket count of the enrollment no-overlap trigger (migration 0010; its locks: registry.locks).
_OVERLAP_BUCKETS = 256
# INSERT triggers replica mode may silence on these tables: the change feed's txid stamp (change_events_record
# writes it itself) and the no-overlap triggers (checked here instead).
_SILENCEABLE = ("change_event_txid", "enrollment_no_overlap_insert", "enrollment_no_overlap_update")


def row_triggers_off_allowed(tables: tuple[str, ...]) -> bool:
    """May a bulk writer switch per-row triggers off for INSERTs into ``tables`` (and the change feed)?

    Only on PostgreSQL, only when the database user may set ``session_replication_role``, and only while the
    tables carry no INSERT trigger of their own that replica mode would silence (but those handled here).
    """
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        # Triggers enabled ALWAYS (the immutability checks) fire in replica mode too: nothing is silenced there.
        cur.execute(
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = ANY(%s::regclass[]) "
            "AND tgtype & 4 <> 0 AND tgenabled <> 'A' AND tgname <> ALL(%s)",
            [[*tables, ChangeEvent._meta.db_table], list(_SILENCEABLE)],
        )
        if cur.fetchone()[0]:
            return False
        cur.execute("SELECT current_setting('is_superuser') = 'on', current_setting('server_version_num')::int")
        superuser, version = cur.fetchone()
        if superuser:
            return True
        if version < 150000:
            return False
        cur.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
        return bool(cur.fetchone()[0])


def row_triggers(*, on: bool) -> None:
    """``SET LOCAL session_replication_role``: a rollback restores it too."""
    with connection.cursor() as cur:
        cur.execute(f"SET LOCAL session_replication_role = {'origin' if on else 'replica'}")


# The rows this transaction wrote through the functions below need no lock (no one else can see them yet):
# locking a million new persons would write a lock into each of them.
_WRITTEN_HERE = {Person._meta.db_table: "bulk_new_persons", Employer._meta.db_table: "bulk_new_employers"}


def rows_lock_key_share(*, table: str, ids_sql: str, params: list | tuple = ()) -> None:
    """Lock the rows of ``table`` whose ids ``ids_sql`` yields FOR KEY SHARE (they cannot be deleted until
    commit; ordinary updates go on) and fail when one of them is gone: what the FK triggers would check."""
    with connection.cursor() as cur:
        written = _WRITTEN_HERE.get(table)
        skip = ""
        if written:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", [f"pg_temp.{written}"])
            if cur.fetchone()[0]:
                skip = f" AND k NOT IN (SELECT id FROM {written})"
        cur.execute(
            f"""
            SELECT (SELECT count(*) FROM (SELECT 1 FROM {table}
                                          WHERE id IN (SELECT k FROM ({ids_sql}) s(k) WHERE true {skip})
                                          ORDER BY id FOR KEY SHARE) locked),
                   (SELECT count(DISTINCT k) FROM ({ids_sql}) s(k) WHERE k IS NOT NULL {skip})
            """,
            [*params, *params],
        )
        locked, expected = cur.fetchone()
    if locked != expected:
        raise DatabaseError(f"{expected - locked} rows of {table} referenced by the load no longer exist")


def _insert(table: str, columns: tuple[str, ...], select_sql: str, params: list | tuple, new_ids: str) -> int:
    """INSERT … SELECT; the new ids go into the temporary table ``new_ids`` (dropped at commit)."""
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS pg_temp.{new_ids}")
        cur.execute(f"CREATE TEMP TABLE {new_ids} (id bigint PRIMARY KEY) ON COMMIT DROP")
        cur.execute(
            f"WITH ins AS (INSERT INTO {table} ({', '.join(columns)}) {select_sql} RETURNING id) "
            f"INSERT INTO {new_ids} SELECT id FROM ins",
            params,
        )
        count = cur.rowcount
        cur.execute(f"ANALYZE {new_ids}")
    return count


def persons_insert_select(*, select_sql: str, params: dict | list | tuple = (), triggers_off: bool = False) -> int:
    """INSERT of the persons <select_sql> yields (PERSON_INSERT_COLUMNS), with the change-feed events; returns
    the number of persons written. Their ids are in the temporary table ``bulk_new_persons`` until commit."""
    if triggers_off:
        row_triggers(on=False)
    count = _insert(Person._meta.db_table, PERSON_INSERT_COLUMNS, select_sql, params, "bulk_new_persons")
    if count:
        change_events_record(
            change_type="person", queryset=Person.objects.filter(pk__in=RawSQL("SELECT id FROM bulk_new_persons", []))
        )
    if triggers_off:
        row_triggers(on=True)
    return count


def employers_insert_select(*, select_sql: str, params: dict | list | tuple = (), triggers_off: bool = False) -> int:
    """INSERT of the employers <select_sql> yields (EMPLOYER_INSERT_COLUMNS), with the change-feed events.
    The new ids are in ``bulk_new_employers`` until commit."""
    if triggers_off:
        row_triggers(on=False)
    count = _insert(Employer._meta.db_table, EMPLOYER_INSERT_COLUMNS, select_sql, params, "bulk_new_employers")
    if count:
        change_events_record(
            change_type="employer",
            queryset=Employer.objects.filter(pk__in=RawSQL("SELECT id FROM bulk_new_employers", [])),
        )
    if triggers_off:
        row_triggers(on=True)
    return count


# Consecutive enrollments of one person and type, sorted by start date, overlap exactly when any two do.
_OVERLAP_CHECK_SQL = """
SELECT count(*) FROM (
    SELECT e.end_date,
           lead(e.start_date) OVER (PARTITION BY e.person_id, e.insurance_type ORDER BY e.start_date, e.id) AS next
    FROM {enrollment} e
    WHERE e.person_id IN (SELECT n.person_id FROM {enrollment} n WHERE n.id IN (SELECT id FROM bulk_new_enrollments))
) pairs
WHERE next IS NOT NULL AND (end_date IS NULL OR end_date >= next)
"""


def enrollments_insert_select(*, select_sql: str, params: dict | list | tuple = (), triggers_off: bool = False) -> int:
    """INSERT of the enrollments <select_sql> yields (ENROLLMENT_INSERT_COLUMNS), with the change-feed events.

    The caller leaves out rows that would overlap (an overlap fails the whole statement, SQLSTATE 23P01, as the
    trigger does). With ``triggers_off`` the no-overlap rule is checked here: every bucket lock of the trigger
    is taken first (concurrent enrollment writers wait for this transaction), then the new rows' persons are
    checked in one sorted pass. The new ids are in ``bulk_new_enrollments`` until commit.
    """
    if triggers_off:
        with connection.cursor() as cur:
            advisory_xact_lock_range(cur, AdvisoryLock.ENROLLMENT_OVERLAP, range(_OVERLAP_BUCKETS))
        row_triggers(on=False)
    count = _insert(Enrollment._meta.db_table, ENROLLMENT_INSERT_COLUMNS, select_sql, params, "bulk_new_enrollments")
    if count:
        change_events_record(
            change_type="enrollment",
            queryset=Enrollment.objects.filter(pk__in=RawSQL("SELECT id FROM bulk_new_enrollments", [])),
        )
    if triggers_off:
        row_triggers(on=True)
        if count:
            with connection.cursor() as cur:
                cur.execute(_OVERLAP_CHECK_SQL.format(enrollment=Enrollment._meta.db_table))
                overlapping = cur.fetchone()[0]
            if overlapping:
                raise DatabaseError(
                    f'conflicting key value violates exclusion constraint "enrollment_no_overlap": '
                    f"{overlapping} new enrollments overlap another of the same person and type"
                )
    return count
