"""Employers a batch created that may be ones already registered (疑似同一单位), found set-based at the apply and
queued as ``EmployerConflict`` with their reasons: the same normalised name in the same district, or a credit code
one character or two neighbouring characters apart (a typing error; its name similar or not). A credit code is
checked (its check character fits) so a typo in it usually shows; an employer whose code fits by chance is found
by its name."""

from __future__ import annotations

from typing import Any

from django.db import connection

from consolidation.models import EmployerConflict, StagedEmployer
from consolidation.services.apply_common import params
from consolidation.sql import analyze, temp_drop
from registry.models import Employer, Office

# Table names from the models (one source of the names, as everywhere in the project's SQL).
_EMPLOYER, _OFFICE = Employer._meta.db_table, Office._meta.db_table
_STAGED, _CONFLICT = StagedEmployer._meta.db_table, EmployerConflict._meta.db_table

# Province, city and district prefixes and legal-form suffixes that differ between two systems' spelling of one
# name; punctuation and spaces (half- and full-width) too.
_PREFIX = "^(浙江省|浙江)?(台州市|台州)?(椒江区|黄岩区|路桥区|椒江|黄岩|路桥)?"
_SUFFIX = "(股份有限公司|有限责任公司|有限公司|分公司|公司|厂|店)$"
_PUNCT = "[[:space:][:punct:]　（）【】《》，。、；：“”‘’·]"

SCORE_NAME_SAME, SCORE_DISTRICT, SCORE_CODE_NEAR, SCORE_NAME_SIMILAR = 50, 10, 35, 15
MIN_NAME_SIMILARITY = 0.5  # pg_trgm similarity of the normalised names, counted when the codes are near
_SCORES = {
    "s_name": SCORE_NAME_SAME,
    "s_district": SCORE_DISTRICT,
    "s_code": SCORE_CODE_NEAR,
    "s_similar": SCORE_NAME_SIMILAR,
}


def name_norm_sql(expression: str) -> str:
    """SQL: the employer name ``expression`` normalised for comparison."""
    cleaned = f"regexp_replace(lower({expression}), '{_PUNCT}', '', 'g')"
    return f"regexp_replace(regexp_replace({cleaned}, '{_PREFIX}', ''), '{_SUFFIX}', '')"


def employer_candidates(ctx: dict[str, Any]) -> int:
    """Queue the employers this batch created that may be registered ones; returns how many pairs."""
    p = params(ctx)
    with connection.cursor() as cur:
        temp_drop(cur, "cons_emp_new", "cons_emp_old", "cons_emp_pairs")
        cur.execute(
            f"""
            CREATE TEMP TABLE cons_emp_new ON COMMIT DROP AS
            SELECT e.id, left(e.credit_code, 17) AS body, {name_norm_sql("e.name")} AS norm,
                o.path LIKE %(district_path)s AS in_district
            FROM {_STAGED} s JOIN {_EMPLOYER} e ON e.id = s.employer_id
            JOIN {_OFFICE} o ON o.id = e.office_id
            WHERE s.batch_id = %(batch)s AND s.outcome = 'created'
            """,
            p,
        )
        cur.execute("SELECT count(*) FROM cons_emp_new")
        if not cur.fetchone()[0]:
            return 0
        # Indexed and analysed before the registry is compared with it (unanalysed, the planner chose a nested loop
        # over both: a minute for 10,000 employers).
        cur.execute("CREATE UNIQUE INDEX ON cons_emp_new (id)")
        analyze(cur, "cons_emp_new")
        cur.execute(
            f"""
            CREATE TEMP TABLE cons_emp_old ON COMMIT DROP AS
            SELECT e.id, left(e.credit_code, 17) AS body, {name_norm_sql("e.name")} AS norm,
                o.path LIKE %(district_path)s AS in_district
            FROM {_EMPLOYER} e JOIN {_OFFICE} o ON o.id = e.office_id
            WHERE NOT EXISTS (SELECT 1 FROM cons_emp_new n WHERE n.id = e.id)
            """,
            p,
        )
        analyze(cur, "cons_emp_old")
        _pairs(cur)
        cur.execute(
            f"""
            INSERT INTO {_CONFLICT} (uid, batch_id, office_id, incoming_id, candidate_id, score,
                reasons, status, decision, note, returned_note, created_at)
            SELECT gen_random_uuid(), %(batch)s,
                CASE WHEN x.new_in AND x.old_in THEN %(district)s ELSE %(city)s END, x.new_id, x.old_id,
                (CASE WHEN x.name_same THEN %(s_name)s ELSE 0 END)
                + (CASE WHEN x.new_in AND x.old_in THEN %(s_district)s ELSE 0 END)
                + (CASE WHEN x.code IN ('digit', 'swap') THEN %(s_code)s ELSE 0 END)
                + (CASE WHEN NOT x.name_same AND x.similar THEN %(s_similar)s ELSE 0 END),
                to_jsonb(array_remove(ARRAY[
                    CASE WHEN x.name_same THEN 'name_same' WHEN x.similar THEN 'name_similar' END,
                    CASE WHEN x.new_in AND x.old_in THEN 'district_same' END,
                    CASE WHEN x.code IN ('digit', 'swap') THEN 'code_' || x.code END], NULL)),
                'open', '', '', '', %(now)s
            FROM cons_emp_pairs x
            ON CONFLICT (incoming_id, candidate_id) DO NOTHING
            """,
            {**p, **_SCORES},
        )
        count = cur.rowcount
        temp_drop(cur, "cons_emp_new", "cons_emp_old", "cons_emp_pairs")
    return count


# Two credit codes one character or two neighbouring characters apart agree exactly on one of these parts of their
# first 17 characters (each a hash join; the district prefix alone, shared by a district's every employer, is none).
_CODE_PARTS = (
    "substr({b}, 9, 9)",  # the organisation code: the difference is in the first eight
    "left({b}, 13)",  # in the last four
    "left({b}, 8) || substr({b}, 14, 4)",  # in characters 9-13
    "left({b}, 12) || substr({b}, 15, 3)",  # characters 13 and 14 swapped
)


def _pairs(cur) -> None:
    """``cons_emp_pairs``: the same normalised name in the batch's district (hash join on the name), and codes one
    character or a swap apart (hash joins on the parts of _CODE_PARTS instead of comparing every pair)."""
    near = " UNION ALL ".join(
        f"""
            SELECT n.id, o.id, o.norm = n.norm, similarity(o.norm, n.norm) >= {MIN_NAME_SIMILARITY},
                consolidation_id_relation(o.body, n.body), n.in_district, o.in_district
            FROM cons_emp_new n JOIN cons_emp_old o ON {part.format(b="o.body")} = {part.format(b="n.body")}
            WHERE consolidation_id_relation(o.body, n.body) IN ('digit', 'swap')
        """
        for part in _CODE_PARTS
    )
    cur.execute(
        f"""
        CREATE TEMP TABLE cons_emp_pairs ON COMMIT DROP AS
        SELECT DISTINCT ON (new_id, old_id) * FROM (
            SELECT n.id AS new_id, o.id AS old_id, true AS name_same, true AS similar,
                consolidation_id_relation(o.body, n.body) AS code, n.in_district AS new_in, o.in_district AS old_in
            FROM cons_emp_new n JOIN cons_emp_old o ON o.norm = n.norm
            WHERE n.norm <> '' AND n.in_district AND o.in_district
            UNION ALL {near}
        ) x
        ORDER BY new_id, old_id
        """
    )
