"""Applying a batch's monthly contribution history (inside the apply transaction of services.apply): one
INSERT … SELECT from the raw table into ``contributions.ContributionHistory`` for the lines of imported persons;
the lines of held persons wait in ``StagedHistory``; the rest is accounted for line by line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction

from consolidation.models import BatchStatus, FileKind, ImportBatch
from consolidation.services.apply_common import params
from consolidation.services.apply_persons import employer_map, person_map
from consolidation.services.load import (
    history_filled,
    history_money,
    history_values,
    key_sql,
    typed_filled,
    typed_values,
)
from consolidation.sql import (
    EMPLOYER_TABLE,
    HISTORY_TABLE,
    OFFICE_TABLE,
    PERSON_TABLE,
    REJECTED_LINE_TABLE,
    STAGED_HISTORY_TABLE,
    STAGED_PERSON_TABLE,
    analyze,
    blank_line,
    raw_columns,
    table_exists,
    temp_drop,
)
from contributions.models import HISTORY_INSURANCES
from contributions.services import contribution_history_insert_select
from registry.bulk import rows_lock_key_share

ZERO = Decimal("0.00")


def _p(ctx: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return params(ctx, **extra)


def _amount(v: dict[str, Any]) -> str:
    """The line's amount paid (its insurances' employer and individual amounts; checked lines only)."""
    terms = [f"CASE WHEN {history_filled(g)} THEN {history_money(g[2])} + {history_money(g[3])} ELSE 0 END"
             for g in v["groups"]]  # fmt: skip
    return " + ".join(terms) or "0"


def _columns(v: dict[str, Any]) -> list[tuple[str, str]]:
    """(column, SQL value) of every insurance column of the history table, in HISTORY_INSERT_COLUMNS order: the
    file's insurances filled on the line as checked amounts, the rest NULL."""
    groups = {g[0]: g for g in v["groups"]}
    out = []
    for insurance in HISTORY_INSURANCES:
        g = groups.get(insurance)
        for part, text in zip(("base", "employer", "individual"), g[1:] if g else ("", "", ""), strict=True):
            value = f"CASE WHEN {history_filled(g)} THEN {history_money(text)} END" if g else "NULL::numeric"
            out.append((f"{insurance}_{part}", value))
    return out


def history_apply(ctx: dict[str, Any]) -> dict[str, Any]:
    """Load the history; returns the counts and sums of every kind of line for the reconciliation."""
    batch_file = ctx["files"].get(FileKind.HISTORY)
    if batch_file is None:
        return {}
    p = _p(ctx, kind=FileKind.HISTORY)
    v = history_values(batch_file.columns)
    raw, width = batch_file.raw_table, len(batch_file.header)
    with connection.cursor() as cur:
        _keys(cur, p, v, raw)
        rejected_rows, rejected_amount = _rejected_lines(cur, p)
        if ctx["triggers_off"]:
            rows_lock_key_share(table=PERSON_TABLE, ids_sql="SELECT person_id FROM cons_hp WHERE state = 'ok'")
            rows_lock_key_share(table=EMPLOYER_TABLE, ids_sql="SELECT employer_id FROM cons_he")
            rows_lock_key_share(table=OFFICE_TABLE, ids_sql="SELECT %s::bigint", params=[p["district"]])
        source = (
            f"""
            FROM {raw} r
            JOIN cons_hp hp ON hp.raw = {v["person_raw"]} AND hp.state = 'ok'
            LEFT JOIN cons_he he ON he.raw = {v["employer_raw"]}
            """,
            f"NOT EXISTS (SELECT 1 FROM cons_bad b WHERE b.line_no = r.line_no) AND NOT {blank_line(width)}",
        )
        inserted, keys = _insert(cur, ctx, p, v, source)
        other = _held_and_not_imported(cur, p, v, raw, width)
        received = batch_file.totals
        selected = received["rows"] - rejected_rows - other["held_rows"] - other["not_imported_rows"]
        skipped = _skipped(cur, p, v, raw, width, keys, selected=selected, inserted=inserted)
        loaded_rows, loaded_amount = _loaded(cur, p)
        overlap = _overlap_months(cur, p)
        temp_drop(cur, "cons_hp", "cons_he", "cons_bad", "cons_hdup")
    return {
        "received_rows": received["rows"],
        "received_amount": Decimal(received["amount"]),
        "rejected_check_rows": rejected_rows,
        "rejected_check_amount": Decimal(rejected_amount),
        "inserted_rows": inserted,
        "loaded_rows": loaded_rows,
        "loaded_amount": Decimal(loaded_amount),
        "overlap_months": overlap,
        **other,
        **skipped,
    }


def _rejected_lines(cur, p: dict[str, Any]) -> tuple[int, Any]:
    """Count and sum of the history lines the checks rejected, and ``cons_bad``: their raw line numbers."""
    cur.execute(
        f"SELECT count(*), coalesce(sum(amount), 0) FROM {REJECTED_LINE_TABLE} "
        "WHERE batch_id = %(batch)s AND kind = %(kind)s",
        p,
    )
    rejected = cur.fetchone()
    temp_drop(cur, "cons_bad")
    cur.execute(
        f"CREATE TEMP TABLE cons_bad ON COMMIT DROP AS SELECT line_no - 1 AS line_no FROM {REJECTED_LINE_TABLE} "
        "WHERE batch_id = %(batch)s AND kind = %(kind)s",
        p,
    )
    cur.execute("CREATE UNIQUE INDEX ON cons_bad (line_no)")
    analyze(cur, "cons_bad")
    return rejected


def _loaded(cur, p: dict[str, Any]) -> tuple[int, Any]:
    """Count and sum of the history rows the batch holds now."""
    cur.execute(
        f"SELECT count(*), coalesce(sum(amount), 0) FROM {HISTORY_TABLE} WHERE source_batch_id = %(batch)s",
        p,
    )
    return cur.fetchone()


def _insert(cur, ctx: dict[str, Any], p: dict[str, Any], v: dict[str, str], source: tuple[str, str]) -> tuple[int, str]:
    """The history of the imported persons into the contribution record, but for the file's own repeats of a month
    (``_duplicates``: only its first line is written). When the district has no history there yet, a plain INSERT
    (no month can be recorded already); else the INSERT that skips what is recorded. Returns the rows written and
    the SELECT of the selected lines' keys (``_key_select``)."""
    batch_file = ctx["files"][FileKind.HISTORY]
    typed = batch_file.typed_table if table_exists(batch_file.typed_table) else None
    if typed is not None:
        columns = typed_values(batch_file.columns)
        cur.execute(f"SELECT coalesce(array_agg(line_no), '{{}}') FROM {typed} t WHERE {columns['period']} IS NULL")
        p["unplain"] = cur.fetchone()[0]
    keys = _key_select(ctx, p, v, source, typed)
    _duplicates(cur, p, keys)
    select = _select(ctx, p, v, source, typed)
    # "Has the district history here yet?" asked of its applied batches, not of the history table: that table has no
    # index on the district, and with other districts' tens of millions of rows and none of this one the question
    # would read them all. Only a hint: a wrong "no" costs the savepoint below, never a doubled month.
    earlier = ImportBatch.objects.filter(district_id=p["district"], status=BatchStatus.APPLIED).exclude(pk=p["batch"])
    if not earlier.exists():
        try:
            with transaction.atomic():
                inserted = contribution_history_insert_select(
                    select_sql=select, params=p, triggers_off=ctx["triggers_off"], skip_existing=False
                )
            return inserted, keys
        except IntegrityError:
            pass  # a month recorded all the same: the savepoint is rolled back, the skipping INSERT follows
    return contribution_history_insert_select(select_sql=select, params=p, triggers_off=ctx["triggers_off"]), keys


def _key_select(
    ctx: dict[str, Any], p: dict[str, Any], v: dict[str, str], source: tuple[str, str], typed: str | None
) -> str:
    """SELECT line_no, person_id, period of the lines ``_select`` writes (the file's repeats included): the plain
    lines' period as stored in the typed table, the others' parsed from the raw table."""
    parsed = f"""
        SELECT r.line_no, hp.person_id, {v["period"]} AS period
        {source[0]} WHERE {source[1]} {"AND r.line_no = ANY(%(unplain)s)" if typed else ""}
    """
    if typed is None:
        return parsed
    columns = typed_values(ctx["files"][FileKind.HISTORY].columns)
    return f"""
        SELECT t.line_no, hp.person_id, {columns["period"]} AS period
        FROM {typed} t
        JOIN cons_hp hp ON hp.raw = {columns["person_raw"]} AND hp.state = 'ok'
        WHERE {columns["period"]} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM cons_bad b WHERE b.line_no = t.line_no)
        {"UNION ALL " + parsed if p["unplain"] else ""}
    """


def _duplicates(cur, p: dict[str, Any], keys: str) -> None:
    """``cons_hdup`` (line_no, person_id, period, first_line): the selected lines repeating the person and month of
    an earlier line of the file (``first_line``, the first of them), found before the INSERT, which leaves them out.
    One sort of the selected lines' keys: the INSERT no longer fails on them (a plain INSERT thrown away), and
    what it skipped needs no search line by line through the history afterwards."""
    temp_drop(cur, "cons_hdup")
    cur.execute(
        f"""
        CREATE TEMP TABLE cons_hdup ON COMMIT DROP AS
        SELECT d.line_no, d.person_id, d.period, d.first_line FROM (
            SELECT k.line_no, k.person_id, k.period, first_value(k.line_no) OVER w AS first_line,
                row_number() OVER w AS n
            FROM ({keys}) k
            WINDOW w AS (PARTITION BY k.person_id, k.period ORDER BY k.line_no)
        ) d
        WHERE d.n > 1
        """,
        p,
    )
    analyze(cur, "cons_hdup")


def _select(
    ctx: dict[str, Any], p: dict[str, Any], v: dict[str, str], source: tuple[str, str], typed: str | None
) -> str:
    """The history rows to write (HISTORY_INSERT_COLUMNS) but the file's repeats (``cons_hdup``). With a typed table
    (services/load.py) the plain lines' values are read as stored there and only the other lines' cells are
    parsed from the raw table (found by their line numbers, in ``p["unplain"]``); without, every line's cells are
    parsed."""
    # Each cell trimmed once, in a fenced inner query: the values test each insurance's three cells.
    texts = "".join(f"{b} AS {i}_b, {e} AS {i}_e, {n} AS {i}_i, " for i, b, e, n in v["groups"])
    fenced = {**v, "groups": [(g[0], f"t.{g[0]}_b", f"t.{g[0]}_e", f"t.{g[0]}_i") for g in v["groups"]]}
    not_repeat = "NOT EXISTS (SELECT 1 FROM cons_hdup d WHERE d.line_no = {}.line_no)"
    parsed = f"""
        SELECT t.person_id, t.employer_id, t.period, {", ".join(value for _c, value in _columns(fenced))},
            %(district)s, %(batch)s, t.line_no + 1, %(now)s
        FROM (
            SELECT hp.person_id, he.employer_id, {v["period"]} AS period, {texts} r.line_no
            {source[0]} WHERE {source[1]} AND {not_repeat.format("r")}
                {"AND r.line_no = ANY(%(unplain)s)" if typed else ""}
            OFFSET 0
        ) t
    """
    if typed is None:
        return parsed
    columns = typed_values(ctx["files"][FileKind.HISTORY].columns)
    # The amounts and whether each insurance is filled, once per line in a fenced inner query.
    cells = "".join(f"{b} AS {i}_b, {e} AS {i}_e, {n} AS {i}_i, {typed_filled(g)} AS {i}_f, "
                    for g in columns["groups"] for i, b, e, n in [g])  # fmt: skip
    fenced_typed = {"groups": [(i, f"x.{i}_b", f"x.{i}_e", f"x.{i}_i") for i, *_rest in columns["groups"]]}
    values = ", ".join(value for _c, value in _typed_columns(fenced_typed))
    return f"""
        SELECT x.person_id, x.employer_id, x.period, {values}, %(district)s, %(batch)s, x.line_no + 1, %(now)s
        FROM (
            SELECT hp.person_id, he.employer_id, {columns["period"]} AS period, {cells} t.line_no
            FROM {typed} t
            JOIN cons_hp hp ON hp.raw = {columns["person_raw"]} AND hp.state = 'ok'
            LEFT JOIN cons_he he ON he.raw = {columns["employer_raw"]}
            WHERE {columns["period"]} IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM cons_bad b WHERE b.line_no = t.line_no) AND {not_repeat.format("t")}
            OFFSET 0
        ) x
        {"UNION ALL " + parsed if p["unplain"] else ""}
    """


def _typed_columns(fenced: dict[str, Any]) -> list[tuple[str, str]]:
    """(column, SQL value) as ``_columns`` on the fenced typed values ``x`` (``x.<insurance>_f``: the line fills
    the insurance): an insurance the line fills has its amounts (an empty one 0), the others NULL."""
    groups = {g[0]: g for g in fenced["groups"]}
    out = []
    for insurance in HISTORY_INSURANCES:
        g = groups.get(insurance)
        for part, value in zip(("base", "employer", "individual"), g[1:] if g else ("", "", ""), strict=True):
            out.append(
                (
                    f"{insurance}_{part}",
                    f"CASE WHEN x.{insurance}_f THEN coalesce({value}, 0) END" if g else "NULL::numeric",
                )
            )
    return out


def _keys(cur, p: dict[str, Any], v: dict[str, str], raw: str) -> None:
    """``cons_hp`` (raw person text → state, person, held line) and ``cons_he`` (raw employer text → employer)."""
    person_map(cur, p)
    employer_map(cur, p)
    temp_drop(cur, "cons_hp", "cons_he")
    cur.execute(
        f"""
        CREATE TEMP TABLE cons_hp ON COMMIT DROP AS
        SELECT k.raw, coalesce(pm.state, CASE WHEN rp.id IS NOT NULL THEN 'ok' ELSE 'rejected' END) AS state,
            coalesce(pm.person_id, rp.merged_into_id, rp.id) AS person_id, pm.staged_id
        FROM ({key_sql(raw, v["person_raw"])}) k
        LEFT JOIN cons_pmap pm ON pm.key = k.key
        LEFT JOIN {PERSON_TABLE} rp ON pm.key IS NULL AND rp.id_number = k.key
        """,
        p,
    )
    cur.execute("CREATE UNIQUE INDEX ON cons_hp (raw)")
    analyze(cur, "cons_hp")
    cur.execute(
        f"""
        CREATE TEMP TABLE cons_he ON COMMIT DROP AS
        SELECT d.raw, coalesce(em.employer_id, e.id, eo.id) AS employer_id
        FROM (SELECT DISTINCT {v["employer_raw"]} AS raw FROM {raw} r) d
        CROSS JOIN LATERAL (SELECT consolidation_code_norm(d.raw) AS key) k
        LEFT JOIN cons_emap em ON em.key = k.key
        LEFT JOIN {EMPLOYER_TABLE} e ON em.key IS NULL AND e.credit_code = k.key
        LEFT JOIN LATERAL (
            SELECT min(e2.id) AS id FROM {EMPLOYER_TABLE} e2
            WHERE em.key IS NULL AND e.id IS NULL AND length(k.key) = 9 AND substr(e2.credit_code, 9, 9) = k.key
            HAVING count(*) = 1
        ) eo ON true
        WHERE d.raw <> ''
        """
    )
    cur.execute("CREATE UNIQUE INDEX ON cons_he (raw)")
    analyze(cur, "cons_he")


def _held_and_not_imported(cur, p: dict[str, Any], v: dict[str, str], raw: str, width: int) -> dict[str, Any]:
    """Lines of held persons go to StagedHistory; lines of persons not imported become rejected lines."""
    cur.execute("SELECT count(*) FROM cons_hp WHERE state <> 'ok'")
    if not cur.fetchone()[0]:
        return {"held_rows": 0, "held_amount": ZERO, "not_imported_rows": 0, "not_imported_amount": ZERO}
    temp_drop(cur, "cons_hother")
    values = ", ".join(f"'{column}', ({value})::text" for column, value in _columns(v) if value != "NULL::numeric")
    cur.execute(
        f"""
        CREATE TEMP TABLE cons_hother ON COMMIT DROP AS
        SELECT r.line_no, hp.state, hp.staged_id, he.employer_id, {v["period"]} AS period,
            jsonb_strip_nulls(jsonb_build_object({values})) AS "values", {_amount(v)} AS amount,
            to_jsonb(ARRAY[{raw_columns(width)}]) AS raw,
            concat_ws('|', {v["person_raw"]}, '', {v["period_text"]}) AS detail
        FROM {raw} r
        JOIN cons_hp hp ON hp.raw = {v["person_raw"]} AND hp.state <> 'ok'
        LEFT JOIN cons_he he ON he.raw = {v["employer_raw"]}
        WHERE NOT EXISTS (SELECT 1 FROM cons_bad b WHERE b.line_no = r.line_no) AND NOT {blank_line(width)}
        """
    )
    cur.execute(
        f"""
        INSERT INTO {STAGED_HISTORY_TABLE} (batch_id, line_no, staged_person_id, employer_id, period, "values",
            amount, history_id, raw)
        SELECT %(batch)s, line_no + 1, staged_id, employer_id, period, "values", amount, NULL, raw
        FROM cons_hother WHERE state = 'held'
        """,
        p,
    )
    cur.execute(
        f"""
        INSERT INTO {REJECTED_LINE_TABLE} (batch_id, kind, line_no, code, detail, raw, amount)
        SELECT %(batch)s, %(kind)s, line_no + 1, 'person_not_imported', left(detail, 300), raw, amount
        FROM cons_hother WHERE state <> 'held'
        """,
        p,
    )
    cur.execute(
        """
        SELECT count(*) FILTER (WHERE state = 'held'), coalesce(sum(amount) FILTER (WHERE state = 'held'), 0),
            count(*) FILTER (WHERE state <> 'held'), coalesce(sum(amount) FILTER (WHERE state <> 'held'), 0)
        FROM cons_hother
        """
    )
    held_rows, held_amount, not_rows, not_amount = cur.fetchone()
    temp_drop(cur, "cons_hother")
    return {
        "held_rows": held_rows,
        "held_amount": Decimal(held_amount),
        "not_imported_rows": not_rows,
        "not_imported_amount": Decimal(not_amount),
    }


def _no_skipped() -> dict[str, Any]:
    return dict.fromkeys(("present_rows", "duplicate_rows", "differs_rows"), 0) | dict.fromkeys(
        ("present_amount", "duplicate_amount", "differs_amount"), ZERO
    )


def _skipped(
    cur, p: dict[str, Any], v: dict[str, str], raw: str, width: int, keys: str, *, selected: int, inserted: int
) -> dict[str, Any]:
    """Lines not written: a repeat of an earlier line of this file (``cons_hdup``: a duplicate, not imported) and
    lines whose person, month and district an earlier batch recorded, with the same amounts (present: nothing
    changes) or with other amounts (not imported; history is never rewritten) — and so are the file's repeats of
    such a month. Only these lines are looked up in the history and have their cells parsed."""
    cur.execute("SELECT count(*) FROM cons_hdup")
    repeats = cur.fetchone()[0]
    if not repeats and selected <= inserted:
        return _no_skipped()
    temp_drop(cur, "cons_hmissed", "cons_skipped")
    _missed_lines(cur, p, keys, find=selected - repeats > inserted)
    _skipped_lines(cur, p, v, raw, width)
    cur.execute(
        f"""
        INSERT INTO {REJECTED_LINE_TABLE} (batch_id, kind, line_no, code, detail, raw, amount)
        SELECT %(batch)s, %(kind)s, line_no + 1,
            CASE WHEN same_batch THEN 'duplicate_in_file' ELSE 'differs_from_loaded' END,
            CASE WHEN same_batch THEN source_line::text ELSE loaded::text END, raw, amount
        FROM cons_skipped WHERE same_batch OR NOT same_amounts
        """,
        p,
    )
    cur.execute(
        """
        SELECT count(*) FILTER (WHERE NOT same_batch AND same_amounts),
            coalesce(sum(amount) FILTER (WHERE NOT same_batch AND same_amounts), 0),
            count(*) FILTER (WHERE same_batch), coalesce(sum(amount) FILTER (WHERE same_batch), 0),
            count(*) FILTER (WHERE NOT same_batch AND NOT same_amounts),
            coalesce(sum(amount) FILTER (WHERE NOT same_batch AND NOT same_amounts), 0)
        FROM cons_skipped
        """
    )
    present, present_amount, duplicate, duplicate_amount, differs, differs_amount = cur.fetchone()
    temp_drop(cur, "cons_hmissed", "cons_skipped")
    return {
        "present_rows": present,
        "present_amount": Decimal(present_amount),
        "duplicate_rows": duplicate,
        "duplicate_amount": Decimal(duplicate_amount),
        "differs_rows": differs,
        "differs_amount": Decimal(differs_amount),
    }


def _missed_lines(cur, p: dict[str, Any], keys: str, *, find: bool) -> None:
    """``cons_hmissed``: the selected lines the INSERT skipped (``find``: it skipped some), but the repeats."""
    if find:
        # The lines the INSERT skipped: the selected ones, but the repeats and the lines of the rows it wrote — an
        # anti-join on line numbers (the batch's rows by the BRIN index on source_batch_id), no lookup per line.
        cur.execute(
            f"""
            CREATE TEMP TABLE cons_hmissed ON COMMIT DROP AS
            SELECT k.line_no, k.person_id, k.period FROM ({keys}) k
            WHERE NOT EXISTS (SELECT 1 FROM cons_hdup d WHERE d.line_no = k.line_no)
                AND NOT EXISTS (SELECT 1 FROM {HISTORY_TABLE} h
                                WHERE h.source_batch_id = %(batch)s AND h.source_line = k.line_no + 1)
            """,
            p,
        )
    else:
        cur.execute("CREATE TEMP TABLE cons_hmissed (line_no bigint, person_id bigint, period integer) ON COMMIT DROP")
    analyze(cur, "cons_hmissed")


def _skipped_lines(cur, p: dict[str, Any], v: dict[str, str], raw: str, width: int) -> None:
    """``cons_skipped``: the skipped lines and the file's repeats, each with the history row it met (or, for a
    repeat of a line that was written, its first line), its amounts and its raw cells."""
    same = " AND ".join(f"x.{column} IS NOT DISTINCT FROM {value}" for column, value in _columns(v))
    missed = "EXISTS (SELECT 1 FROM cons_hmissed m WHERE m.line_no = d.first_line)"
    cur.execute(
        f"""
        CREATE TEMP TABLE cons_skipped ON COMMIT DROP AS
        SELECT s.line_no, x.source_batch_id = %(batch)s AS same_batch, x.source_line,
            {same} AS same_amounts, x.amount AS loaded, {_amount(v)} AS amount,
            to_jsonb(ARRAY[{raw_columns(width)}]) AS raw
        FROM (
            SELECT line_no, person_id, period FROM cons_hmissed
            UNION ALL
            SELECT d.line_no, d.person_id, d.period FROM cons_hdup d WHERE {missed}
        ) s
        JOIN {raw} r ON r.line_no = s.line_no
        JOIN {HISTORY_TABLE} x ON x.person_id = s.person_id AND x.period = s.period
            AND x.office_id = %(district)s AND x.source_batch_id IS NOT NULL
        UNION ALL
        SELECT d.line_no, true, d.first_line + 1, NULL, NULL, {_amount(v)}, to_jsonb(ARRAY[{raw_columns(width)}])
        FROM cons_hdup d
        JOIN {raw} r ON r.line_no = d.line_no
        WHERE NOT {missed}
        """,
        p,
    )


def _overlap_months(cur, p: dict[str, Any]) -> int:
    """Months this batch loaded for persons already registered that another district's history also records
    (both rows kept, the month counted once in the person's paid months; reported here)."""
    cur.execute(
        f"""
        SELECT count(DISTINCT n.id) FROM {HISTORY_TABLE} n
        JOIN {HISTORY_TABLE} o ON o.person_id = n.person_id AND o.period = n.period
            AND o.office_id <> n.office_id
        WHERE n.source_batch_id = %(batch)s AND n.person_id IN (
            SELECT person_id FROM {STAGED_PERSON_TABLE}
            WHERE batch_id = %(batch)s AND outcome IN ('matched', 'duplicate') AND person_id IS NOT NULL)
        """,
        p,
    )
    return cur.fetchone()[0]
