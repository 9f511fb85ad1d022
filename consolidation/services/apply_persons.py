"""Applying a batch's persons and enrollments (inside the apply transaction of services.apply)."""

from __future__ import annotations

from typing import Any

from django.db import connection

from consolidation.models import FileKind
from consolidation.services.apply_common import params, rejected_from_raw
from consolidation.sql import (
    CONFLICT_CANDIDATE_TABLE,
    CONFLICT_TABLE,
    EMPLOYER_TABLE,
    ENROLLMENT_TABLE,
    OFFICE_TABLE,
    PERSON_TABLE,
    STAGED_EMPLOYER_TABLE,
    STAGED_ENROLLMENT_TABLE,
    STAGED_PERSON_TABLE,
    analyze,
    temp_drop,
)
from registry.bulk import enrollments_insert_select, persons_insert_select, rows_lock_key_share

# Fuzzy candidates: scores out of 100 and what each part says (the reasons shown to the clerk).
SCORE_BLOCK = 20  # same birth date and sex (the block every candidate shares)
SCORE_NAME_SAME, SCORE_NAME_PINYIN = 40, 35
SCORE_ID_BODY, SCORE_ID_NEAR = 40, 35
MIN_PINYIN_SIMILARITY = 0.5  # pg_trgm similarity of the full pinyin, below which names do not match
MAX_CANDIDATES = 3


def _p(ctx: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return params(ctx, **extra)


def persons_apply(ctx: dict[str, Any]) -> None:
    if FileKind.PERSONS not in ctx["files"]:
        return
    p = _p(ctx)
    with connection.cursor() as cur:
        _exact(cur, p)
        _create(cur, ctx, p)
        temp_drop(cur, "cons_candidates")
        cur.execute(
            "CREATE TEMP TABLE cons_candidates (staged_id bigint, person_id bigint, kind text, score int, "
            "reasons text[]) ON COMMIT DROP"
        )
        _pair_candidates(cur, p)
        _held_candidates(cur, p)
        _field_conflicts(cur, p)
        _conflicts_write(cur, p)
        temp_drop(cur, "cons_candidates")
    _rejected(ctx, p)


def _exact(cur, p: dict[str, Any]) -> None:
    # Sure: the same valid number (a tombstone's number gives its survivor). A name whose pinyin differs is
    # flagged for a field conflict; a homophone written with other characters is the same name.
    cur.execute(
        f"""
        UPDATE {STAGED_PERSON_TABLE} s SET outcome = 'matched', person_id = coalesce(p.merged_into_id, p.id),
            name_differs = (s.name <> p.name AND s.name_pinyin <> p.name_pinyin)
        FROM {PERSON_TABLE} p
        WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND s.id_number <> '' AND p.id_number = s.id_number
        """,
        p,
    )
    cur.execute(
        f"""
        UPDATE {STAGED_PERSON_TABLE} s SET outcome = 'duplicate'
        FROM (SELECT id_number, min(line_no) AS first FROM {STAGED_PERSON_TABLE}
              WHERE batch_id = %(batch)s AND outcome IN ('pending', 'matched') AND id_number <> ''
              GROUP BY id_number HAVING count(*) > 1) d
        WHERE s.batch_id = %(batch)s AND s.outcome IN ('pending', 'matched') AND s.id_number = d.id_number
          AND s.line_no > d.first
        """,
        p,
    )


def _create(cur, ctx: dict[str, Any], p: dict[str, Any]) -> None:
    if ctx["triggers_off"]:
        rows_lock_key_share(
            table=OFFICE_TABLE,
            ids_sql=f"SELECT office_id FROM {STAGED_PERSON_TABLE} WHERE batch_id = %s AND outcome = 'pending'",
            params=[p["batch"]],
        )
    # A card number goes with its first line, unless the registry already has it.
    created = persons_insert_select(
        select_sql=f"""
            SELECT gen_random_uuid(), s.id_number, s.name, s.name_pinyin, s.name_initials,
                CASE WHEN substr(s.id_number, 17, 1)::int %% 2 = 1 THEN 'M' ELSE 'F' END,
                consolidation_ymd(substr(s.id_number, 7, 8)), s.household_type, s.phone, s.address, s.office_id,
                c.card, CASE WHEN c.card IS NULL THEN 'none' ELSE 'active' END, %(now)s, %(now)s
            FROM {STAGED_PERSON_TABLE} s
            LEFT JOIN (SELECT card_number, min(line_no) AS first FROM {STAGED_PERSON_TABLE}
                       WHERE batch_id = %(batch)s AND outcome = 'pending' AND id_number <> '' AND card_number <> ''
                       GROUP BY card_number) fc ON fc.card_number = s.card_number
            LEFT JOIN {PERSON_TABLE} x ON x.card_number = s.card_number
            CROSS JOIN LATERAL (SELECT CASE WHEN s.card_number <> '' AND x.id IS NULL AND fc.first = s.line_no
                                            THEN s.card_number END AS card) c
            WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND s.id_number <> ''
            ORDER BY s.line_no
        """,
        params=p,
        triggers_off=ctx["triggers_off"],
    )
    if created:
        cur.execute(
            f"""
            UPDATE {STAGED_PERSON_TABLE} s SET outcome = 'created', person_id = x.id
            FROM {PERSON_TABLE} x JOIN bulk_new_persons n ON n.id = x.id
            WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND x.id_number = s.id_number
            """,
            p,
        )
    cur.execute(
        f"""
        UPDATE {STAGED_PERSON_TABLE} s SET person_id = l.person_id
        FROM {STAGED_PERSON_TABLE} l
        WHERE s.batch_id = %(batch)s AND s.outcome = 'duplicate' AND l.batch_id = %(batch)s
          AND l.id_number = s.id_number AND l.outcome IN ('matched', 'created')
        """,
        p,
    )
    analyze(cur, STAGED_PERSON_TABLE)


# Persons whose number came from a 15-digit number (no check character: a typo in it cannot be seen).
_UNCHECKED = f"""
    SELECT DISTINCT person_id AS id FROM {STAGED_PERSON_TABLE}
    WHERE outcome = 'created' AND id_kind = 'converted15' AND person_id IS NOT NULL
"""


def _pair_candidates(cur, p: dict[str, Any]) -> None:
    """A person created now who may be one already registered: same birth date and sex, the same name (or its
    pinyin), ID bodies one digit or two neighbouring digits apart, and at least one of the two numbers without a
    check character (two checked numbers that differ are two persons). Two joins rather than one with an OR, so
    each is a hash join on the block: new unchecked × registry, new × registry unchecked."""
    temp_drop(cur, "cons_unchecked")
    cur.execute(f"CREATE TEMP TABLE cons_unchecked ON COMMIT DROP AS {_UNCHECKED}")
    analyze(cur, "cons_unchecked")
    pair = f"""
        INSERT INTO cons_candidates (staged_id, person_id, kind, score, reasons)
        SELECT s.id, e.id, 'pair',
            {SCORE_BLOCK} + CASE WHEN e.name = s.name THEN {SCORE_NAME_SAME} ELSE {SCORE_NAME_PINYIN} END + {SCORE_ID_NEAR},
            ARRAY['birth_sex', CASE WHEN e.name = s.name THEN 'name_same' ELSE 'name_pinyin' END,
                  'id_' || consolidation_id_relation(left(e.id_number, 17), s.id_body), 'id_15']
        FROM {STAGED_PERSON_TABLE} s
        JOIN {PERSON_TABLE} e ON e.birth_date = s.birth_date AND e.sex = s.sex
        WHERE s.batch_id = %(batch)s AND s.outcome = 'created' AND e.id < s.person_id AND e.merged_into_id IS NULL
          AND (e.name = s.name OR e.name_pinyin = s.name_pinyin)
          AND consolidation_id_relation(left(e.id_number, 17), s.id_body) IN ('digit', 'swap')
          AND {{unchecked}}
    """
    cur.execute(pair.format(unchecked="s.id_kind = 'converted15'"), p)
    cur.execute(
        pair.format(
            unchecked="s.id_kind = 'checked' AND e.id IN (SELECT id FROM cons_unchecked)"
            " AND NOT EXISTS (SELECT 1 FROM cons_candidates c WHERE c.staged_id = s.id AND c.person_id = e.id)"
        ),
        p,
    )
    # A pair found from both sides within this batch is kept once (from the later person, e.id < s.person_id).
    temp_drop(cur, "cons_unchecked")


def _held_candidates(cur, p: dict[str, Any]) -> None:
    """Lines with an invalid or missing number: candidates in the block of birth date and sex whose name is the
    same, or has the same or similar pinyin (pg_trgm); the digits of the numbers add to the score. Only the check
    character wrong with the same name (or pinyin), and one such candidate, is sure: merged at once."""
    cur.execute(
        f"""
        INSERT INTO cons_candidates (staged_id, person_id, kind, score, reasons)
        SELECT x.staged_id, x.person_id, 'held',
            {SCORE_BLOCK}
            + CASE WHEN x.name_same THEN {SCORE_NAME_SAME} WHEN x.pinyin_same THEN {SCORE_NAME_PINYIN}
                   ELSE round(x.similarity * {SCORE_NAME_PINYIN})::int END
            + CASE x.relation WHEN 'same' THEN {SCORE_ID_BODY} WHEN 'digit' THEN {SCORE_ID_NEAR}
                              WHEN 'swap' THEN {SCORE_ID_NEAR} ELSE 0 END,
            array_remove(ARRAY['birth_sex',
                  CASE WHEN x.name_same THEN 'name_same' WHEN x.pinyin_same THEN 'name_pinyin' ELSE 'name_similar' END,
                  CASE WHEN x.relation IS NOT NULL THEN 'id_' || x.relation
                       WHEN x.body = '' THEN 'id_missing' END], NULL)
        FROM (
            SELECT s.id AS staged_id, e.id AS person_id, s.id_body AS body, e.name = s.name AS name_same,
                e.name_pinyin = s.name_pinyin AS pinyin_same, similarity(e.name_pinyin, s.name_pinyin) AS similarity,
                CASE WHEN s.id_body <> '' THEN consolidation_id_relation(left(e.id_number, 17), s.id_body) END
                    AS relation
            FROM {STAGED_PERSON_TABLE} s
            JOIN {PERSON_TABLE} e ON e.birth_date = s.birth_date AND e.sex = s.sex AND e.merged_into_id IS NULL
            WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND s.id_kind IN ('invalid', 'missing')
              AND (e.name = s.name OR e.name_pinyin = s.name_pinyin OR similarity(e.name_pinyin, s.name_pinyin) >= %(sim)s)
        ) x
        """,
        {**p, "sim": MIN_PINYIN_SIMILARITY},
    )
    _held_birth_typo_candidates(cur, p)
    # Sure: exactly one candidate with the same body (only the check character wrong) and the same name or pinyin.
    cur.execute(
        f"""
        UPDATE {STAGED_PERSON_TABLE} s SET outcome = 'matched', person_id = c.person_id
        FROM (SELECT staged_id, min(person_id) AS person_id FROM cons_candidates
              WHERE kind = 'held' AND 'id_same' = ANY(reasons) AND 'name_similar' <> ALL(reasons)
              GROUP BY staged_id HAVING count(*) = 1) c
        WHERE s.id = c.staged_id
        """
    )
    cur.execute(
        f"""
        DELETE FROM cons_candidates c USING {STAGED_PERSON_TABLE} s
        WHERE c.kind = 'held' AND s.id = c.staged_id AND s.outcome = 'matched'
        """
    )
    cur.execute(
        f"""
        UPDATE {STAGED_PERSON_TABLE} s SET outcome = 'held'
        WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND s.id_kind IN ('invalid', 'missing')
          AND EXISTS (SELECT 1 FROM cons_candidates c WHERE c.staged_id = s.id)
        """,
        p,
    )


def _held_birth_typo_candidates(cur, p: dict[str, Any]) -> None:
    """A typo in the birth-date digits of an invalid number (and no birth column to correct it) puts the line in
    the wrong block of birth date and sex: such lines are also compared, outside the block, with persons of the
    same sex, area code and name (or its pinyin) whose number is one digit or two neighbouring digits apart.
    Never sure on its own: these go to the queue for a clerk to look at."""
    cur.execute(
        f"""
        INSERT INTO cons_candidates (staged_id, person_id, kind, score, reasons)
        SELECT s.id, e.id, 'held',
            CASE WHEN e.name = s.name THEN {SCORE_NAME_SAME} ELSE {SCORE_NAME_PINYIN} END + {SCORE_ID_NEAR},
            ARRAY[CASE WHEN e.name = s.name THEN 'name_same' ELSE 'name_pinyin' END,
                  'id_' || consolidation_id_relation(left(e.id_number, 17), s.id_body), 'birth_in_number']
        FROM {STAGED_PERSON_TABLE} s
        JOIN {PERSON_TABLE} e ON e.name_pinyin = s.name_pinyin AND e.sex = s.sex AND e.merged_into_id IS NULL
        WHERE s.batch_id = %(batch)s AND s.outcome = 'pending' AND s.id_kind = 'invalid' AND s.id_body <> ''
          AND e.birth_date IS DISTINCT FROM s.birth_date AND left(e.id_number, 6) = left(s.id_body, 6)
          AND consolidation_id_relation(left(e.id_number, 17), s.id_body) IN ('digit', 'swap')
        """,
        p,
    )


def _field_conflicts(cur, p: dict[str, Any]) -> None:
    cur.execute(
        f"""
        INSERT INTO cons_candidates (staged_id, person_id, kind, score, reasons)
        SELECT s.id, s.person_id, 'fields', {SCORE_BLOCK + SCORE_ID_BODY + SCORE_ID_NEAR}, ARRAY['id_equal', 'name_differs']
        FROM {STAGED_PERSON_TABLE} s
        WHERE s.batch_id = %(batch)s AND s.outcome = 'matched' AND s.name_differs
        """,
        p,
    )


def _conflicts_write(cur, p: dict[str, Any]) -> None:
    """One conflict per incoming line, with its best candidates; a district's own when every record it shows
    (the candidates, and for a pair the new person) lies in the batch's district, else the city office's."""
    cur.execute(
        """
        DELETE FROM cons_candidates c
        USING (SELECT staged_id, person_id, row_number() OVER (PARTITION BY staged_id ORDER BY score DESC, person_id)
               AS rank FROM cons_candidates) r
        WHERE r.staged_id = c.staged_id AND r.person_id = c.person_id AND r.rank > %(max)s
        """,
        {"max": MAX_CANDIDATES},
    )
    analyze(cur, "cons_candidates")
    cur.execute(
        f"""
        INSERT INTO {CONFLICT_TABLE} (uid, batch_id, kind, office_id, staged_person_id, incoming_person_id, score,
            status, decision, candidate_id, choices, note, proposed_by_id, proposed_at, decided_by_id, decided_at,
            returned_note, created_at)
        SELECT gen_random_uuid(), %(batch)s, c.kind,
            CASE WHEN bool_and(o.path LIKE %(district_path)s) AND coalesce(bool_and(io.path LIKE %(district_path)s), true)
                 THEN %(district)s ELSE %(city)s END,
            c.staged_id, CASE WHEN c.kind = 'held' THEN NULL ELSE s.person_id END, max(c.score),
            'open', '', NULL, '{{}}'::jsonb, '', NULL, NULL, NULL, NULL, '', %(now)s
        FROM cons_candidates c
        JOIN {STAGED_PERSON_TABLE} s ON s.id = c.staged_id
        JOIN {PERSON_TABLE} e ON e.id = c.person_id
        JOIN {OFFICE_TABLE} o ON o.id = e.residence_office_id
        LEFT JOIN {PERSON_TABLE} ip ON c.kind <> 'held' AND ip.id = s.person_id
        LEFT JOIN {OFFICE_TABLE} io ON io.id = ip.residence_office_id
        GROUP BY c.staged_id, c.kind, s.person_id
        """,
        p,
    )
    cur.execute(
        f"""
        INSERT INTO {CONFLICT_CANDIDATE_TABLE} (conflict_id, person_id, score, reasons, rank)
        SELECT f.id, c.person_id, c.score, to_jsonb(c.reasons),
            row_number() OVER (PARTITION BY c.staged_id ORDER BY c.score DESC, c.person_id)
        FROM cons_candidates c JOIN {CONFLICT_TABLE} f ON f.staged_person_id = c.staged_id
        WHERE f.batch_id = %(batch)s
        """,
        p,
    )


def _rejected(ctx: dict[str, Any], p: dict[str, Any]) -> None:
    """Lines with an invalid or missing number and no candidate are not imported; held lines keep their text."""
    with connection.cursor() as cur:
        cur.execute(
            f"""
            UPDATE {STAGED_PERSON_TABLE} SET problem_code = CASE id_kind WHEN 'missing' THEN 'id_missing'
                ELSE 'id_invalid' END, problem_detail = left(raw_id || '|' || id_detail, 200)
            WHERE batch_id = %(batch)s AND outcome = 'pending'
            """,
            p,
        )
    rejected_from_raw(
        ctx,
        kind=FileKind.PERSONS,
        staged_table=STAGED_PERSON_TABLE,
        code="id_invalid",
        where="s.outcome = 'pending' AND s.id_kind = 'invalid'",
    )
    rejected_from_raw(
        ctx,
        kind=FileKind.PERSONS,
        staged_table=STAGED_PERSON_TABLE,
        code="id_missing",
        where="s.outcome = 'pending' AND s.id_kind = 'missing'",
    )
    batch_file = ctx["files"][FileKind.PERSONS]
    cells = ", ".join(f"r.c{i}" for i in range(1, len(batch_file.header) + 1))
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {STAGED_PERSON_TABLE} SET outcome = 'rejected' WHERE batch_id = %(batch)s AND outcome = 'pending'",
            p,
        )
        cur.execute(
            f"""
            UPDATE {STAGED_PERSON_TABLE} s SET raw = to_jsonb(ARRAY[{cells}])
            FROM {batch_file.raw_table} r
            WHERE s.batch_id = %(batch)s AND s.outcome = 'held' AND r.line_no = s.line_no - 1
            """,
            p,
        )
        analyze(cur, STAGED_PERSON_TABLE)


# ---------------------------------------------------------------------------------------------
# Enrollments.


def person_map(cur, p: dict[str, Any]) -> None:
    """``cons_pmap`` (key, state, person_id, staged_id): each person key of this batch's persons file, resolved —
    ok (the person imported or merged into), held (the line waits for a clerk) or rejected."""
    temp_drop(cur, "cons_pmap")
    cur.execute(
        f"""
        CREATE TEMP TABLE cons_pmap ON COMMIT DROP AS
        SELECT DISTINCT ON (ref_key) ref_key AS key,
            CASE WHEN outcome IN ('matched', 'created', 'duplicate') AND person_id IS NOT NULL THEN 'ok'
                 WHEN outcome = 'held' THEN 'held' ELSE 'rejected' END AS state,
            person_id, id AS staged_id
        FROM {STAGED_PERSON_TABLE}
        WHERE batch_id = %(batch)s AND ref_key <> ''
        ORDER BY ref_key, (outcome IN ('matched', 'created', 'duplicate') AND person_id IS NOT NULL) DESC,
            (outcome = 'held') DESC, line_no
        """,
        p,
    )
    cur.execute("CREATE UNIQUE INDEX ON cons_pmap (key)")
    analyze(cur, "cons_pmap")


def employer_map(cur, p: dict[str, Any]) -> None:
    """``cons_emap`` (key, state, employer_id): each employer key of this batch's employers file (credit code,
    organisation code, the code as written), resolved."""
    temp_drop(cur, "cons_emap")
    cur.execute(
        f"""
        CREATE TEMP TABLE cons_emap ON COMMIT DROP AS
        SELECT DISTINCT ON (k.key) k.key, CASE WHEN s.employer_id IS NOT NULL THEN 'ok' ELSE 'rejected' END AS state,
            s.employer_id
        FROM {STAGED_EMPLOYER_TABLE} s
        CROSS JOIN LATERAL (VALUES (s.ref_key), (s.org_code), (s.credit_code), (consolidation_code_norm(s.raw_code))) k(key)
        WHERE s.batch_id = %(batch)s AND k.key <> ''
        ORDER BY k.key, (s.employer_id IS NOT NULL) DESC, s.line_no
        """,
        p,
    )
    cur.execute("CREATE UNIQUE INDEX ON cons_emap (key)")
    analyze(cur, "cons_emap")


# The registry employer of a key not in this batch's employers file: by credit code, else by the organisation code
# inside exactly one credit code (``cons_reo``, built once with its index). Joined, not a subquery per line: the
# organisation-code look-up scans every employer, and per line it was quadratic (20,000 enrollments × 52,000
# employers at a million persons).
_REGISTRY_EMPLOYER_JOINS = f"""
    LEFT JOIN {EMPLOYER_TABLE} re ON em.employer_id IS NULL AND re.credit_code = s.employer_ref
    LEFT JOIN cons_reo reo ON em.employer_id IS NULL AND re.id IS NULL AND length(s.employer_ref) = 9
        AND reo.org = s.employer_ref
"""


def _registry_employers_by_org(cur) -> None:
    """``cons_reo`` (org, id): each organisation code found inside exactly one registry credit code."""
    temp_drop(cur, "cons_reo")
    cur.execute(
        f"""
        CREATE TEMP TABLE cons_reo ON COMMIT DROP AS
        SELECT substr(credit_code, 9, 9) AS org, min(id) AS id FROM {EMPLOYER_TABLE}
        GROUP BY substr(credit_code, 9, 9) HAVING count(*) = 1
        """
    )
    cur.execute("CREATE UNIQUE INDEX ON cons_reo (org)")
    analyze(cur, "cons_reo")


def enrollments_apply(ctx: dict[str, Any]) -> None:
    if FileKind.ENROLLMENTS not in ctx["files"]:
        return
    p = _p(ctx)
    with connection.cursor() as cur:
        person_map(cur, p)
        employer_map(cur, p)
        _registry_employers_by_org(cur)
        temp_drop(cur, "cons_enrollments")
        cur.execute(
            f"""
            CREATE TEMP TABLE cons_enrollments ON COMMIT DROP AS
            SELECT s.id AS staged_id, s.line_no, s.insurance_type, s.is_flexible, s.start_date, s.end_date,
                coalesce(pm.state, CASE WHEN rp.id IS NOT NULL THEN 'ok' END) AS person_state, pm.staged_id AS held_id,
                coalesce(pm.person_id, coalesce(rp.merged_into_id, rp.id)) AS person_id,
                CASE WHEN s.employer_ref = '' THEN 'none' ELSE coalesce(em.state, 'ok') END AS employer_state,
                CASE WHEN s.employer_ref <> '' THEN coalesce(em.employer_id, re.id, reo.id) END AS employer_id
            FROM {STAGED_ENROLLMENT_TABLE} s
            LEFT JOIN cons_pmap pm ON pm.key = s.person_ref
            LEFT JOIN {PERSON_TABLE} rp ON pm.key IS NULL AND rp.id_number = s.person_ref
            LEFT JOIN cons_emap em ON em.key = s.employer_ref
            {_REGISTRY_EMPLOYER_JOINS}
            WHERE s.batch_id = %(batch)s AND s.outcome = 'pending'
            """,
            p,
        )
        analyze(cur, "cons_enrollments")
        cur.execute(
            f"""
            UPDATE {STAGED_ENROLLMENT_TABLE} s SET outcome = CASE WHEN e.person_state = 'held' THEN 'held'
                    ELSE 'rejected' END,
                problem_code = CASE WHEN e.person_state = 'held' THEN ''
                    WHEN e.person_state IS DISTINCT FROM 'ok' THEN 'person_not_imported' ELSE 'employer_rejected' END,
                staged_person_id = e.held_id, employer_id = e.employer_id
            FROM cons_enrollments e
            WHERE s.id = e.staged_id AND (e.person_state IS DISTINCT FROM 'ok'
                  OR (e.employer_state <> 'none' AND (e.employer_state <> 'ok' OR e.employer_id IS NULL)))
            """
        )
        cur.execute(
            f"DELETE FROM cons_enrollments e USING {STAGED_ENROLLMENT_TABLE} s "
            "WHERE s.id = e.staged_id AND s.outcome <> 'pending'"
        )
        _enrollments_present_or_overlapping(cur, p)
    _enrollments_create(ctx, p)


def _enrollments_present_or_overlapping(cur, p: dict[str, Any]) -> None:
    # The same enrollment already registered (a batch delivered again, or registered at a counter): present.
    cur.execute(
        f"""
        UPDATE {STAGED_ENROLLMENT_TABLE} s SET outcome = 'present', enrollment_id = x.id
        FROM cons_enrollments e JOIN {ENROLLMENT_TABLE} x ON x.person_id = e.person_id
            AND x.insurance_type = e.insurance_type AND x.start_date = e.start_date
            AND x.end_date IS NOT DISTINCT FROM e.end_date AND x.employer_id IS NOT DISTINCT FROM e.employer_id
        WHERE s.id = e.staged_id
        """
    )
    cur.execute(
        f"""
        UPDATE {STAGED_ENROLLMENT_TABLE} s SET outcome = 'overlap'
        FROM cons_enrollments e
        WHERE s.id = e.staged_id AND s.outcome = 'pending' AND EXISTS (
            SELECT 1 FROM {ENROLLMENT_TABLE} x WHERE x.person_id = e.person_id AND x.insurance_type = e.insurance_type
              AND x.start_date <= coalesce(e.end_date, 'infinity'::date)
              AND e.start_date <= coalesce(x.end_date, 'infinity'::date))
        """
    )
    # Within the file: the later of two overlapping lines (in start date order) is reported, not imported.
    cur.execute(
        f"""
        UPDATE {STAGED_ENROLLMENT_TABLE} s SET outcome = 'overlap', problem_code = 'overlap_in_file'
        FROM (
            SELECT e.staged_id, max(e.prev_end) OVER w AS reach, e.start_date, e.rn
            FROM (
                SELECT e.*, lag(coalesce(e.end_date, 'infinity'::date)) OVER w2 AS prev_end,
                    row_number() OVER w2 AS rn
                FROM cons_enrollments e JOIN {STAGED_ENROLLMENT_TABLE} s2 ON s2.id = e.staged_id
                WHERE s2.outcome = 'pending'
                WINDOW w2 AS (PARTITION BY e.person_id, e.insurance_type ORDER BY e.start_date, e.line_no)
            ) e
            WINDOW w AS (PARTITION BY e.person_id, e.insurance_type ORDER BY e.start_date, e.line_no
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ) o
        WHERE s.id = o.staged_id AND o.rn > 1 AND o.reach >= o.start_date
        """
    )


def _enrollments_create(ctx: dict[str, Any], p: dict[str, Any]) -> None:
    pending = f"""
        FROM cons_enrollments e JOIN {STAGED_ENROLLMENT_TABLE} s ON s.id = e.staged_id AND s.outcome = 'pending'
        JOIN {PERSON_TABLE} rp ON rp.id = e.person_id
        LEFT JOIN {EMPLOYER_TABLE} re ON re.id = e.employer_id
    """
    if ctx["triggers_off"]:
        for table, column in ((PERSON_TABLE, "e.person_id"), (EMPLOYER_TABLE, "e.employer_id")):
            rows_lock_key_share(table=table, ids_sql=f"SELECT {column} {pending}")
        rows_lock_key_share(
            table=OFFICE_TABLE, ids_sql=f"SELECT coalesce(re.office_id, rp.residence_office_id) {pending}"
        )
    created = enrollments_insert_select(
        select_sql=f"""
            SELECT gen_random_uuid(), e.person_id, e.insurance_type, e.employer_id, e.is_flexible, e.start_date,
                e.end_date, coalesce(re.office_id, rp.residence_office_id), %(now)s, %(now)s
            {pending}
            ORDER BY e.line_no
        """,
        params=p,
        triggers_off=ctx["triggers_off"],
    )
    if created:
        with connection.cursor() as cur:
            cur.execute(
                f"""
                UPDATE {STAGED_ENROLLMENT_TABLE} s SET outcome = 'created', enrollment_id = x.id
                FROM cons_enrollments e JOIN {ENROLLMENT_TABLE} x ON x.person_id = e.person_id
                    AND x.insurance_type = e.insurance_type AND x.start_date = e.start_date
                JOIN bulk_new_enrollments n ON n.id = x.id
                WHERE s.id = e.staged_id AND s.outcome = 'pending'
                """
            )
    _enrollments_raw(ctx, p)


def _enrollments_raw(ctx: dict[str, Any], p: dict[str, Any]) -> None:
    """Enrollment lines decided now: not imported (with the line, downloadable) or held (their text kept)."""
    for code in ("person_not_imported", "employer_rejected", "overlap_in_file"):
        rejected_from_raw(
            ctx,
            kind=FileKind.ENROLLMENTS,
            staged_table=STAGED_ENROLLMENT_TABLE,
            code=code,
            where=f"s.problem_code = '{code}' AND s.outcome IN ('rejected', 'overlap')",
        )
    batch_file = ctx["files"][FileKind.ENROLLMENTS]
    cells = ", ".join(f"r.c{i}" for i in range(1, len(batch_file.header) + 1))
    with connection.cursor() as cur:
        cur.execute(
            f"""
            UPDATE {STAGED_ENROLLMENT_TABLE} s SET raw = to_jsonb(ARRAY[{cells}])
            FROM {batch_file.raw_table} r
            WHERE s.batch_id = %(batch)s AND s.outcome = 'held' AND r.line_no = s.line_no - 1
            """,
            p,
        )
        temp_drop(cur, "cons_enrollments")
