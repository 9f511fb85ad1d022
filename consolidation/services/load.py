"""Loading and checking a batch (status queued → loading → checked): nothing touches the registry here.

Per file, in FILE_ORDER, one transaction each (a batch resumes at the first file not yet loaded):

1. COPY the file into its own UNLOGGED raw table (``consolidation_raw_<file id>``: a line number and one text
   column per column of the file). A CSV's bytes go to PostgreSQL as they are (it decodes GBK); an xlsx is read
   row by row. The raw tables stay until the batch is applied (the rejected lines are downloaded from them).
2. Check every line in SQL. Employers, persons and enrollments are written, checked and normalised, into their
   staging tables (the matching works on them); the history stays in its raw table, only its bad lines are
   written (``RejectedLine``) with the counts and sums of the rest. References between the files are checked
   against the files loaded before and the registry: an enrollment or a history line of a person neither in the
   persons file nor in the registry is a bad line.

A file that cannot be read as a whole (type, encoding, columns, a line with another number of cells) rejects
the batch with one message; nothing of it is kept.
"""

from __future__ import annotations

import io
import re
import tempfile
import time
from typing import Any

import psycopg2
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consolidation.files import FileError, Opened, file_open
from consolidation.layout import HISTORY_HEADERS, LayoutError, header_columns, history_insurances
from consolidation.models import FILE_ORDER, BatchFile, BatchStatus, FileKind, FileStatus, ImportBatch
from consolidation.screen import LineScreen, history_line_pattern, typed_kinds
from consolidation.services.report import batch_check_report
from consolidation.services.runner import batch_held, require_postgres
from consolidation.sql import (
    EMPLOYER_TABLE,
    OFFICE_TABLE,
    PERSON_TABLE,
    REJECTED_LINE_TABLE,
    STAGED_EMPLOYER_TABLE,
    STAGED_ENROLLMENT_TABLE,
    STAGED_PERSON_TABLE,
    analyze,
    blank_line,
    col,
    insurance_code,
    raw_columns,
    table_exists,
    temp_drop,
)
from registry.names import name_pinyin

COPY_READ = 1 << 20
_COPY_LINE = re.compile(r"line (\d+)")


def batch_load(*, batch_id: int) -> ImportBatch:
    """Load and check a queued batch (idempotent: a batch past loading is returned as it is; resumable: files
    already loaded are not loaded again)."""
    require_postgres()
    with batch_held(batch_id) as held:
        batch = ImportBatch.objects.select_related("district").get(pk=batch_id)
        if not held or batch.status not in (BatchStatus.QUEUED, BatchStatus.LOADING):
            return batch
        ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.LOADING, attempts=batch.attempts + 1)
        timings = dict(batch.timings or {})
        files = {f.kind: f for f in batch.files.all()}
        for kind in FILE_ORDER:
            batch_file = files.get(kind)
            if batch_file is None:
                continue
            if batch_file.status == FileStatus.LOADED and table_exists(batch_file.raw_table):
                continue
            started = time.perf_counter()
            try:
                _file_load(batch, batch_file)
            except (LayoutError, _CopyError) as exc:
                return _reject(batch, batch_file, str(exc))
            timings[f"load_{kind}"] = round(time.perf_counter() - started, 3)
        report = batch_check_report(batch)
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.CHECKED, report=report, checked_at=timezone.now(), timings=timings, error=""
        )
    batch.refresh_from_db()
    return batch


_STAGED_TABLES = {
    FileKind.EMPLOYERS: STAGED_EMPLOYER_TABLE,
    FileKind.PERSONS: STAGED_PERSON_TABLE,
    FileKind.ENROLLMENTS: STAGED_ENROLLMENT_TABLE,
}


def file_reload(batch: ImportBatch, batch_file: BatchFile) -> None:
    """Load a file again whose raw table was lost (UNLOGGED tables are emptied by a database crash): what its
    check wrote is removed first. Before the batch is applied only."""
    with transaction.atomic(), connection.cursor() as cur:
        table = _STAGED_TABLES.get(batch_file.kind)
        if table:
            cur.execute(f"DELETE FROM {table} WHERE batch_id = %s", [batch.pk])
        cur.execute(f"DELETE FROM {REJECTED_LINE_TABLE} WHERE batch_id = %s AND kind = %s", [batch.pk, batch_file.kind])
    _file_load(batch, batch_file)


def batch_raw_tables_drop(batch: ImportBatch) -> None:
    with connection.cursor() as cur:
        for batch_file in batch.files.all():
            cur.execute("SELECT consolidation_raw_drop(%s)", [batch_file.pk])


def _reject(batch: ImportBatch, batch_file: BatchFile, message: str) -> ImportBatch:
    text = _("%(file)s（%(kind)s）：%(message)s") % {
        "file": batch_file.name,
        "kind": batch_file.get_kind_display(),
        "message": message,
    }
    BatchFile.objects.filter(pk=batch_file.pk).update(status=FileStatus.REJECTED, error=message[:2000])
    batch_raw_tables_drop(batch)
    ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.REJECTED, error=text, checked_at=timezone.now())
    batch.refresh_from_db()
    return batch


class _CopyError(FileError):
    pass


def _file_load(batch: ImportBatch, batch_file: BatchFile) -> None:
    opened = file_open(batch_file)
    try:
        columns = header_columns(batch_file.kind, opened.header)
    except LayoutError:
        opened.body.close()
        raise
    width = len(opened.header)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
            # The checks inline many small SQL functions into one large expression per line: JIT compiling it
            # took longer (about 20 s per statement) than evaluating it for a million lines.
            cur.execute("SET LOCAL jit = off")
            screen = None
            if batch_file.kind == FileKind.HISTORY:
                screen = history_line_pattern(columns, width, opened.delimiter)
            lines, unplain = _copy_raw(cur, batch_file, opened, width, screen, columns)
            if not lines:
                raise FileError(_("文件只有列名，没有数据行。"))
            analyze(cur, batch_file.raw_table)
        context = {"batch": batch, "file": batch_file, "columns": columns, "width": width, "offset": 1}
        context["unplain"] = unplain
        bad, totals = STAGERS[batch_file.kind](context)
        BatchFile.objects.filter(pk=batch_file.pk).update(
            status=FileStatus.LOADED,
            file_format=opened.file_format,
            encoding=opened.encoding,
            header=opened.header,
            columns=columns,
            totals=totals,
            line_count=lines,
            bad_count=bad,
            error="",
            loaded_at=timezone.now(),
        )
        batch_file.refresh_from_db()


def _copy_raw(
    cur, batch_file: BatchFile, opened: Opened, width: int, screen=None, columns: dict[str, int] | None = None
) -> tuple[int, list | None]:
    """COPY the file into its raw table; returns the rows, and with a line ``screen`` (a pattern of the plain
    lines, consolidation.screen) the numbers of the lines not plain (None: no screen, or it gave up). With a
    screen, the typed table is written too (``_copy_typed``) unless the screen gave up."""
    table = batch_file.raw_table
    cells = ", ".join(f"c{i}" for i in range(1, width + 1))
    # The owner's function (migration 0004): the application role may not create tables itself.
    # Dropped first: a typed table of an earlier load of this file (raw_drop drops both) is not this load's.
    cur.execute("SELECT consolidation_raw_drop(%s)", [batch_file.pk])
    cur.execute("SELECT consolidation_raw_create(%s, %s)", [batch_file.pk, width])
    sql = _copy_sql(table, cells, opened)
    with tempfile.TemporaryFile() as typed:  # the typed lines the screen writes (on disk: a file's size)
        try:
            with transaction.atomic():
                reader = io.BufferedReader(opened.body, COPY_READ)
                if screen is not None:
                    reader = LineScreen(reader, screen, typed=typed, delimiter=opened.delimiter, width=width)
                cur.cursor.copy_expert(sql, reader, size=COPY_READ)
        except (DatabaseError, psycopg2.Error) as exc:
            raise _CopyError(_copy_message(exc, width)) from None
        if opened.body.error is not None:  # the reader stopped (an xlsx past its limits): the file is refused
            raise opened.body.error
        opened.check_complete(batch_file.sha256)
        cur.execute(f"SELECT count(*) FROM {table}")
        rows = cur.fetchone()[0]
        unplain = reader.unplain(rows) if screen is not None else None
        if unplain is not None:
            unplain = _copy_typed(cur, batch_file, opened, typed_kinds(columns or {}, width), typed, unplain)
    return rows, unplain


def _copy_sql(table: str, cells: str, opened: Opened, force_not_null: str | None = None) -> str:
    delimiter = "E'\\t'" if opened.delimiter == "\t" else "','"
    return (
        f"COPY {table} ({cells}) FROM STDIN WITH (FORMAT csv, DELIMITER {delimiter}, "
        f"ENCODING '{opened.encoding}', FORCE_NOT_NULL ({force_not_null or cells}))"
    )


def _copy_typed(cur, batch_file: BatchFile, opened: Opened, kinds: str, typed, unplain: list[int]) -> list | None:
    """The typed table (owner's function, migration 0009) from what the screen wrote: every line's number, a plain
    line's cells typed (an empty amount NULL), a line not plain all NULL but its text cells (''). Returns
    ``unplain``, or None when the typed COPY failed (then there is no typed table: every line gets the exact
    check — a shortcut only)."""
    cells = ", ".join(f"c{i}" for i in range(1, len(kinds) + 1))
    texts = ", ".join(f"c{i}" for i, kind in enumerate(kinds, 1) if kind == "t")  # the person's number at least
    typed.seek(0)
    try:
        with transaction.atomic():
            cur.execute("SELECT consolidation_typed_create(%s, %s)", [batch_file.pk, kinds])
            sql = _copy_sql(batch_file.typed_table, f"line_no, {cells}", opened, force_not_null=texts)
            cur.cursor.copy_expert(sql, typed, size=COPY_READ)
    except (DatabaseError, psycopg2.Error):
        return None
    analyze(cur, batch_file.typed_table)
    return unplain


def _copy_message(exc: Exception, width: int) -> str:
    text = str(exc)
    found = _COPY_LINE.search(text)
    where = _("第 %(line)s 行：") % {"line": int(found.group(1)) + 1} if found else ""
    if "extra data after last expected column" in text or "missing data for column" in text:
        return where + _("列数与列名行不一致（列名行有 %(n)s 列）；请检查分隔符和引号。") % {"n": width}
    if "invalid byte sequence" in text or "has no equivalent" in text or "character with byte sequence" in text:
        return where + _("含有无法按文件编码识别的字符：请整份文件使用同一种编码（UTF-8 或 GBK）。")
    if "unterminated CSV quoted field" in text:
        return where + _("引号没有闭合。")
    return where + _("文件无法读取：%(error)s") % {"error": text.splitlines()[0][:300]}


# ---------------------------------------------------------------------------------------------
# Employers.

_EMPLOYER_TYPES = (
    "CASE {v} WHEN '' THEN 'enterprise' WHEN '企业' THEN 'enterprise' WHEN 'enterprise' THEN 'enterprise' "
    "WHEN '机关事业单位' THEN 'public' WHEN '机关' THEN 'public' WHEN '事业单位' THEN 'public' WHEN 'public' THEN 'public' "
    "WHEN '个体工商户' THEN 'individual' WHEN '个体' THEN 'individual' WHEN 'individual' THEN 'individual' "
    "WHEN '其他' THEN 'other' WHEN 'other' THEN 'other' END"
)


def _names_pinyin(cur, raw_sql: str, params: list, *, table: str, length: int) -> None:
    """A temporary table name → pinyin, initials for the distinct names ``raw_sql`` yields (pypinyin once per
    distinct name, as registry.names does for each record)."""
    cur.execute(raw_sql, params)
    names = [row[0] for row in cur.fetchall() if row[0]]
    temp_drop(cur, table)
    cur.execute(f"CREATE TEMP TABLE {table} (name text PRIMARY KEY, pinyin text, initials text) ON COMMIT DROP")
    buffer = io.StringIO()
    for name in names:
        full, initials = name_pinyin(name)
        buffer.write(f"{_copy_text(name)}\t{full[:length]}\t{initials}\n")
    buffer.seek(0)
    cur.cursor.copy_expert(f"COPY {table} FROM STDIN", buffer)
    analyze(cur, table)


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _stage_employers(ctx: dict[str, Any]) -> int:
    columns, raw = ctx["columns"], ctx["file"].raw_table
    c = lambda key: col(columns, key)  # noqa: E731
    with connection.cursor() as cur:
        _names_pinyin(
            cur,
            f"SELECT DISTINCT {c('name')} FROM {raw} r",
            [],
            table="cons_employer_names",
            length=400,
        )
        cur.execute(
            f"""
            INSERT INTO {STAGED_EMPLOYER_TABLE} (batch_id, line_no, raw_code, ref_key, credit_code, org_code,
                name, name_pinyin, employer_type, industry, risk_class, office_id, problem_code, problem_detail,
                outcome)
            SELECT %(batch)s, y.line_no + %(offset)s, left(y.raw_code, 60), left(y.ref_key, 60), y.uscc, y.org,
                left(y.name, 200), coalesce(n.pinyin, ''), coalesce(y.etype, ''), left(y.industry, 100),
                coalesce(y.risk, 1), coalesce(o.id, %(district)s), coalesce(y.problem, ''), left(y.detail, 200),
                CASE WHEN y.problem IS NULL THEN 'pending' ELSE 'rejected' END
            FROM (
                SELECT x.*, coalesce(nullif(x.uscc, ''), nullif(x.org, ''), x.code) AS ref_key,
                    CASE WHEN x.name = '' THEN 'name_missing'
                         WHEN x.uscc = '' AND x.org = '' THEN 'employer_code'
                         WHEN x.etype IS NULL THEN 'employer_type'
                         WHEN x.risk_text <> '' AND x.risk IS NULL THEN 'risk_class'
                    END AS problem,
                    CASE WHEN x.name = '' THEN ''
                         WHEN x.uscc = '' AND x.org = '' THEN x.raw_code || '|' || x.raw_org
                         WHEN x.etype IS NULL THEN x.type_text
                         ELSE x.risk_text END AS detail
                FROM (
                    SELECT r.line_no, {c("code")} AS raw_code, {c("org_code")} AS raw_org, k.code,
                        CASE WHEN k.code ~ '^[0-9A-HJ-NPQRTUWXY]{{18}}$'
                              AND consolidation_uscc_check(substr(k.code, 1, 17)) = substr(k.code, 18, 1)
                             THEN k.code ELSE '' END AS uscc,
                        CASE WHEN k.org ~ '^[0-9A-Z]{{8}}[0-9X]$'
                              AND consolidation_org_check(substr(k.org, 1, 8)) = substr(k.org, 9, 1)
                             THEN k.org ELSE '' END AS org,
                        regexp_replace({c("name")}, '\\s', '', 'g') AS name,
                        {c("employer_type")} AS type_text,
                        {_EMPLOYER_TYPES.format(v=c("employer_type"))} AS etype,
                        {c("industry")} AS industry,
                        {c("risk_class")} AS risk_text,
                        CASE WHEN {c("risk_class")} ~ '^[1-8]$' THEN {c("risk_class")}::int
                             WHEN {c("risk_class")} = '' THEN 1 END AS risk,
                        {c("office")} AS office_code
                    FROM {raw} r
                    CROSS JOIN LATERAL (
                        SELECT consolidation_code_norm({c("code")}) AS code,
                            CASE WHEN consolidation_code_norm({c("org_code")}) <> ''
                                 THEN consolidation_code_norm({c("org_code")})
                                 WHEN length(consolidation_code_norm({c("code")})) = 18
                                 THEN substr(consolidation_code_norm({c("code")}), 9, 9)
                                 ELSE consolidation_code_norm({c("code")}) END AS org
                    ) k
                    WHERE NOT {blank_line(ctx["width"])}
                    OFFSET 0
                ) x
                OFFSET 0
            ) y
            LEFT JOIN cons_employer_names n ON n.name = y.name
            LEFT JOIN {OFFICE_TABLE} o ON o.code = y.office_code AND o.path LIKE %(district_path)s
            """,
            _params(ctx),
        )
        temp_drop(cur, "cons_employer_names")
    return _rejected_from_staging(ctx, STAGED_EMPLOYER_TABLE)


def _params(ctx: dict[str, Any]) -> dict[str, Any]:
    batch = ctx["batch"]
    return {
        "batch": batch.pk,
        "offset": ctx["offset"],
        "district": batch.district_id,
        "district_path": batch.district.path + "%",
        "today": timezone.localdate(),
    }


def _rejected_from_staging(ctx: dict[str, Any], table: str) -> tuple[int, dict[str, Any]]:
    """The staged lines the check refused, as RejectedLine rows with the line as delivered; returns how many, and
    the file's totals (lines received)."""
    batch_file = ctx["file"]
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table} WHERE batch_id = %s", [ctx["batch"].pk])
        totals = {"rows": cur.fetchone()[0]}
        cur.execute(
            f"""
            INSERT INTO {REJECTED_LINE_TABLE} (batch_id, kind, line_no, code, detail, raw, amount)
            SELECT s.batch_id, %(kind)s, s.line_no, s.problem_code, s.problem_detail,
                to_jsonb(ARRAY[{raw_columns(ctx["width"])}]), NULL
            FROM {table} s JOIN {batch_file.raw_table} r ON r.line_no = s.line_no - %(offset)s
            WHERE s.batch_id = %(batch)s AND s.outcome = 'rejected'
            """,
            {**_params(ctx), "kind": batch_file.kind},
        )
        return cur.rowcount, totals


# ---------------------------------------------------------------------------------------------
# Persons.

_ID_DETAIL = """
    CASE WHEN n.norm !~ '^[0-9]*X?$' THEN 'id_characters'
         WHEN length(n.norm) NOT IN (15, 18) THEN 'id_length:' || length(n.norm)
         WHEN (length(n.norm) = 18 AND consolidation_ymd(substr(n.norm, 7, 8)) IS NULL)
           OR (length(n.norm) = 15 AND consolidation_ymd('19' || substr(n.norm, 7, 6)) IS NULL) THEN 'id_birth_date'
         WHEN length(n.norm) = 18 AND substr(n.norm, 7, 8) > to_char(%(today)s::date, 'YYYYMMDD')
           THEN 'id_birth_date'
         ELSE 'id_check_digit:' || consolidation_id_check(substr(n.norm, 1, 17)) END
"""
_SEX_TEXT = "CASE {v} WHEN '男' THEN 'M' WHEN 'M' THEN 'M' WHEN 'm' THEN 'M' WHEN '1' THEN 'M' WHEN '女' THEN 'F' WHEN 'F' THEN 'F' WHEN 'f' THEN 'F' WHEN '2' THEN 'F' END"
_HOUSEHOLD = (
    "CASE {v} WHEN '' THEN 'urban' WHEN '城镇' THEN 'urban' WHEN '非农业' THEN 'urban' WHEN '非农' THEN 'urban' "
    "WHEN '城市' THEN 'urban' WHEN 'urban' THEN 'urban' WHEN '农村' THEN 'rural' WHEN '农业' THEN 'rural' "
    "WHEN 'rural' THEN 'rural' END"
)


def _stage_persons(ctx: dict[str, Any]) -> int:
    columns, raw = ctx["columns"], ctx["file"].raw_table
    c = lambda key: col(columns, key)  # noqa: E731
    name = f"regexp_replace({c('name')}, '\\s', '', 'g')"
    with connection.cursor() as cur:
        _names_pinyin(cur, f"SELECT DISTINCT {name} FROM {raw} r", [], table="cons_person_names", length=120)
        cur.execute(
            f"""
            INSERT INTO {STAGED_PERSON_TABLE} (batch_id, line_no, raw_id, ref_key, id_kind, id_number, id_body,
                id_detail, name, name_pinyin, name_initials, sex, birth_date, household_type, phone, address, office_id,
                card_number, value_date, problem_code, problem_detail, outcome, name_differs)
            SELECT %(batch)s, y.line_no + %(offset)s, left(y.raw_id, 40), left(coalesce(y.id18, y.norm), 40), y.kind,
                coalesce(y.id18, ''), coalesce(y.body, ''), left(coalesce(y.id_detail, ''), 200), left(y.name, 50),
                coalesce(py.pinyin, ''), coalesce(py.initials, ''), y.sex, y.birth, coalesce(y.household, ''),
                left(y.phone, 20), left(y.address, 200), coalesce(o.id, %(district)s),
                CASE WHEN y.card ~ '^[0-9A-Za-z]{{1,20}}$' THEN upper(y.card) ELSE '' END,
                consolidation_date(y.value_text), coalesce(y.problem, ''), left(y.detail, 200),
                CASE WHEN y.problem IS NULL THEN 'pending' ELSE 'rejected' END, false
            FROM (
                SELECT x.*,
                    CASE WHEN x.name = '' THEN 'name_missing'
                         WHEN length(x.name) > 50 THEN 'name_long'
                         WHEN x.kind = 'missing' AND (x.birth IS NULL OR x.sex = '') THEN 'id_missing'
                         WHEN x.kind = 'invalid' AND (x.birth IS NULL OR x.sex = '') THEN 'id_unusable'
                         WHEN x.household IS NULL THEN 'household_type'
                    END AS problem,
                    CASE WHEN x.kind = 'invalid' THEN x.raw_id || '|' || coalesce(x.id_detail, '')
                         WHEN x.household IS NULL THEN x.household_text ELSE x.name END AS detail
                FROM (
                    SELECT r.line_no, {c("id_number")} AS raw_id, n.norm, i.id18, b.body,
                        CASE WHEN n.norm = '' THEN 'missing' WHEN i.id18 IS NULL THEN 'invalid'
                             WHEN length(n.norm) = 15 THEN 'converted15' ELSE 'checked' END AS kind,
                        CASE WHEN i.id18 IS NULL AND n.norm <> '' THEN {_ID_DETAIL} END AS id_detail,
                        {name} AS name,
                        coalesce(
                            consolidation_ymd(substr(i.id18, 7, 8)),
                            consolidation_date({c("birth_date")}),
                            CASE WHEN b.body ~ '^[0-9]{{17}}$' THEN consolidation_ymd(substr(b.body, 7, 8)) END
                        ) AS birth,
                        coalesce(
                            CASE WHEN i.id18 IS NOT NULL THEN
                                CASE WHEN substr(i.id18, 17, 1)::int %% 2 = 1 THEN 'M' ELSE 'F' END END,
                            {_SEX_TEXT.format(v=c("sex"))},
                            CASE WHEN b.body ~ '^[0-9]{{17}}$' THEN
                                CASE WHEN substr(b.body, 17, 1)::int %% 2 = 1 THEN 'M' ELSE 'F' END END,
                            ''
                        ) AS sex,
                        {c("household_type")} AS household_text,
                        {_HOUSEHOLD.format(v=c("household_type"))} AS household,
                        {c("phone")} AS phone, {c("address")} AS address, {c("office")} AS office_code,
                        {c("card_number")} AS card, {c("value_date")} AS value_text
                    FROM {raw} r
                    CROSS JOIN LATERAL (SELECT consolidation_id_norm({c("id_number")}) AS norm OFFSET 0) n
                    CROSS JOIN LATERAL (SELECT consolidation_id18(n.norm) AS id18 OFFSET 0) i
                    CROSS JOIN LATERAL (
                        SELECT CASE WHEN n.norm ~ '^[0-9]{{17}}[0-9X]$' THEN substr(n.norm, 1, 17)
                                    WHEN n.norm ~ '^[0-9]{{15}}$' THEN substr(n.norm, 1, 6) || '19' || substr(n.norm, 7, 9)
                               END AS body
                        OFFSET 0
                    ) b
                    WHERE NOT {blank_line(ctx["width"])}
                    OFFSET 0
                ) x
                OFFSET 0
            ) y
            LEFT JOIN cons_person_names py ON py.name = y.name
            LEFT JOIN {OFFICE_TABLE} o ON o.code = y.office_code AND o.path LIKE %(district_path)s
            """,
            _params(ctx),
        )
        temp_drop(cur, "cons_person_names")
        analyze(cur, STAGED_PERSON_TABLE)
    return _rejected_from_staging(ctx, STAGED_PERSON_TABLE)


# ---------------------------------------------------------------------------------------------
# References from enrollments and history to persons and employers.


def key_sql(raw_table: str, raw_column: str) -> str:
    """SELECT raw, key: each distinct person reference of a raw table and its key. A reference written as in the
    persons file (the usual case: one system exported both) takes that line's key by a join on the text; only
    the others are normalised (``consolidation_id_key``)."""
    return f"""
        SELECT d.raw, coalesce(s.ref_key, consolidation_id_key(d.raw)) AS key
        FROM (SELECT DISTINCT {raw_column} AS raw FROM {raw_table} r) d
        LEFT JOIN (SELECT DISTINCT ON (raw_id) raw_id, ref_key FROM {STAGED_PERSON_TABLE}
                   WHERE batch_id = %(batch)s ORDER BY raw_id, line_no) s ON s.raw_id = d.raw
        OFFSET 0
    """


def person_keys(cur, ctx: dict[str, Any], raw_column: str, table: str = "cons_person_keys") -> None:
    """Temporary table ``table`` (raw, key, staged, staged_ok, registry_id): for each distinct person reference
    of the raw table, its key, whether a line of this batch's persons file has that key (and passed its check),
    and the registry person (the survivor, when the number is a tombstone's)."""
    temp_drop(cur, table)
    cur.execute(
        f"""
        CREATE TEMP TABLE {table} ON COMMIT DROP AS
        SELECT k.raw, k.key, sp.any_line IS NOT NULL AS staged, coalesce(sp.ok, false) AS staged_ok,
            coalesce(p.merged_into_id, p.id) AS registry_id
        FROM ({key_sql(ctx["file"].raw_table, raw_column)}) k
        LEFT JOIN (
            SELECT ref_key, min(line_no) AS any_line, bool_or(problem_code = '') AS ok
            FROM {STAGED_PERSON_TABLE} WHERE batch_id = %(batch)s GROUP BY ref_key
        ) sp ON sp.ref_key = k.key
        LEFT JOIN {PERSON_TABLE} p ON p.id_number = k.key
        """,
        _params(ctx),
    )
    cur.execute(f"CREATE UNIQUE INDEX ON {table} (raw)")
    analyze(cur, table)


def employer_keys(cur, ctx: dict[str, Any], raw_column: str, table: str = "cons_employer_keys") -> None:
    """Temporary table ``table`` (raw, key, staged, staged_ok, registry_id) for the distinct employer references:
    a line of this batch's employers file by credit code or organisation code, or a registry employer by credit
    code, or by the organisation code inside exactly one credit code."""
    temp_drop(cur, table)
    cur.execute(
        f"""
        CREATE TEMP TABLE {table} ON COMMIT DROP AS
        SELECT d.raw, k.key, se.any_line IS NOT NULL AS staged, coalesce(se.ok, false) AS staged_ok,
            coalesce(e.id, eo.id) AS registry_id
        FROM (SELECT DISTINCT {raw_column} AS raw FROM {ctx["file"].raw_table} r) d
        CROSS JOIN LATERAL (SELECT consolidation_code_norm(d.raw) AS key) k
        LEFT JOIN (
            SELECT x.key, min(x.line_no) AS any_line, bool_or(x.ok) AS ok FROM (
                SELECT ref_key AS key, line_no, problem_code = '' AS ok FROM {STAGED_EMPLOYER_TABLE}
                WHERE batch_id = %(batch)s
                UNION ALL
                SELECT org_code, line_no, problem_code = '' FROM {STAGED_EMPLOYER_TABLE}
                WHERE batch_id = %(batch)s AND org_code <> ''
                UNION ALL
                SELECT consolidation_code_norm(raw_code), line_no, problem_code = '' FROM {STAGED_EMPLOYER_TABLE}
                WHERE batch_id = %(batch)s AND raw_code <> ''
            ) x GROUP BY x.key
        ) se ON se.key = k.key
        LEFT JOIN {EMPLOYER_TABLE} e ON e.credit_code = k.key
        LEFT JOIN LATERAL (
            SELECT min(e2.id) AS id FROM {EMPLOYER_TABLE} e2
            WHERE length(k.key) = 9 AND substr(e2.credit_code, 9, 9) = k.key
            HAVING count(*) = 1
        ) eo ON true
        WHERE d.raw <> ''
        """,
        _params(ctx),
    )
    cur.execute(f"CREATE UNIQUE INDEX ON {table} (raw)")
    analyze(cur, table)


_PERSON_REF_PROBLEM = """
    WHEN {raw} = '' THEN 'person_missing'
    WHEN pk.staged AND NOT pk.staged_ok THEN 'person_rejected'
    WHEN NOT pk.staged AND pk.registry_id IS NULL THEN 'unknown_person'
"""
_EMPLOYER_REF_PROBLEM = """
    WHEN {raw} <> '' AND ek.staged AND NOT ek.staged_ok THEN 'employer_rejected'
    WHEN {raw} <> '' AND NOT ek.staged AND ek.registry_id IS NULL THEN 'unknown_employer'
"""


# ---------------------------------------------------------------------------------------------
# Enrollments.


def _stage_enrollments(ctx: dict[str, Any]) -> int:
    columns, raw = ctx["columns"], ctx["file"].raw_table
    c = lambda key: col(columns, key)  # noqa: E731
    with connection.cursor() as cur:
        person_keys(cur, ctx, c("id_number"))
        employer_keys(cur, ctx, c("employer_code"))
        cur.execute(
            f"""
            INSERT INTO {STAGED_ENROLLMENT_TABLE} (batch_id, line_no, person_ref, employer_ref, insurance_type,
                is_flexible, start_date, end_date, months, problem_code, problem_detail, outcome)
            SELECT %(batch)s, y.line_no + %(offset)s, left(y.person_ref, 40), left(y.employer_ref, 60),
                coalesce(y.insurance, ''), y.flexible, y.start_date, y.end_date,
                CASE WHEN y.problem IS NULL THEN
                    (extract(year FROM coalesce(y.end_date, %(today)s::date)) * 12
                     + extract(month FROM coalesce(y.end_date, %(today)s::date)))::int
                    - (extract(year FROM y.start_date) * 12 + extract(month FROM y.start_date))::int + 1
                ELSE 0 END,
                coalesce(y.problem, ''), left(y.detail, 200),
                CASE WHEN y.problem IS NULL THEN 'pending' ELSE 'rejected' END
            FROM (
                SELECT r.line_no, pk.key AS person_ref, coalesce(ek.key, '') AS employer_ref, ins.code AS insurance,
                    d.flexible, d.start_date, d.end_date,
                    CASE {_PERSON_REF_PROBLEM.format(raw="d.raw_person")}
                         WHEN ins.code IS NULL THEN 'insurance'
                         WHEN d.start_date IS NULL THEN 'start_date'
                         WHEN d.start_date > %(today)s THEN 'start_future'
                         WHEN d.end_text <> '' AND d.end_date IS NULL THEN 'end_date'
                         WHEN d.end_date < d.start_date THEN 'end_before_start'
                         {_EMPLOYER_REF_PROBLEM.format(raw="d.raw_employer")}
                         WHEN d.flexible AND ins.code NOT IN ('emp_pension', 'emp_medical') THEN 'flexible_insurance'
                         WHEN d.flexible AND d.raw_employer <> '' THEN 'flexible_with_employer'
                         WHEN NOT d.flexible AND ins.code IN ('emp_pension', 'emp_medical', 'unemployment',
                              'work_injury', 'maternity') AND d.raw_employer = '' THEN 'employer_required'
                         WHEN ins.code IN ('res_pension', 'res_medical', 'land_farmer') AND d.raw_employer <> ''
                              THEN 'employer_not_allowed'
                    END AS problem,
                    concat_ws('|', d.raw_person, d.raw_insurance, d.start_text, d.end_text, d.raw_employer) AS detail
                FROM {raw} r
                CROSS JOIN LATERAL (
                    SELECT {c("id_number")} AS raw_person, {c("employer_code")} AS raw_employer,
                        {c("insurance")} AS raw_insurance, {c("start_date")} AS start_text, {c("end_date")} AS end_text,
                        consolidation_date({c("start_date")}) AS start_date,
                        consolidation_date({c("end_date")}) AS end_date,
                        ({c("flexible")} IN ('是', 'Y', 'y', '1', 'true', '灵活就业')) AS flexible
                    OFFSET 0
                ) d
                JOIN cons_person_keys pk ON pk.raw = d.raw_person
                LEFT JOIN cons_employer_keys ek ON ek.raw = d.raw_employer
                CROSS JOIN LATERAL (SELECT {insurance_code("d.raw_insurance")} AS code) ins
                WHERE NOT {blank_line(ctx["width"])}
            ) y
            """,
            _params(ctx),
        )
        temp_drop(cur, "cons_person_keys", "cons_employer_keys")
    return _rejected_from_staging(ctx, STAGED_ENROLLMENT_TABLE)


# ---------------------------------------------------------------------------------------------
# History: checked where it lies (its raw table); only the bad lines are written.


def history_values(columns: dict[str, int]) -> dict[str, Any]:
    """SQL expressions of a history line's values (on raw alias ``r``), used by the check and the apply; ``groups``:
    per insurance of the file (HISTORY_HEADERS order) the texts of its base, employer and individual amount."""
    c = lambda key: col(columns, key)  # noqa: E731
    return {
        "person_raw": c("id_number"),
        "employer_raw": c("employer_code"),
        "period": f"consolidation_period({c('period')})",
        "period_text": c("period"),
        "total": f"consolidation_money({c('total')})",
        "total_text": c("total"),
        "groups": [(i, c(f"{i}_base"), c(f"{i}_employer"), c(f"{i}_individual")) for i in history_insurances(columns)],
    }


def history_money(text: str) -> str:
    """A checked amount (the check refused every line whose filled amounts are not plain numbers): a cast is
    enough; an empty employer or individual amount is 0."""
    return f"coalesce(nullif(replace({text}, ',', ''), '')::numeric, 0)"


def history_filled(group: tuple[str, str, str, str], alias: str = "") -> str:
    """True when the line fills any of the insurance's three cells (on the raw texts, or the fenced ``alias``)."""
    if alias:
        i = group[0]
        return f"({alias}.{i}_bt <> '' OR {alias}.{i}_et <> '' OR {alias}.{i}_it <> '')"
    return f"({group[1]} <> '' OR {group[2]} <> '' OR {group[3]} <> '')"


def history_amount(text: str, empty: str = "0") -> str:
    """The amount of a cell (``empty`` when empty, NULL when not an amount)."""
    return f"CASE WHEN {text} = '' THEN {empty} ELSE consolidation_money({text}) END"


def _history_group_select(groups: list) -> str:
    """Per insurance: the three texts, whether the base is an amount and the parsed amounts (empty 0; NULL when
    not an amount), on the fenced texts ``w``."""
    out = []
    for i, _base, _employer, _individual in groups:
        out.append(
            f"CASE WHEN w.{i}_bt = '' THEN false ELSE consolidation_money(w.{i}_bt) IS NOT NULL END AS {i}_bok, "
            f"{history_amount(f'w.{i}_et')} AS {i}_e, {history_amount(f'w.{i}_it')} AS {i}_i"
        )
    return ", ".join(out)


def _history_group_checks(groups: list) -> tuple[str, str, str, str]:
    """The CASE branches of the amount problems, the sums of the employer and individual amounts (NULL when one is
    unreadable), and the detail of the first insurance with a problem (its name and texts) or of the sums. An
    unreadable amount is a filled cell, and an insurance not filled has amounts 0: the tests of "filled" are
    only needed for a missing base (and its base flag comes first, so a line pays for them only there)."""
    branches, employer_sum, individual_sum, details = [], [], [], []
    for group in groups:
        i, name, filled = group[0], HISTORY_HEADERS[group[0]], history_filled(group, "x")
        bad = f"((NOT x.{i}_bok AND {filled}) OR x.{i}_e IS NULL OR x.{i}_i IS NULL)"
        branches.append(
            f"WHEN NOT x.{i}_bok AND {filled} THEN 'base' WHEN x.{i}_e IS NULL THEN 'employer_amount' "
            f"WHEN x.{i}_i IS NULL THEN 'individual_amount'"
        )
        employer_sum.append(f"x.{i}_e")
        individual_sum.append(f"x.{i}_i")
        details.append(
            f"WHEN {bad} THEN concat_ws('|', x.person_raw, '{name}', x.period_text, x.{i}_bt, x.{i}_et, x.{i}_it, "
            "x.total_text)"
        )
    filled_any = " OR ".join(history_filled(g, "x") for g in groups) or "false"
    branches.append(f"WHEN NOT ({filled_any}) THEN 'no_insurance'")
    return " ".join(branches), " + ".join(employer_sum) or "0", " + ".join(individual_sum) or "0", " ".join(details)


def history_problem_sql(columns: dict[str, int], width: int, raw: str, where: str = "") -> str:
    """SELECT line_no, problem, amount, detail, raw_json FROM the raw history table joined to the key tables. Each
    value is parsed once, in a fenced inner query (OFFSET 0 keeps the planner from copying the parsing into every
    test); detail and raw_json are computed only where a caller selects them (for the bad lines). A line is one
    person's month: each insurance it fills needs a base; its amounts, when filled, must be amounts."""
    v = history_values(columns)
    cells = ", ".join(f"r.c{i} AS c{i}" for i in range(1, width + 1))
    branches, employer_sum, individual_sum, details = _history_group_checks(v["groups"])
    groups = _history_group_select(v["groups"])
    texts = "".join(f"{b} AS {i}_bt, {e} AS {i}_et, {n} AS {i}_it, " for i, b, e, n in v["groups"])
    return f"""
        SELECT y.line_no, y.problem, coalesce(y.employer_sum + y.individual_sum, y.total) AS amount,
            CASE WHEN y.problem IN ('base', 'employer_amount', 'individual_amount') THEN y.group_detail
                 ELSE concat_ws('|', y.person_raw, '', y.period_text, '', y.employer_sum, y.individual_sum,
                                y.total_text) END AS detail,
            y.raw_json
        FROM (
        SELECT x.line_no, x.person_raw, x.period_text, x.total_text, x.total,
            CASE {_PERSON_REF_PROBLEM.format(raw="x.person_raw")}
                 WHEN x.period IS NULL THEN 'period'
                 WHEN x.period > %(this_month)s THEN 'period_future'
                 {branches}
                 WHEN x.total_text <> '' AND x.total IS NULL THEN 'total'
                 WHEN x.total_text <> '' AND x.total <> ({employer_sum}) + ({individual_sum}) THEN 'amount_sum'
                 {_EMPLOYER_REF_PROBLEM.format(raw="x.employer_raw")}
            END AS problem,
            ({employer_sum}) AS employer_sum, ({individual_sum}) AS individual_sum,
            CASE {details or "WHEN false THEN ''"} END AS group_detail,
            to_jsonb(ARRAY[{", ".join(f"x.c{i}" for i in range(1, width + 1))}]) AS raw_json
        FROM (
            SELECT w.*, {history_amount("w.total_text", empty="NULL")} AS total,
                consolidation_period(w.period_text) AS period
                {", " + groups if groups else ""}
            FROM (
                SELECT r.line_no, {v["person_raw"]} AS person_raw, {v["employer_raw"]} AS employer_raw,
                    {v["period_text"]} AS period_text, {v["total_text"]} AS total_text, {texts} pk.staged, pk.staged_ok, pk.registry_id,
                    ek.staged AS e_staged, ek.staged_ok AS e_staged_ok, ek.registry_id AS e_registry_id, {cells}
                FROM {raw} r
                JOIN cons_person_keys pk ON pk.raw = {v["person_raw"]}
                LEFT JOIN cons_employer_keys ek ON ek.raw = {v["employer_raw"]}
                WHERE NOT {blank_line(width)} {where}
                OFFSET 0
            ) w
            OFFSET 0
        ) x
        CROSS JOIN LATERAL (SELECT x.staged, x.staged_ok, x.registry_id) pk
        CROSS JOIN LATERAL (SELECT x.e_staged AS staged, x.e_staged_ok AS staged_ok, x.e_registry_id AS registry_id) ek
        ) y
    """


def typed_values(columns: dict[str, int], alias: str = "t") -> dict[str, Any]:
    """SQL expressions of a plain line's values on the typed table (``alias``; see history_values): the person
    and employer texts trimmed, the period, the total, and per insurance of the file its base, employer and
    individual amount (NULL when empty or when the file lacks the column)."""

    def amount(key: str) -> str:
        return f"{alias}.c{columns[key] + 1}" if key in columns else "NULL::numeric"

    def text(key: str) -> str:
        return f"btrim({alias}.c{columns[key] + 1})" if key in columns else "''::text"

    return {
        "person_raw": text("id_number"),
        "employer_raw": text("employer_code"),
        "period": f"{alias}.c{columns['period'] + 1}",
        "total": amount("total"),
        "groups": [
            (i, amount(f"{i}_base"), amount(f"{i}_employer"), amount(f"{i}_individual"))
            for i in history_insurances(columns)
        ],
    }


def typed_filled(group: tuple[str, str, str, str]) -> str:
    return f"({group[1]} IS NOT NULL OR {group[2]} IS NOT NULL OR {group[3]} IS NOT NULL)"


def typed_amount(groups: list) -> str:
    """The line's amount paid (every insurance's employer and individual amounts, an empty one 0)."""
    return " + ".join(f"coalesce({g[2]}, 0) + coalesce({g[3]}, 0)" for g in groups) or "0"


def _typed_problem_sql(columns: dict[str, int], typed: str) -> str:
    """SELECT line_no, problem, amount of the plain lines on the typed table: whether the line has a problem (the
    bad lines' reasons and texts come from the exact check of their raw cells, ``history_problem_sql``). A plain
    line's cells are amounts and its period a month: what is left is the references, a future month, a base
    missing, no insurance filled, and the total."""
    t = typed_values(columns)
    missing_base = " OR ".join(f"({g[1]} IS NULL AND ({g[2]} IS NOT NULL OR {g[3]} IS NOT NULL))" for g in t["groups"])
    filled_any = " OR ".join(typed_filled(g) for g in t["groups"]) or "false"
    # Each value computed once, in a fenced inner query (the amount is compared with the total and summed).
    return f"""
        SELECT x.line_no, x.amount,
            CASE {_PERSON_REF_PROBLEM.format(raw="x.person_raw")}
                 WHEN x.period > %(this_month)s THEN 'period_future'
                 WHEN x.base_missing THEN 'base'
                 WHEN NOT x.filled THEN 'no_insurance'
                 WHEN x.total <> x.amount THEN 'amount_sum'
                 {_EMPLOYER_REF_PROBLEM.format(raw="x.employer_raw")}
            END AS problem
        FROM (
            SELECT t.line_no, {t["person_raw"]} AS person_raw, {t["employer_raw"]} AS employer_raw,
                {t["period"]} AS period, {t["total"]} AS total, {typed_amount(t["groups"])} AS amount,
                ({missing_base or "false"}) AS base_missing, ({filled_any}) AS filled
            FROM {typed} t
            WHERE {t["period"]} IS NOT NULL
            OFFSET 0
        ) x
        JOIN cons_person_keys pk ON pk.raw = x.person_raw
        LEFT JOIN cons_employer_keys ek ON ek.raw = x.employer_raw
    """


_CHECK_SUMS = """
    SELECT count(*), coalesce(sum(c.amount), 0),
        coalesce(array_agg(c.line_no) FILTER (WHERE c.problem IS NOT NULL), ARRAY[]::bigint[])
    FROM ({}) c
"""


def _check_history(ctx: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One pass over the lines: the problem of each, what the file delivers (lines, and the sum of the amounts of
    the lines whose amounts are readable: the first figures of the reconciliation) and the numbers of the bad
    lines; then the bad lines are written with their reason and text (looked up by line number). With a typed
    table (the screen passed the file) the plain lines are checked there and only the others cell by cell."""
    columns, batch_file = ctx["columns"], ctx["file"]
    raw, unplain = batch_file.raw_table, ctx.get("unplain")
    v = history_values(columns)
    today = timezone.localdate()
    params = {**_params(ctx), "this_month": today.year * 100 + today.month, "kind": FileKind.HISTORY}
    with connection.cursor() as cur:
        person_keys(cur, ctx, v["person_raw"])
        employer_keys(cur, ctx, v["employer_raw"])
        if unplain is None:
            cur.execute(_CHECK_SUMS.format(history_problem_sql(columns, ctx["width"], raw)), params)
            rows, amount, bad_lines = cur.fetchone()
        else:
            cur.execute(_CHECK_SUMS.format(_typed_problem_sql(columns, batch_file.typed_table)), params)
            rows, amount, bad_lines = cur.fetchone()
            if unplain:
                exact = history_problem_sql(columns, ctx["width"], raw, where="AND r.line_no = ANY(%(unplain)s)")
                cur.execute(_CHECK_SUMS.format(exact), {**params, "unplain": unplain})
                more = cur.fetchone()
                rows, amount, bad_lines = rows + more[0], amount + more[1], bad_lines + more[2]
        if bad_lines:
            checked = history_problem_sql(columns, ctx["width"], raw, where="AND r.line_no = ANY(%(bad)s)")
            cur.execute(
                f"""
                INSERT INTO {REJECTED_LINE_TABLE} (batch_id, kind, line_no, code, detail, raw, amount)
                SELECT %(batch)s, %(kind)s, c.line_no + %(offset)s, c.problem, left(c.detail, 300), c.raw_json, c.amount
                FROM ({checked}) c
                WHERE c.problem IS NOT NULL
                """,
                {**params, "bad": bad_lines},
            )
        temp_drop(cur, "cons_person_keys", "cons_employer_keys")
    return len(bad_lines), {"rows": rows, "amount": str(amount)}


STAGERS = {
    FileKind.EMPLOYERS: _stage_employers,
    FileKind.PERSONS: _stage_persons,
    FileKind.ENROLLMENTS: _stage_enrollments,
    FileKind.HISTORY: _check_history,
}
