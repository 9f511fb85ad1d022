"""到账文件: the collecting agency's payment file, imported set-based (layout: docs/exchange-files.md).

1. The upload is checked as a whole (type, encoding, columns) and stored with its SHA-256; the same
   bytes are imported once (a second upload returns the first import and changes nothing).
2. Its lines are loaded into a staging table (COPY on PostgreSQL, batched INSERT on SQLite) and
   checked in one ``INSERT … SELECT`` into ``PaymentFileLine``: formats, amounts, periods, dates,
   duplicate references within the file, references already recorded differently, unknown payers and
   payers outside the uploader's jurisdiction — each bad line gets a problem code, shown with its line
   number. **Strict** mode: any bad line rejects the file whole and nothing is written (the file record
   keeps the report). **Skip-bad** mode (an administrator's choice): the good lines are recorded and
   the bad lines are kept for correction (``payment_file_line_correct`` records a corrected line through
   ``payment_record``, the API's path).
3. Payments are recorded exactly as ``payment_record`` records them — one per agency reference, a
   reference already recorded with the same payer and amount is not recorded again, allocated to the
   payer's open bill insurances oldest bill first and then in ``INSURANCE_ORDER``, the rest to credit —
   but for all payers at once: FIFO matching by interval overlap. Per payer, payment *i* (in line order)
   covers [P(i-1), P(i)) of the running sum of its payments, open item *j* (in allocation order) needs
   [B(j-1), B(j)) of the running sum of open amounts; the allocation is the overlap, computed with
   window functions and one join. Money is handled in integer fen.
4. The reconciliation per payer and period (matched, unknown payer, billed but unpaid, amount mismatch)
   is computed in SQL and stored, with a summary per office and category.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from contributions.exchange.layout import payer_type_normalize, payment_file_open
from contributions.exchange.problems import line_problem_text
from contributions.models import (
    INSURANCE_ORDER,
    PAYMENT_FILE_LIVE,
    Channel,
    LineStatus,
    Payment,
    PaymentFile,
    PaymentFileLine,
    PaymentFileMode,
    PaymentFileStatus,
    ReconciliationItem,
    ReconciliationSummary,
)
from contributions.periods import period_parse
from contributions.services.payments import payment_record
from contributions.uploads import UploadError
from registry.audit import recorded_user
from registry.feed.changes import change_events_record
from registry.identifiers import credit_code_normalize, id_number_normalize
from registry.jurisdiction import office_in_jurisdiction, user_office, user_sees_everything
from registry.locks import ALL_FILES, AdvisoryLock, advisory_xact_lock
from registry.models import Employer, Office, OfficeLevel, Person
from registry.task_queue import task_enqueue_on_commit

SYNC_MAX_BYTES = 8 * 1024 * 1024  # larger files are imported by a Celery worker (a web request would time out)
REPORT_MAX_LINES = 1000  # messages kept in a rejection report; the counts are always complete
COPY_CHUNK = 100_000
ANALYZE_MIN_LINES = 10_000  # a smaller file does not change the line table's statistics enough to matter
_PAID = ("new", "repeat", "corrected")  # line statuses whose payment this file reports
_USCC_RE = "^[0-9A-HJ-NPQRTUWXY]{18}$"
_ID_RE = "^[0-9]{17}[0-9X]$"


class _Rejected(Exception):
    def __init__(self, report: dict[str, Any]):
        super().__init__("rejected")
        self.report = report


@dataclass(frozen=True)
class LineCounts:
    lines: int
    new: int
    repeat: int
    duplicate: int
    bad: int
    new_amount: Decimal
    bad_amount: Decimal


def _d() -> dict[str, str]:
    if connection.vendor == "postgresql":
        return {
            "re": "~",
            "num": "NUMERIC",
            "int": "BIGINT",
            "greatest": "GREATEST",
            "least": "LEAST",
            "uuid": "gen_random_uuid()",
            "json": "CAST(json_build_object({args}) AS jsonb)",
            "temp": "CREATE TEMP TABLE {name} ON COMMIT DROP AS",
            # Keeps the planner from pulling a subquery up into its parent, which would copy each of the
            # subquery's expressions into every place the parent uses them (the line checks ran four times).
            "fence": "OFFSET 0",
        }
    return {
        "re": "REGEXP",
        "num": "REAL",
        "int": "INTEGER",
        "greatest": "MAX",
        "least": "MIN",
        "uuid": "lower(hex(randomblob(16)))",
        "json": "json_object({args})",
        "temp": "CREATE TEMP TABLE {name} AS",
        "fence": "",
    }


def _fen(expr: str) -> str:
    return f"CAST(ROUND({expr} * 100) AS {_d()['int']})"


def _dt(value: datetime.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _drop(cur, *names: str) -> None:
    for name in names:
        cur.execute(f"DROP TABLE IF EXISTS {'pg_temp' if connection.vendor == 'postgresql' else 'temp'}.{name}")


def _analyze(cur, name: str) -> None:
    # Temporary tables get no statistics from autovacuum; without them the planner guesses badly at this size.
    if connection.vendor == "postgresql":
        cur.execute(f"ANALYZE {name}")


# The tables a payment file bulk-writes with PostgreSQL's per-row foreign-key triggers switched off (see
# _row_triggers).
_BULK_TABLES = (
    "contributions_paymentfileline",
    "contributions_payment",
    "contributions_paymentallocation",
    "registry_changeevent",
)
# The one INSERT trigger replica mode may silence: change_events_record writes the txid it would stamp.
_SILENCEABLE_TRIGGERS = ("change_event_txid",)


def _row_triggers_off_allowed(cur) -> bool:
    """May this import write its lines, payments, allocations and change events without per-row FK triggers?

    Only on PostgreSQL, only when the database user may set ``session_replication_role`` (a superuser, or on
    PostgreSQL 15+ ``GRANT SET ON PARAMETER session_replication_role``), and only while those tables carry no
    INSERT trigger of their own that replica mode would silence (but the change events' txid stamp, which
    ``change_events_record`` writes itself). Otherwise the triggers simply run.
    """
    if connection.vendor != "postgresql":
        return False
    # Triggers enabled ALWAYS (the immutability triggers) are not silenced by replica mode: they do not count.
    cur.execute(
        "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = ANY(%s::regclass[]) AND tgtype & 4 <> 0 "
        "AND tgenabled <> 'A' AND tgname <> ALL(%s)",
        [list(_BULK_TABLES), list(_SILENCEABLE_TRIGGERS)],
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


def _row_triggers(cur, *, on: bool) -> None:
    """Switch the per-row triggers of this transaction's writes off (replica) or back on (origin).

    A million-line file writes about four million rows whose foreign keys PostgreSQL would otherwise check one
    by one at COMMIT (80 s of a 290 s import). Every key these writes carry is safe without that check: the
    file row is locked by this import; payers are locked FOR UPDATE before their payments are written, and
    the offices of the payments (and of their change events) and the uploader's user row FOR KEY SHARE
    (``_lock_payers`` fails the import when one of them has gone meanwhile); allocations point at payments of
    this transaction and at issued bills, which a trigger keeps from being changed or deleted.
    Called only when ``_row_triggers_off_allowed``. ``SET LOCAL``: a rollback restores the setting too.
    """
    cur.execute(f"SET LOCAL session_replication_role = {'origin' if on else 'replica'}")


def _lock_payers(cur, payment_file: PaymentFile) -> None:
    """Lock every payer of the file's new lines FOR UPDATE (as the API path locks its one payer), and their
    offices and the uploader's user row FOR KEY SHARE; fail when one of them is no longer there.

    Runs before anything that points at them is written: the triggers-off path relies on these locks (and on
    this count) in place of the per-row foreign-key checks.
    """
    rows = (
        ("registry_employer", "employer_id", "FOR UPDATE", "payers"),
        ("registry_person", "person_id", "FOR UPDATE", "payers"),
        ("registry_office", "office_id", "FOR KEY SHARE", "offices"),
    )
    for table, column, lock, what in rows:
        cur.execute(
            f"""
            SELECT
              (SELECT COUNT(*) FROM (
                  SELECT 1 FROM {table} WHERE id IN (
                      SELECT {column} FROM contributions_paymentfileline
                      WHERE payment_file_id = %(file)s AND status = 'new' AND {column} IS NOT NULL)
                  ORDER BY id {lock}) locked),
              (SELECT COUNT(DISTINCT {column}) FROM contributions_paymentfileline
               WHERE payment_file_id = %(file)s AND status = 'new' AND {column} IS NOT NULL)
            """,
            {"file": payment_file.pk},
        )
        locked, expected = cur.fetchone()
        if locked != expected:
            raise DatabaseError(f"{expected - locked} {what} of payment file {payment_file.pk} no longer exist")
    if payment_file.uploaded_by_id:
        cur.execute("SELECT 1 FROM registry_user WHERE id = %s FOR KEY SHARE", [payment_file.uploaded_by_id])
        if cur.fetchone() is None:
            raise DatabaseError(f"the uploader of payment file {payment_file.pk} no longer exists")


def _scope_path(user: Any) -> str:
    if user_sees_everything(user):
        return "/"
    office = user_office(user)
    return office.path if office is not None else "\x00"  # matches nothing


# ---------------------------------------------------------------------------------------------
# Upload.


def payment_file_upload(
    *, name: str, data: bytes, mode: str, acting_user: Any, channel: str = Channel.FILE
) -> tuple[PaymentFile, bool]:
    """Take an uploaded payment file. Returns (file, created): ``created`` is False when the same bytes were
    imported before — the earlier import is returned and nothing changes.

    Small files are imported at once (the returned file carries the report); a file over
    ``SYNC_MAX_BYTES`` is queued for a worker (status ``queued``). Raises ValidationError for a file that
    cannot be read as a whole (type, encoding, columns) and for a mode the user may not choose.
    """
    if mode not in PaymentFileMode.values:
        raise ValidationError({"mode": _("导入方式“%(mode)s”无效。") % {"mode": mode}})
    if mode == PaymentFileMode.SKIP_BAD and not acting_user.has_perm("contributions.import_skip_bad"):
        raise ValidationError({"mode": _("只有管理员可以选择“跳过错误行”导入；请按严格方式导入。")})
    name = (name or "").strip()[-200:] or "payment-file.csv"
    try:
        payment_file_open(name, data)  # the header: a file that cannot be read is refused before anything is stored
    except UploadError as exc:
        raise ValidationError({"file": str(exc)}) from None
    digest = hashlib.sha256(data).hexdigest()
    existing = PaymentFile.objects.filter(sha256=digest, status__in=PAYMENT_FILE_LIVE).first()
    if existing is not None:
        return existing, False
    office = user_office(acting_user) or Office.objects.get(level=OfficeLevel.CITY)
    payment_file = PaymentFile(
        name=name,
        sha256=digest,
        size=len(data),
        office=office,
        mode=mode,
        channel=channel,
        uploaded_by=recorded_user(acting_user),
    )
    payment_file.full_clean(exclude=["file"], validate_constraints=False)
    try:
        with transaction.atomic():
            payment_file.save()
            stored = default_storage.save(
                f"exchange/payments/{timezone.localdate():%Y/%m}/{payment_file.uid}.{_suffix(name)}", ContentFile(data)
            )
            PaymentFile.objects.filter(pk=payment_file.pk).update(file=stored)
            payment_file.file.name = stored
    except IntegrityError:
        # The same bytes uploaded at the same moment by someone else: theirs is the import.
        return PaymentFile.objects.get(sha256=digest, status__in=PAYMENT_FILE_LIVE), False
    if len(data) <= SYNC_MAX_BYTES:
        return payment_file_process(payment_file_id=payment_file.pk, data=data), True
    task_enqueue_on_commit("contributions.payment_file_process", payment_file.pk)
    return payment_file, True


def _suffix(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else "csv"
    return suffix if re.fullmatch(r"[a-z0-9]{1,5}", suffix) else "csv"


# ---------------------------------------------------------------------------------------------
# Import.


def payment_file_process(*, payment_file_id: int, data: bytes | None = None) -> PaymentFile:
    """Import a queued payment file (idempotent: a file no longer queued is returned as it is).

    One transaction: lines, payments, allocations, reconciliation and change-feed events commit together.
    A strict file with bad lines is rolled back and marked rejected with its report.
    """
    started = time.perf_counter()
    payment_file = PaymentFile.objects.select_related("office", "uploaded_by").get(pk=payment_file_id)
    if payment_file.status != PaymentFileStatus.QUEUED:
        return payment_file
    try:
        with transaction.atomic():
            locked = PaymentFile.objects.select_for_update().get(pk=payment_file.pk)
            if locked.status != PaymentFileStatus.QUEUED:
                return locked
            triggers_off = False
            if connection.vendor == "postgresql":
                with connection.cursor() as cur:
                    advisory_xact_lock(cur, AdvisoryLock.PAYMENT_FILE, ALL_FILES)  # one payment file at a time
                    # Hash joins and window sorts over a million lines: memory for this transaction only.
                    cur.execute("SET LOCAL work_mem = '256MB'")
                    triggers_off = _row_triggers_off_allowed(cur)
            if data is None:
                with payment_file.file.open("rb") as handle:
                    data = handle.read()
            timings: dict[str, float] = {}
            mark = time.perf_counter()

            def lap(name: str) -> None:
                nonlocal mark
                now = time.perf_counter()
                timings[name] = round(now - mark, 3)
                mark = now

            counts = _load_lines(payment_file, data, triggers_off=triggers_off)
            lap("load_and_check")
            if counts.bad and payment_file.mode == PaymentFileMode.STRICT:
                raise _Rejected({**_report(payment_file, counts), "timings": timings})
            periods = _periods(payment_file)
            _due_create(payment_file, periods=periods)
            lap("reconciliation_due")
            credit = _record_payments(payment_file, triggers_off=triggers_off)
            lap("payments_and_allocations")
            _reconcile(payment_file, periods=periods, due_ready=True)
            lap("reconciliation")
            _record_payment_events(triggers_off=triggers_off)
            lap("change_events")
            report = _report(payment_file, counts) if counts.bad else {}
            PaymentFile.objects.filter(pk=payment_file.pk).update(
                status=PaymentFileStatus.PENDING_LINES if counts.bad else PaymentFileStatus.IMPORTED,
                line_count=counts.lines,
                imported_count=counts.new,
                repeat_count=counts.repeat + counts.duplicate,
                bad_count=counts.bad,
                open_bad_count=counts.bad,
                imported_amount=counts.new_amount,
                credit_amount=credit,
                bad_amount=counts.bad_amount,
                periods=periods,
                report={**report, "timings": timings},
                finished_at=timezone.now(),
                seconds=round(time.perf_counter() - started, 3),
            )
    except _Rejected as rejected:
        PaymentFile.objects.filter(pk=payment_file.pk).update(
            status=PaymentFileStatus.REJECTED,
            line_count=rejected.report["lines"],
            bad_count=rejected.report["bad"],
            report=rejected.report,
            finished_at=timezone.now(),
            seconds=round(time.perf_counter() - started, 3),
        )
    except UploadError as exc:
        PaymentFile.objects.filter(pk=payment_file.pk).update(
            status=PaymentFileStatus.FAILED, error=str(exc), finished_at=timezone.now()
        )
    except DatabaseError as exc:
        # E.g. the API recorded one of the file's references while the file was being imported: nothing of the
        # file was written; it can simply be uploaded again (a failed file does not count as imported).
        PaymentFile.objects.filter(pk=payment_file.pk).update(
            status=PaymentFileStatus.FAILED,
            error=_("导入时数据库报错，本文件未写入任何到账，请重新上传：%(error)s") % {"error": str(exc)[:500]},
            finished_at=timezone.now(),
        )
    payment_file.refresh_from_db()
    return payment_file


def _report(payment_file: PaymentFile, counts: LineCounts) -> dict[str, Any]:
    bad = list(
        PaymentFileLine.objects.filter(payment_file=payment_file, status=LineStatus.BAD)
        .order_by("line_no")
        .values_list("line_no", "problem_code", "problem_detail")[:REPORT_MAX_LINES]
    )
    return {
        "lines": counts.lines,
        "bad": counts.bad,
        "shown": len(bad),
        "problems": [
            {"line": line, "code": code, "detail": detail, "message": line_problem_text(line, code, detail)}
            for line, code, detail in bad
        ],
    }


def _stage_create(cur) -> None:
    _drop(cur, "pf_stage")
    temp = "CREATE TEMP TABLE pf_stage ({cols})" + (" ON COMMIT DROP" if connection.vendor == "postgresql" else "")
    cur.execute(
        temp.format(
            cols="line_no integer, reference text, payer_type text, payer_code text, payer_name text, "
            "period text, amount text, paid_on date, paid_on_raw text, cell_problem text"
        )
    )


def _stage_fill(cur, lines) -> int:
    """Load the lines into the staging table in chunks; returns how many."""
    count = 0
    if connection.vendor == "postgresql":
        raw = cur.cursor  # psycopg2's own cursor, for COPY
        sql = (
            "COPY pf_stage FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (reference, payer_type, payer_code, "
            "payer_name, period, amount, paid_on_raw, cell_problem))"
        )
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for line in lines:
            writer.writerow(line)
            count += 1
            if count % COPY_CHUNK == 0:
                buffer.seek(0)
                raw.copy_expert(sql, buffer)
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
        buffer.seek(0)
        raw.copy_expert(sql, buffer)
        return count
    batch: list[tuple] = []
    insert = "INSERT INTO pf_stage VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    for line in lines:
        batch.append(line)
        count += 1
        if len(batch) >= 5000:
            cur.executemany(insert, batch)
            batch = []
    if batch:
        cur.executemany(insert, batch)
    return count


def _load_lines(payment_file: PaymentFile, data: bytes, *, triggers_off: bool = False) -> LineCounts:
    """Staging table, then every line checked and written to PaymentFileLine in one INSERT … SELECT."""
    table = payment_file_open(payment_file.name, data)
    d = _d()
    rx = d["re"]
    amount_ok = r"^[0-9]{1,12}(\.[0-9]{0,2}0*)?$"
    today = timezone.localdate()
    with connection.cursor() as cur:
        _stage_create(cur)
        staged = _stage_fill(cur, table.lines)
        if not staged:
            raise UploadError(_("文件只有列名，没有数据行。"))
        _analyze(cur, "pf_stage")
        as_number = "CAST(s.amount AS " + d["num"] + ")"
        fen = f"CASE WHEN s.amount {rx} %s THEN {_fen(as_number)} END"
        raw_json = d["json"].format(
            args="'reference', y.reference, 'payer_type', y.payer_type, 'payer_code', y.payer_code, "
            "'payer_name', y.payer_name, 'period', y.period_text, 'amount', y.amount_text, 'paid_on', y.paid_on_raw"
        )
        if triggers_off:
            _row_triggers(cur, on=False)  # the lines' one key is the file, locked by this import
        cur.execute(
            f"""
            INSERT INTO contributions_paymentfileline (payment_file_id, line_no, reference, payer_type, payer_code,
                payer_name, period, amount, paid_on, raw, employer_id, person_id, office_id, status, problem_code,
                problem_detail, corrected_by_id, corrected_at)
            SELECT %s, y.line_no, substr(y.reference, 1, 64), substr(y.payer_type, 1, 8), substr(y.payer_code, 1, 40),
                substr(y.payer_name, 1, 200), y.period_int, y.fen / 100.0, y.paid_on,
                CASE WHEN y.problem IS NOT NULL THEN {raw_json} END,
                y.employer_id, y.person_id, y.office_id,
                CASE WHEN y.problem IS NOT NULL THEN 'bad'
                     WHEN y.existing_id IS NOT NULL THEN 'repeat'
                     WHEN y.dup_first IS NOT NULL AND y.line_no > y.dup_first THEN 'duplicate'
                     ELSE 'new' END,
                COALESCE(y.problem, ''),
                substr(CASE y.problem
                    WHEN 'cell' THEN y.cell_problem
                    WHEN 'reference_long' THEN y.reference
                    WHEN 'payer_type' THEN y.payer_type
                    WHEN 'payer_code_format' THEN y.payer_type || '|' || y.payer_code
                    WHEN 'amount_format' THEN y.amount_text
                    WHEN 'amount_not_positive' THEN y.amount_text
                    WHEN 'amount_decimals' THEN y.amount_text
                    WHEN 'amount_too_large' THEN y.amount_text
                    WHEN 'period' THEN y.period_text
                    WHEN 'paid_on' THEN y.paid_on_raw
                    WHEN 'paid_on_future' THEN y.paid_on_raw
                    WHEN 'duplicate_in_file' THEN y.reference || '|' || y.dup_first || '|' || y.dup_n
                    WHEN 'reference_conflict' THEN y.reference || '|' || y.existing_amount
                    WHEN 'unknown_payer' THEN y.payer_type || '|' || y.payer_code
                    WHEN 'out_of_jurisdiction' THEN y.payer_type || '|' || y.payer_code
                    ELSE '' END, 1, 200),
                NULL, NULL
            FROM (
                SELECT x.*,
                    CASE
                        WHEN x.cell_problem <> '' THEN 'cell'
                        WHEN x.reference = '' THEN 'reference_missing'
                        WHEN length(x.reference) > 64 THEN 'reference_long'
                        WHEN x.payer_type NOT IN ('employer', 'person') THEN 'payer_type'
                        WHEN x.code_ok = 0 THEN 'payer_code_format'
                        WHEN NOT (x.amount_text {rx} %s) THEN 'amount_format'
                        WHEN x.amount_text {rx} %s THEN 'amount_not_positive'
                        WHEN NOT (x.amount_text {rx} %s) THEN 'amount_decimals'
                        WHEN x.fen IS NULL THEN 'amount_too_large'
                        WHEN x.period_int IS NULL THEN 'period'
                        WHEN x.paid_on IS NULL THEN 'paid_on'
                        WHEN x.paid_on > %s THEN 'paid_on_future'
                        WHEN x.dup_variants > 1 THEN 'duplicate_in_file'
                        WHEN x.employer_id IS NULL AND x.person_id IS NULL THEN 'unknown_payer'
                        WHEN NOT (x.office_path LIKE %s) THEN 'out_of_jurisdiction'
                        WHEN x.existing_id IS NOT NULL AND (x.existing_fen <> x.fen
                             OR COALESCE(x.existing_employer, 0) <> COALESCE(x.employer_id, 0)
                             OR COALESCE(x.existing_person, 0) <> COALESCE(x.person_id, 0)) THEN 'reference_conflict'
                    END AS problem
                FROM (
                    SELECT s.line_no, s.reference, s.payer_type, s.payer_code, s.payer_name, s.period AS period_text,
                        s.amount AS amount_text, s.paid_on, s.paid_on_raw, s.cell_problem,
                        CASE WHEN (s.payer_type = 'employer' AND s.payer_code {rx} %s)
                                  OR (s.payer_type = 'person' AND s.payer_code {rx} %s) THEN 1 ELSE 0 END AS code_ok,
                        {fen} AS fen,
                        CASE WHEN s.period {rx} %s THEN CAST(s.period AS INTEGER) END AS period_int,
                        e.id AS employer_id, p.id AS person_id, o.id AS office_id, o.path AS office_path,
                        pay.id AS existing_id, {_fen("pay.amount")} AS existing_fen, pay.amount AS existing_amount,
                        pay.employer_id AS existing_employer, pay.person_id AS existing_person,
                        dup.n AS dup_n, dup.first_line AS dup_first, dup.variants AS dup_variants
                    FROM pf_stage s
                    LEFT JOIN registry_employer e ON s.payer_type = 'employer' AND e.credit_code = s.payer_code
                    LEFT JOIN registry_person p ON s.payer_type = 'person' AND p.id_number = s.payer_code
                    LEFT JOIN registry_office o ON o.id = COALESCE(e.office_id, p.residence_office_id)
                    LEFT JOIN contributions_payment pay ON pay.agency_reference = s.reference
                    LEFT JOIN (
                        SELECT s.reference, COUNT(*) AS n, MIN(s.line_no) AS first_line,
                            COUNT(DISTINCT s.payer_type || '|' || s.payer_code || '|' || COALESCE(CAST({fen} AS TEXT), s.amount))
                                AS variants
                        FROM pf_stage s
                        WHERE s.reference IN (SELECT reference FROM pf_stage GROUP BY reference HAVING COUNT(*) > 1)
                        GROUP BY s.reference
                    ) dup ON dup.reference = s.reference
                    {d["fence"]}
                ) x
                {d["fence"]}
            ) y
            """,
            [
                payment_file.pk,
                r"^-?[0-9]+(\.[0-9]+)?$",
                r"^(-|0+(\.0+)?$)",
                r"^-?[0-9]+(\.[0-9]{0,2}0*)?$",
                today,
                _scope_path(payment_file.uploaded_by) + "%",
                _USCC_RE,
                _ID_RE,
                amount_ok,
                r"^20[0-9]{2}(0[1-9]|1[0-2])$",
                amount_ok,
            ],
        )
        if triggers_off:
            _row_triggers(cur, on=True)
        _drop(cur, "pf_stage")
        if staged >= ANALYZE_MIN_LINES and connection.vendor == "postgresql":
            # The statistics otherwise still describe the table without this file's lines (autovacuum cannot
            # see them before COMMIT): the planner took a million lines for six and joined the wrong way round.
            # The application role owns no table: a SECURITY DEFINER function of the owner runs the ANALYZE.
            cur.execute("SELECT contributions_analyze_payment_file_lines()")
        cur.execute(
            """
            SELECT status, COUNT(*), SUM(amount) FROM contributions_paymentfileline
            WHERE payment_file_id = %s GROUP BY status
            """,
            [payment_file.pk],
        )
        by_status = {status: (n, Decimal(str(total or 0)).quantize(Decimal("0.01"))) for status, n, total in cur}
    zero = (0, Decimal("0.00"))
    return LineCounts(
        lines=sum(n for n, _total in by_status.values()),
        new=by_status.get("new", zero)[0],
        repeat=by_status.get("repeat", zero)[0],
        duplicate=by_status.get("duplicate", zero)[0],
        bad=by_status.get("bad", zero)[0],
        new_amount=by_status.get("new", zero)[1],
        bad_amount=by_status.get("bad", zero)[1],
    )


def _periods(payment_file: PaymentFile) -> list[int]:
    return sorted(
        PaymentFileLine.objects.filter(payment_file=payment_file, period__isnull=False)
        .order_by()
        .values_list("period", flat=True)
        .distinct()
    )


def _rank_sql(column: str) -> str:
    whens = " ".join(f"WHEN '{ins.value}' THEN {i}" for i, ins in enumerate(INSURANCE_ORDER))
    return f"CASE {column} {whens} ELSE 99 END"


def _record_payments(payment_file: PaymentFile, *, triggers_off: bool) -> Decimal:
    """Payments of the file's new lines and their allocations (FIFO by interval overlap). Returns the credit."""
    d = _d()
    now = _dt(timezone.now())
    user_id = payment_file.uploaded_by_id
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            _lock_payers(cur, payment_file)
        if triggers_off:
            _row_triggers(cur, on=False)
        frame = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
        _drop(cur, "pf_pay", "pf_bills", "pf_open")
        # Payment ids are drawn in line order (ORDER BY line_no), so "in line order" below is "by payment id".
        insert = f"""
            INSERT INTO contributions_payment (uid, agency_reference, payer_type, employer_id, person_id, office_id,
                amount, paid_on, channel, recorded_by_id, recorded_at)
            SELECT {d["uuid"]}, l.reference, l.payer_type, l.employer_id, l.person_id, l.office_id, l.amount,
                l.paid_on, %s, %s, %s
            FROM contributions_paymentfileline l
            WHERE l.payment_file_id = %s AND l.status = 'new'
            ORDER BY l.line_no
        """
        params = [Channel.FILE, user_id, now, payment_file.pk]
        running = f"CAST(SUM(fen) OVER (PARTITION BY payer_key ORDER BY payment_id {frame}) AS {d['int']}) AS p_end"
        if connection.vendor == "postgresql":
            # The new payments straight from the INSERT's RETURNING: no second look-up of a million references.
            cur.execute(
                "CREATE TEMP TABLE pf_pay (payment_id bigint, uid uuid, office_id bigint, payer_key bigint, "
                "fen bigint, p_end bigint) ON COMMIT DROP"
            )
            cur.execute(
                f"""
                WITH ins AS ({insert} RETURNING id, uid, office_id, employer_id, person_id, amount)
                INSERT INTO pf_pay
                SELECT payment_id, uid, office_id, payer_key, fen, {running}
                FROM (SELECT id AS payment_id, uid, office_id, COALESCE(employer_id, -person_id) AS payer_key,
                          {_fen("amount")} AS fen FROM ins) n
                """,
                params,
            )
            written = cur.rowcount
        else:
            cur.execute(insert, params)
            written = cur.rowcount
            cur.execute(
                f"""
                {d["temp"].format(name="pf_pay")}
                SELECT payment_id, uid, office_id, payer_key, fen, {running}
                FROM (SELECT p.id AS payment_id, p.uid, p.office_id, COALESCE(l.employer_id, -l.person_id) AS payer_key,
                          {_fen("l.amount")} AS fen
                      FROM contributions_paymentfileline l
                      JOIN contributions_payment p ON p.agency_reference = l.reference
                      WHERE l.payment_file_id = %s AND l.status = 'new') n
                """,
                [payment_file.pk],
            )
        if not written:
            if triggers_off:
                _row_triggers(cur, on=True)
            return Decimal("0.00")
        _analyze(cur, "pf_pay")
        # Two joins rather than "employer IN (…) OR person IN (…)": a million keys would not fit a hashed subplan.
        bills = """
            SELECT b.id AS bill_id, {key} AS payer_key, b.period, b.issued_at
            FROM contributions_bill b
            JOIN (SELECT DISTINCT {match} AS id FROM pf_pay WHERE payer_key {sign} 0) k ON k.id = b.{column}
            WHERE b.issued_at IS NOT NULL AND b.kind <> 'refund'
        """
        cur.execute(
            f"""
            {d["temp"].format(name="pf_bills")}
            {bills.format(key="b.employer_id", match="payer_key", sign=">", column="employer_id")}
            UNION ALL
            {bills.format(key="-b.person_id", match="-payer_key", sign="<", column="person_id")}
            """
        )
        _analyze(cur, "pf_bills")
        # Open amount of each bill insurance (as open_items_for_payer): total minus every allocation so far.
        cur.execute(
            f"""
            {d["temp"].format(name="pf_open")}
            SELECT o.payer_key, o.bill_id, o.insurance_type, o.open_fen,
                CAST(SUM(o.open_fen) OVER (PARTITION BY o.payer_key
                    ORDER BY o.period, o.issued_at, o.bill_id, o.rnk {frame}) AS {d["int"]}) AS b_end
            FROM (
                SELECT pb.payer_key, pb.bill_id, t.insurance_type, pb.period, pb.issued_at,
                    {_rank_sql("t.insurance_type")} AS rnk,
                    {_fen("t.amount")} - COALESCE(a.fen, 0) AS open_fen
                FROM pf_bills pb
                JOIN contributions_billtotal t ON t.bill_id = pb.bill_id
                LEFT JOIN (
                    SELECT a.bill_id, a.insurance_type, {_fen("SUM(a.amount)")} AS fen
                    FROM contributions_paymentallocation a JOIN pf_bills pb2 ON pb2.bill_id = a.bill_id
                    GROUP BY a.bill_id, a.insurance_type
                ) a ON a.bill_id = t.bill_id AND a.insurance_type = t.insurance_type
                WHERE t.amount > 0
            ) o
            WHERE o.open_fen > 0
            """
        )
        _analyze(cur, "pf_open")
        user = payment_file.uploaded_by_id
        cur.execute(
            f"""
            INSERT INTO contributions_paymentallocation (payment_id, bill_id, insurance_type, amount, reverses_id,
                note, created_at, created_by_id)
            SELECT p.payment_id, o.bill_id, o.insurance_type,
                ({d["least"]}(p.p_end, o.b_end) - {d["greatest"]}(p.p_end - p.fen, o.b_end - o.open_fen)) / 100.0,
                NULL, '', %s, %s
            FROM pf_pay p JOIN pf_open o ON o.payer_key = p.payer_key
            WHERE o.b_end > p.p_end - p.fen AND o.b_end - o.open_fen < p.p_end
            ORDER BY p.payment_id, o.b_end
            """,
            [now, user],
        )
        credit_sql = f"""
            INSERT INTO contributions_paymentallocation (payment_id, bill_id, insurance_type, amount, reverses_id,
                note, created_at, created_by_id)
            SELECT p.payment_id, NULL, '', (p.p_end - {d["greatest"]}(p.p_end - p.fen, COALESCE(t.total, 0))) / 100.0,
                NULL, %s, %s, %s
            FROM pf_pay p LEFT JOIN (SELECT payer_key, MAX(b_end) AS total FROM pf_open GROUP BY payer_key) t
                ON t.payer_key = p.payer_key
            WHERE p.p_end > COALESCE(t.total, 0)
            ORDER BY p.payment_id
        """
        credit_params = [_("多缴转结余"), now, user]
        if connection.vendor == "postgresql":
            cur.execute(
                f"WITH ins AS ({credit_sql} RETURNING amount) SELECT COALESCE(SUM(amount), 0) FROM ins", credit_params
            )
            credit = Decimal(cur.fetchone()[0])
        else:
            cur.execute(credit_sql, credit_params)
            cur.execute(
                f"""
                SELECT COALESCE(SUM(p.p_end - {d["greatest"]}(p.p_end - p.fen, COALESCE(t.total, 0))), 0)
                FROM pf_pay p LEFT JOIN (SELECT payer_key, MAX(b_end) AS total FROM pf_open GROUP BY payer_key) t
                    ON t.payer_key = p.payer_key
                WHERE p.p_end > COALESCE(t.total, 0)
                """
            )
            credit = Decimal(int(cur.fetchone()[0] or 0)) / 100
        _drop(cur, "pf_bills", "pf_open")
        if triggers_off:
            _row_triggers(cur, on=True)
    return credit.quantize(Decimal("0.01"))


def _record_payment_events(*, triggers_off: bool) -> None:
    """Change-feed events of the file's new payments (``pf_pay``, left by ``_record_payments``), then drop it."""
    with connection.cursor() as cur:
        if triggers_off:
            _row_triggers(cur, on=False)  # change_events_record stamps the txid itself; offices: see _row_triggers
        change_events_record(
            change_type="payment", queryset=Payment.objects.filter(pk__in=RawSQL("SELECT payment_id FROM pf_pay", []))
        )
        if triggers_off:
            _row_triggers(cur, on=True)
        _drop(cur, "pf_pay")


# ---------------------------------------------------------------------------------------------
# Reconciliation.


def _key_filter(keys: list[tuple[int, int]] | None, key_expr: str, period_expr: str) -> tuple[str, list[Any]]:
    if keys is None:
        return "", []
    if not keys:
        return " AND 1 = 0", []
    clause = " OR ".join([f"({key_expr} = %s AND {period_expr} = %s)"] * len(keys))
    return f" AND ({clause})", [v for key in keys for v in key]


def _due_create(payment_file: PaymentFile, *, periods: list[int], keys: list[tuple[int, int]] | None = None) -> None:
    """The temporary table ``pf_due``: per payer key and period, what the issued bills ask for less what
    payments not reported in this file paid. The import makes it before recording the file's payments, so
    their two million allocations need not be read only to be left out again."""
    d = _d()
    scope = payment_file.office.path + "%"
    file_id = payment_file.pk
    with connection.cursor() as cur:
        _drop(cur, "pf_due")
        if periods:
            marks = ", ".join(["%s"] * len(periods))
            key_sql, key_params = _key_filter(keys, "COALESCE(b.employer_id, -b.person_id)", "b.period")
            cur.execute(
                f"""
                {d["temp"].format(name="pf_due")}
                SELECT x.payer_key, x.period, MIN(x.office_id) AS office_id, SUM(x.due_fen) AS due_fen
                FROM (
                    SELECT COALESCE(b.employer_id, -b.person_id) AS payer_key, b.period, b.office_id,
                        {_fen("t.amount")} - COALESCE(oa.fen, 0) AS due_fen
                    FROM contributions_bill b
                    JOIN registry_office bo ON bo.id = b.office_id
                    JOIN contributions_billtotal t ON t.bill_id = b.id
                    LEFT JOIN (
                        SELECT a.bill_id, a.insurance_type, {_fen("SUM(a.amount)")} AS fen
                        FROM contributions_paymentallocation a
                        JOIN contributions_bill ab ON ab.id = a.bill_id
                        JOIN contributions_payment p ON p.id = a.payment_id
                        WHERE ab.period IN ({marks})
                          AND NOT EXISTS (SELECT 1 FROM contributions_paymentfileline l
                                          WHERE l.payment_file_id = %s AND l.reference = p.agency_reference
                                            AND l.status IN ('new', 'repeat', 'corrected'))
                        GROUP BY a.bill_id, a.insurance_type
                    ) oa ON oa.bill_id = t.bill_id AND oa.insurance_type = t.insurance_type
                    WHERE b.issued_at IS NOT NULL AND b.kind <> 'refund' AND t.amount > 0
                      AND b.period IN ({marks}) AND bo.path LIKE %s {key_sql}
                ) x
                GROUP BY x.payer_key, x.period
                """,
                [*periods, file_id, *periods, scope, *key_params],
            )
        else:
            cur.execute(
                f"{d['temp'].format(name='pf_due')} SELECT 0 AS payer_key, 0 AS period, 0 AS office_id, 0 AS due_fen "
                "WHERE 1 = 0"
            )
        _analyze(cur, "pf_due")


def _reconcile(
    payment_file: PaymentFile,
    *,
    periods: list[int],
    keys: list[tuple[int, int]] | None = None,
    line_ids: list[int] | None = None,
    due_ready: bool = False,
) -> None:
    """Compute and store the reconciliation of the file (or only of ``keys`` = (payer key, period) and the
    unknown-payer items of ``line_ids``, after a correction). A payer key is the employer id, or minus the
    person id. ``due`` is what the payer's issued bills of the period ask for less what payments not
    reported in this file paid; ``paid`` is the sum of this file's payments for the payer and period.
    ``due_ready``: ``_due_create`` has already made the due table (the import makes it before the payments)."""
    scope = payment_file.office.path + "%"
    file_id = payment_file.pk
    if keys is not None or line_ids is not None:
        items = ReconciliationItem.objects.filter(payment_file=payment_file)
        selector = Q(pk__in=[])
        for key, period in keys or []:
            payer = Q(employer_id=key) if key > 0 else Q(person_id=-key)
            selector |= payer & Q(period=period)
        if line_ids:
            selector |= Q(line_id__in=line_ids)
        items.filter(selector).delete()
    if not due_ready:
        _due_create(payment_file, periods=periods, keys=keys)
    with connection.cursor() as cur:
        key_sql, key_params = _key_filter(keys, "COALESCE(l.employer_id, -l.person_id)", "l.period")
        insert = """
            INSERT INTO contributions_reconciliationitem (payment_file_id, office_id, category, payer_type,
                employer_id, person_id, line_id, payer_code, period, due, paid, line_count, first_line)
        """
        cur.execute(
            f"""
            {insert}
            SELECT %s, COALESCE(k.office_id, dd.office_id),
                CASE WHEN k.paid_fen = COALESCE(dd.due_fen, 0) THEN 'matched' ELSE 'mismatch' END,
                k.payer_type, k.employer_id, k.person_id, NULL, k.payer_code, k.period,
                COALESCE(dd.due_fen, 0) / 100.0, k.paid_fen / 100.0, k.n, k.first_line
            FROM (
                SELECT COALESCE(l.employer_id, -l.person_id) AS payer_key, l.employer_id, l.person_id, l.period,
                    MIN(l.payer_type) AS payer_type, MIN(l.payer_code) AS payer_code, MIN(l.office_id) AS office_id,
                    {_fen("SUM(l.amount)")} AS paid_fen, COUNT(*) AS n, MIN(l.line_no) AS first_line
                FROM contributions_paymentfileline l
                WHERE l.payment_file_id = %s AND l.status IN ('new', 'repeat', 'corrected') {key_sql}
                GROUP BY l.employer_id, l.person_id, l.period
            ) k
            LEFT JOIN pf_due dd ON dd.payer_key = k.payer_key AND dd.period = k.period
            """,
            [file_id, file_id, *key_params],
        )
        cur.execute(
            f"""
            {insert}
            SELECT %s, dd.office_id, 'billed_unpaid',
                CASE WHEN dd.payer_key > 0 THEN 'employer' ELSE 'person' END,
                CASE WHEN dd.payer_key > 0 THEN dd.payer_key END, CASE WHEN dd.payer_key < 0 THEN -dd.payer_key END,
                NULL, COALESCE(e.credit_code, p.id_number, ''), dd.period, dd.due_fen / 100.0, 0, 0, NULL
            FROM pf_due dd
            LEFT JOIN registry_employer e ON dd.payer_key > 0 AND e.id = dd.payer_key
            LEFT JOIN registry_person p ON dd.payer_key < 0 AND p.id = -dd.payer_key
            WHERE dd.due_fen > 0 AND NOT EXISTS (
                SELECT 1 FROM contributions_paymentfileline l
                WHERE l.payment_file_id = %s AND l.status IN ('new', 'repeat', 'corrected')
                  AND COALESCE(l.employer_id, -l.person_id) = dd.payer_key AND l.period = dd.period)
            """,
            [file_id, file_id],
        )
        line_sql, line_params = ("", [])
        if keys is not None or line_ids is not None:
            ids = line_ids or []
            line_sql = f" AND l.id IN ({', '.join(['%s'] * len(ids))})" if ids else " AND 1 = 0"
            line_params = list(ids)
        # A payer the registry does not know is shown to the district its code names (credit code characters
        # 3–8, ID number characters 1–6) when that district is in the file's scope, else to the file's office.
        cur.execute(
            f"""
            {insert}
            SELECT %s, COALESCE(od.id, %s), 'unknown_payer', l.payer_type, NULL, NULL, l.id, l.payer_code, l.period,
                0, COALESCE(l.amount, 0), 1, l.line_no
            FROM contributions_paymentfileline l
            LEFT JOIN registry_office od ON od.level = %s AND od.path LIKE %s
                AND od.code = CASE WHEN l.payer_type = 'employer' THEN substr(l.payer_code, 3, 6)
                                   ELSE substr(l.payer_code, 1, 6) END
            WHERE l.payment_file_id = %s AND l.status = 'bad' AND l.problem_code = 'unknown_payer' {line_sql}
            """,
            [file_id, payment_file.office_id, OfficeLevel.DISTRICT, scope, file_id, *line_params],
        )
        _drop(cur, "pf_due")
        ReconciliationSummary.objects.filter(payment_file=payment_file).delete()
        cur.execute(
            """
            INSERT INTO contributions_reconciliationsummary (payment_file_id, office_id, category, item_count,
                line_count, due, paid)
            SELECT payment_file_id, office_id, category, COUNT(*), SUM(line_count), SUM(due), SUM(paid)
            FROM contributions_reconciliationitem WHERE payment_file_id = %s
            GROUP BY payment_file_id, office_id, category
            """,
            [file_id],
        )


# ---------------------------------------------------------------------------------------------
# Correcting a kept line.


def _payer(payer_type: str, code: str) -> tuple[Employer | None, Person | None]:
    if payer_type == "employer":
        try:
            normal = credit_code_normalize(code)
        except ValidationError as exc:
            raise ValidationError({"payer_code": exc.messages}) from None
        employer = Employer.objects.select_related("office").filter(credit_code=normal).first()
        if employer is None:
            raise ValidationError(
                {"payer_code": _("统一社会信用代码 %(code)s 在参保登记中没有对应的单位。") % {"code": normal}}
            )
        return employer, None
    if payer_type == "person":
        try:
            normal = id_number_normalize(code)
        except ValidationError as exc:
            raise ValidationError({"payer_code": exc.messages}) from None
        person = Person.objects.select_related("residence_office").filter(id_number=normal).first()
        if person is None:
            raise ValidationError({"payer_code": _("该公民身份号码在参保登记中没有对应的人员。")})
        return None, person
    raise ValidationError({"payer_type": _("缴费方类型应为“单位”或“个人”。")})


@transaction.atomic
def payment_file_line_correct(
    *,
    line: PaymentFileLine,
    acting_user: Any,
    reference: str,
    payer_type: str,
    payer_code: str,
    period: Any,
    amount: Any,
    paid_on: datetime.date,
) -> Payment:
    """Record a kept bad line with corrected values, through ``payment_record`` (the API's rules: one payment
    per reference, oldest bill first, the rest to credit), and update the file's counts and reconciliation."""
    line = PaymentFileLine.objects.select_for_update().select_related("payment_file__office").get(pk=line.pk)
    payment_file = line.payment_file
    if not office_in_jurisdiction(acting_user, payment_file.office):
        raise PaymentFileLine.DoesNotExist
    if line.status != LineStatus.BAD:
        raise ValidationError({"line": _("第 %(line)s 行不是待更正的错误行。") % {"line": line.line_no}})
    period_value = period_parse(period, field="period", allow_future=True)
    employer, person = _payer(payer_type_normalize(payer_type), (payer_code or "").strip().upper())
    payment, created = payment_record(
        agency_reference=reference,
        amount=amount,
        paid_on=paid_on,
        acting_user=acting_user,
        employer=employer,
        person=person,
        channel=Channel.FILE,
    )
    old_key = None
    if line.period and (line.employer_id or line.person_id):
        old_key = (line.employer_id or -line.person_id, line.period)
    line.reference = payment.agency_reference
    line.payer_type = payment.payer_type
    line.payer_code = employer.credit_code if employer else person.id_number
    line.employer, line.person, line.office_id = employer, person, payment.office_id
    line.period, line.amount, line.paid_on = period_value, payment.amount, payment.paid_on
    line.status = LineStatus.CORRECTED
    line.corrected_by = recorded_user(acting_user)
    line.corrected_at = timezone.now()
    line.full_clean(validate_unique=False, validate_constraints=False)
    line.save()
    PaymentFile.objects.filter(pk=payment_file.pk).update(
        open_bad_count=F("open_bad_count") - 1,
        imported_count=F("imported_count") + (1 if created else 0),
        repeat_count=F("repeat_count") + (0 if created else 1),
        imported_amount=F("imported_amount") + (payment.amount if created else 0),
    )
    payment_file.refresh_from_db()
    if payment_file.open_bad_count == 0 and payment_file.status == PaymentFileStatus.PENDING_LINES:
        PaymentFile.objects.filter(pk=payment_file.pk).update(status=PaymentFileStatus.IMPORTED)
    periods = sorted(set(payment_file.periods) | {period_value})
    if periods != payment_file.periods:
        PaymentFile.objects.filter(pk=payment_file.pk).update(periods=periods)
    new_key = (employer.pk if employer else -person.pk, period_value)
    keys = [new_key] + ([old_key] if old_key and old_key != new_key else [])
    _reconcile(payment_file, periods=sorted({k[1] for k in keys}), keys=keys, line_ids=[line.pk])
    return payment
