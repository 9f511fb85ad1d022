"""Every SQL statement of the payment-file import, in the order the import runs them.

Each statement is a template for ``sql.render``: ``{…_table}`` is a table name taken from its model's
``_meta.db_table`` (``TABLES`` below), ``{re}``, ``{num}``, ``{int}``, ``{greatest}``, ``{least}``, ``{uuid}``,
``{fence}`` are this database's spelling (``sql.dialect``), other ``{names}`` are fragments the step passes in.
``%s`` / ``%(name)s`` are the values, always parameters. Money is integer fen: ``CAST(ROUND(x * 100) AS {int})``.

The temporary tables the import leaves for its next step:

- ``pf_stage``: the file's lines as read (text), COPY-ed in (``staging``); dropped after the line checks.
- ``pf_due``: per payer key and period, what issued bills still ask for, not counting this file's payments
  (``reconciliation``; the import's from ``pf_open``). A payer key is the employer id, or minus the person id.
- ``pf_pay``: the file's new payments with the running sum of their amounts per payer (``allocation``).
- ``pf_bills``, ``pf_open``: the bills due in the file's periods and the payers' open bills, each bill insurance's
  open amount with its running sum, and what is due (made before the payments are recorded).
"""

from __future__ import annotations

from contributions.models import (
    Bill,
    BillSettlement,
    BillTotal,
    Payment,
    PaymentAllocation,
    PaymentFileLine,
    ReconciliationItem,
    ReconciliationSummary,
)
from registry.models import ChangeEvent, Employer, Office, Person, User

TABLES = {
    "bill_table": Bill._meta.db_table,
    "bill_total_table": BillTotal._meta.db_table,
    "payment_table": Payment._meta.db_table,
    "allocation_table": PaymentAllocation._meta.db_table,
    "line_table": PaymentFileLine._meta.db_table,
    "recon_item_table": ReconciliationItem._meta.db_table,
    "recon_summary_table": ReconciliationSummary._meta.db_table,
    "employer_table": Employer._meta.db_table,
    "person_table": Person._meta.db_table,
    "office_table": Office._meta.db_table,
    "user_table": User._meta.db_table,
}

# =============================================================================================
# Trigger switching (``triggers``).

# The tables a payment file bulk-writes with PostgreSQL's per-row foreign-key triggers switched off.
BULK_TABLES = (
    PaymentFileLine._meta.db_table,
    Payment._meta.db_table,
    PaymentAllocation._meta.db_table,
    ChangeEvent._meta.db_table,
)
# The one INSERT trigger replica mode may silence: change_events_record writes the txid it would stamp.
SILENCEABLE_TRIGGERS = ("change_event_txid",)

# How many INSERT triggers on the bulk tables replica mode would silence (params: tables, silenceable names).
# Triggers enabled ALWAYS (the immutability triggers) are not silenced by replica mode: they do not count.
TRIGGERS_REPLICA_WOULD_SILENCE = """
    SELECT count(*) FROM pg_trigger
    WHERE NOT tgisinternal AND tgrelid = ANY(%s::regclass[]) AND tgtype & 4 <> 0
      AND tgenabled <> 'A' AND tgname <> ALL(%s)
"""

# Is the database user a superuser, and which server version (15+ can grant SET on one parameter)?
SUPERUSER_AND_VERSION = "SELECT current_setting('is_superuser') = 'on', current_setting('server_version_num')::int"

# May the database user set session_replication_role (PostgreSQL 15+ GRANT SET ON PARAMETER)?
MAY_SET_REPLICATION_ROLE = "SELECT has_parameter_privilege('session_replication_role', 'SET')"

# Per-row triggers off ({role} = replica) or back on ({role} = origin), for this transaction only.
SET_REPLICATION_ROLE = "SET LOCAL session_replication_role = {role}"

# Lock the rows of {payer_table} that the file's new lines name in {column} ({lock}: FOR UPDATE for payers,
# FOR KEY SHARE for offices) and count them against how many distinct ones the lines name (param: file).
LOCK_AND_COUNT_LINE_TARGETS = """
    SELECT
      (SELECT COUNT(*) FROM (
          SELECT 1 FROM {payer_table} WHERE id IN (
              SELECT {column} FROM {line_table}
              WHERE payment_file_id = %(file)s AND status = 'new' AND {column} IS NOT NULL)
          ORDER BY id {lock}) locked),
      (SELECT COUNT(DISTINCT {column}) FROM {line_table}
       WHERE payment_file_id = %(file)s AND status = 'new' AND {column} IS NOT NULL)
"""

# Keep the uploader's user row (the payments' recorded_by) from being deleted (param: user id).
LOCK_UPLOADER = "SELECT 1 FROM {user_table} WHERE id = %s FOR KEY SHARE"

# =============================================================================================
# The import's transaction (``process``).

# Hash joins and window sorts over a million lines: memory for this transaction only. No JIT: its compiling
# took seconds of every large statement (the line checks' long CASE above all) and saved nothing of their writes.
WORK_MEM = "SET LOCAL work_mem = '256MB'"
JIT_OFF = "SET LOCAL jit = off"

# The import's temporary tables (a million staged lines, payments, open items) in memory rather than spilled
# through the default 8 MB of local buffers. A session setting, allowed only before the session's first
# temporary table: tried under a savepoint, kept when it was set before (a worker's next import).
TEMP_BUFFERS = "SET temp_buffers = '512MB'"
TEMP_BUFFERS_NOW = "SELECT pg_size_bytes(current_setting('temp_buffers')) >= pg_size_bytes('512MB')"

# =============================================================================================
# COPY staging (``staging``).

# The lines as read, every cell as text (the checks below parse them); ``{on_commit}``: ON COMMIT DROP on
# PostgreSQL.
STAGE_CREATE = """
    CREATE TEMP TABLE pf_stage (line_no integer, reference text, payer_type text, payer_code text, payer_name text,
        period text, amount text, paid_on date, paid_on_raw text, cell_problem text){on_commit}
"""

# PostgreSQL: the lines as CSV through COPY (an empty cell is '' rather than NULL, but the date).
STAGE_COPY = (
    "COPY pf_stage FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (reference, payer_type, payer_code, "
    "payer_name, period, amount, paid_on_raw, cell_problem))"
)

# SQLite: batched INSERTs.
STAGE_INSERT = "INSERT INTO pf_stage VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"

# =============================================================================================
# Line checks (``line_checks``).

# A line's amount in fen when it is a plain decimal (param: the amount pattern), else NULL.
AMOUNT_FEN = "CASE WHEN s.amount {re} %s THEN CAST(ROUND(CAST(s.amount AS {num}) * 100) AS {int}) END"

# What a bad line looked like, kept for its correction: {json} of the cells as read.
RAW_LINE_ARGS = (
    "'reference', y.reference, 'payer_type', y.payer_type, 'payer_code', y.payer_code, "
    "'payer_name', y.payer_name, 'period', y.period_text, 'amount', y.amount_text, 'paid_on', y.paid_on_raw"
)

# Every staged line checked and written in one statement. Innermost (x): each line with its payer, the
# payer's office, a payment already recorded under its reference and the other lines of the file with the
# same reference; then (y) the first problem of the line, in the order of the CASE; outermost: the line's
# status (bad, repeat of a recorded payment, duplicate within the file, new) and the detail its problem
# message shows (contributions.exchange.problems). ``{fence}`` keeps PostgreSQL from inlining a level into
# the next (it computed the checks four times). ``{amount_fen}`` is AMOUNT_FEN (one amount pattern each).
# Params, in order: file id, number pattern, not-positive pattern, decimals pattern, today, uploader's
# jurisdiction path LIKE, credit code pattern, ID number pattern, amount pattern, period pattern, amount pattern.
# A line whose amount is a payable amount over 0 (``fen`` > 0) passes the amount checks without their patterns
# (the amount pattern admits only those): a million lines, three regular expressions fewer each.
LINES_CHECK_AND_INSERT = """
    INSERT INTO {line_table} (payment_file_id, line_no, reference, payer_type, payer_code,
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
                WHEN x.fen IS NULL OR x.fen <= 0 THEN CASE
                    WHEN NOT (x.amount_text {re} %s) THEN 'amount_format'
                    WHEN x.amount_text {re} %s THEN 'amount_not_positive'
                    WHEN NOT (x.amount_text {re} %s) THEN 'amount_decimals'
                    ELSE 'amount_too_large' END
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
                CASE WHEN (s.payer_type = 'employer' AND s.payer_code {re} %s)
                          OR (s.payer_type = 'person' AND s.payer_code {re} %s) THEN 1 ELSE 0 END AS code_ok,
                {amount_fen} AS fen,
                CASE WHEN s.period {re} %s THEN CAST(s.period AS INTEGER) END AS period_int,
                e.id AS employer_id, p.id AS person_id, o.id AS office_id, o.path AS office_path,
                pay.id AS existing_id, CAST(ROUND(pay.amount * 100) AS {int}) AS existing_fen,
                pay.amount AS existing_amount,
                pay.employer_id AS existing_employer, pay.person_id AS existing_person,
                dup.n AS dup_n, dup.first_line AS dup_first, dup.variants AS dup_variants
            FROM pf_stage s
            LEFT JOIN {employer_table} e ON s.payer_type = 'employer' AND e.credit_code = s.payer_code
            LEFT JOIN {person_table} p ON s.payer_type = 'person' AND p.id_number = s.payer_code
            LEFT JOIN {office_table} o ON o.id = COALESCE(e.office_id, p.residence_office_id)
            LEFT JOIN {payment_table} pay ON pay.agency_reference = s.reference
            LEFT JOIN (
                SELECT s.reference, COUNT(*) AS n, MIN(s.line_no) AS first_line,
                    COUNT(DISTINCT s.payer_type || '|' || s.payer_code || '|' || COALESCE(CAST({amount_fen} AS TEXT), s.amount))
                        AS variants
                FROM pf_stage s
                WHERE s.reference IN (SELECT reference FROM pf_stage GROUP BY reference HAVING COUNT(*) > 1)
                GROUP BY s.reference
            ) dup ON dup.reference = s.reference
            {fence}
        ) x
        {fence}
    ) y
"""

# The line table's statistics after a large file (autovacuum cannot see the lines before COMMIT). The
# application role owns no table: a SECURITY DEFINER function of the owner runs the ANALYZE.
ANALYZE_LINES = "SELECT contributions_analyze_payment_file_lines()"

# How many lines of the file, how much money, and how many lines whose amount could not be read (their sum
# cannot be checked against the file's #合计金额), per status: one pass over the file's lines (param: file).
LINES_BY_STATUS = """
    SELECT status, COUNT(*), SUM(amount), SUM(CASE WHEN amount IS NULL THEN 1 ELSE 0 END) FROM {line_table}
    WHERE payment_file_id = %s GROUP BY status
"""

# =============================================================================================
# FIFO allocation (``allocation``).

# One payment per new line, ids drawn in line order (so "in line order" is "by payment id" from here on).
# Params: channel, recorded_by, recorded_at, file.
PAYMENTS_INSERT = """
    INSERT INTO {payment_table} (uid, agency_reference, payer_type, employer_id, person_id, office_id,
        amount, paid_on, channel, recorded_by_id, recorded_at)
    SELECT {uuid}, l.reference, l.payer_type, l.employer_id, l.person_id, l.office_id, l.amount,
        l.paid_on, %s, %s, %s
    FROM {line_table} l
    WHERE l.payment_file_id = %s AND l.status = 'new'
    ORDER BY l.line_no
"""

# The new lines whose reference has become a payment since the line checks (the API recorded it while the file was
# between its checks and its payer locks: PAYMENTS_INSERT met the reference's unique index): each becomes what the
# checks would have made of it, a repeat (same payer and amount) or a bad line 'reference_conflict' with its detail
# and {raw_json}. Only after the payers are locked: every payment of them has committed or waits for this import.
# Returns the lines' new statuses. Params: file.
LINES_RECORDED_MEANWHILE = """
    UPDATE {line_table} SET
        status = CASE WHEN p.same = 1 THEN 'repeat' ELSE 'bad' END,
        problem_code = CASE WHEN p.same = 1 THEN '' ELSE 'reference_conflict' END,
        problem_detail = CASE WHEN p.same = 1 THEN '' ELSE substr(p.reference || '|' || p.amount_text, 1, 200) END,
        raw = CASE WHEN p.same = 1 THEN NULL ELSE p.raw END
    FROM (
        SELECT l.id AS line_id, pay.agency_reference AS reference, CAST(pay.amount AS TEXT) AS amount_text,
            {raw_json} AS raw,
            CASE WHEN pay.amount = l.amount AND COALESCE(pay.employer_id, 0) = COALESCE(l.employer_id, 0)
                      AND COALESCE(pay.person_id, 0) = COALESCE(l.person_id, 0) THEN 1 ELSE 0 END AS same
        FROM {line_table} l
        JOIN {payment_table} pay ON pay.agency_reference = l.reference
        WHERE l.payment_file_id = %s AND l.status = 'new'
    ) p
    WHERE {line_table}.id = p.line_id
    RETURNING {line_table}.status
"""

# The cells of a line as read, for a line found bad after its checks (LINES_RECORDED_MEANWHILE): RAW_LINE_ARGS of
# the stored line (its cells were read well: only its reference was recorded meanwhile).
RAW_STORED_LINE_ARGS = (
    "'reference', l.reference, 'payer_type', l.payer_type, 'payer_code', l.payer_code, 'payer_name', l.payer_name, "
    "'period', CAST(l.period AS TEXT), 'amount', CAST(l.amount AS TEXT), 'paid_on', CAST(l.paid_on AS TEXT)"
)

# PostgreSQL: pf_pay is filled from the INSERT's RETURNING (no second look-up of a million references).
PAY_CREATE = (
    "CREATE TEMP TABLE pf_pay (payment_id bigint, uid uuid, office_id bigint, payer_key bigint, "
    "fen bigint, p_end bigint) ON COMMIT DROP"
)

# PostgreSQL: PAYMENTS_INSERT ({payments_insert}) and, from what it returns, each payment with p_end, the
# running sum of its payer's payments up to and including it. Params: those of PAYMENTS_INSERT.
PAYMENTS_INSERT_INTO_PAY = """
    WITH ins AS ({payments_insert} RETURNING id, uid, office_id, employer_id, person_id, amount)
    INSERT INTO pf_pay
    SELECT payment_id, uid, office_id, payer_key, fen,
        CAST(SUM(fen) OVER (PARTITION BY payer_key ORDER BY payment_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS {int}) AS p_end
    FROM (SELECT id AS payment_id, uid, office_id, COALESCE(employer_id, -person_id) AS payer_key,
              CAST(ROUND(amount * 100) AS {int}) AS fen FROM ins) n
"""

# SQLite: the same pf_pay, from the payments just written, found by their references (param: file).
PAY_FROM_LINES = """
    SELECT payment_id, uid, office_id, payer_key, fen,
        CAST(SUM(fen) OVER (PARTITION BY payer_key ORDER BY payment_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS {int}) AS p_end
    FROM (SELECT p.id AS payment_id, p.uid, p.office_id, COALESCE(l.employer_id, -l.person_id) AS payer_key,
              CAST(ROUND(l.amount * 100) AS {int}) AS fen
          FROM {line_table} l
          JOIN {payment_table} p ON p.agency_reference = l.reference
          WHERE l.payment_file_id = %s AND l.status = 'new') n
"""

# pf_bills: the bills the import reads, once for both of its uses (issue 22: it read the bills and their
# insurance totals twice, for what is due and for what is open): with in_due = 1, the issued bills (not refunds)
# of the file's periods of the file's office and below ({in_periods}: "b.period IN (%s, …)", or "1 = 0" for a
# file without a readable period), whose due the reconciliation compares with the file's lines; with in_due = 0,
# the other bills of the payers of the file's new lines ({open_only}: on PostgreSQL OPEN_BILLS_ONLY, so that
# only bills not yet settled are read: a settled bill has no open item, allocations never exceed an insurance's
# open amount), which FIFO allocation may pay (a bill of both an employer and a person is the employer's in
# pf_due, as in DUE_BY_PAYER_AND_PERIOD, and open to both). Per payer two joins rather than "employer IN (…) OR
# person IN (…)": a million keys would not fit a hashed subplan. late_fee: 1 for a late-fee bill, paid only after every
# contribution bill (payments.py). Params: office path LIKE, file, office path LIKE, file, office path LIKE, and
# the periods before each LIKE.
PAYER_AND_DUE_BILLS = """
    SELECT b.id AS bill_id, COALESCE(b.employer_id, -b.person_id) AS payer_key, b.period, b.issued_at,
        b.office_id, CASE WHEN b.kind = 'late_fee' THEN 1 ELSE 0 END AS late_fee, 1 AS in_due
    FROM {bill_table} b
    JOIN {office_table} bo ON bo.id = b.office_id
    WHERE b.issued_at IS NOT NULL AND b.kind <> 'refund' AND {in_periods} AND bo.path LIKE %s
    UNION ALL
    SELECT b.id, b.employer_id, b.period, b.issued_at, b.office_id,
        CASE WHEN b.kind = 'late_fee' THEN 1 ELSE 0 END, 0
    FROM {bill_table} b
    JOIN (SELECT DISTINCT employer_id AS id FROM {line_table}
          WHERE payment_file_id = %s AND status = 'new' AND employer_id IS NOT NULL) k ON k.id = b.employer_id
    {open_only}
    JOIN {office_table} bo ON bo.id = b.office_id
    WHERE b.issued_at IS NOT NULL AND b.kind <> 'refund' AND NOT ({in_periods} AND bo.path LIKE %s)
    UNION ALL
    SELECT b.id, -b.person_id, b.period, b.issued_at, b.office_id,
        CASE WHEN b.kind = 'late_fee' THEN 1 ELSE 0 END, 0
    FROM {bill_table} b
    JOIN (SELECT DISTINCT person_id AS id FROM {line_table}
          WHERE payment_file_id = %s AND status = 'new' AND person_id IS NOT NULL) k ON k.id = b.person_id
    {open_only}
    JOIN {office_table} bo ON bo.id = b.office_id
    WHERE b.issued_at IS NOT NULL AND b.kind <> 'refund'
      AND NOT ({in_periods} AND bo.path LIKE %s AND b.employer_id IS NULL)
"""

OPEN_BILLS_ONLY = f"JOIN {BillSettlement._meta.db_table} s ON s.bill_id = b.id AND s.settled_at IS NULL"

# pf_open: each bill insurance of pf_bills (but those of amount 0) with
# - rest_fen: its total less every allocation so far (as open_items_for_payer), and file_fen: less those of the
#   payments this file reports (lines new, repeat or corrected; the import runs before it records the new ones);
#   pf_due is their sum over in_due bills (what DUE_BY_PAYER_AND_PERIOD computes for a correction);
# - open_fen: what FIFO allocation may pay of it (rest_fen when above 0, else 0), in allocation order (contribution
#   bills before late-fee bills, then oldest period, issue, bill, INSURANCE_ORDER rank {insurance_rank}), with
#   b_end, the running sum of the payer's open amounts up to and including it (items of 0 add nothing: the
#   allocation statements leave them out). Params: file.
OPEN_ITEMS = """
    SELECT o.payer_key, o.bill_id, o.insurance_type, o.open_fen,
        CAST(SUM(o.open_fen) OVER (PARTITION BY o.payer_key
            ORDER BY o.late_fee, o.period, o.issued_at, o.bill_id, o.rnk
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS {int}) AS b_end,
        o.period, o.office_id, o.in_due, o.rest_fen, o.file_fen
    FROM (
        SELECT r.*, CASE WHEN r.rest_fen > 0 THEN r.rest_fen ELSE 0 END AS open_fen
        FROM (
            SELECT pb.payer_key, pb.bill_id, t.insurance_type, pb.late_fee, pb.period, pb.issued_at, pb.office_id,
                pb.in_due, {insurance_rank} AS rnk,
                CAST(ROUND(t.amount * 100) AS {int}) - COALESCE(a.fen, 0) AS rest_fen, COALESCE(a.file_fen, 0) AS file_fen
            FROM pf_bills pb
            JOIN {bill_total_table} t ON t.bill_id = pb.bill_id
            LEFT JOIN (
                SELECT a.bill_id, a.insurance_type, CAST(ROUND(SUM(a.amount) * 100) AS {int}) AS fen,
                    CAST(ROUND(SUM(CASE WHEN fr.reference IS NOT NULL THEN a.amount ELSE 0 END) * 100) AS {int})
                        AS file_fen
                FROM {allocation_table} a
                JOIN {payment_table} p ON p.id = a.payment_id
                LEFT JOIN (SELECT DISTINCT l.reference FROM {line_table} l
                           WHERE l.payment_file_id = %s AND l.status IN ('new', 'repeat', 'corrected')) fr
                    ON fr.reference = p.agency_reference
                WHERE a.bill_id IN (SELECT bill_id FROM pf_bills)
                GROUP BY a.bill_id, a.insurance_type
            ) a ON a.bill_id = t.bill_id AND a.insurance_type = t.insurance_type
            WHERE t.amount > 0
        ) r
    ) o
"""

# pf_due of the import, from pf_open: per payer key and period of the file, what is due (no parameter).
DUE_FROM_OPEN_ITEMS = """
    SELECT payer_key, period, MIN(office_id) AS office_id, SUM(rest_fen + file_fen) AS due_fen
    FROM pf_open WHERE in_due = 1
    GROUP BY payer_key, period
"""

# FIFO by interval overlap: payment p covers [p_end - fen, p_end) of its payer's running sum, open item o
# needs [b_end - open_fen, b_end); the allocation is their overlap. Params: created_at, created_by.
ALLOCATE_TO_BILLS = """
    INSERT INTO {allocation_table} (payment_id, bill_id, insurance_type, amount, reverses_id,
        note, created_at, created_by_id)
    SELECT p.payment_id, o.bill_id, o.insurance_type,
        ({least}(p.p_end, o.b_end) - {greatest}(p.p_end - p.fen, o.b_end - o.open_fen)) / 100.0,
        NULL, '', %s, %s
    FROM pf_pay p JOIN pf_open o ON o.payer_key = p.payer_key
    WHERE o.open_fen > 0 AND o.b_end > p.p_end - p.fen AND o.b_end - o.open_fen < p.p_end
    ORDER BY p.payment_id, o.b_end
"""

# What of a payment lies beyond everything its payer's bills ask for goes to credit (bill NULL).
# Params: note, created_at, created_by.
ALLOCATE_CREDIT = """
    INSERT INTO {allocation_table} (payment_id, bill_id, insurance_type, amount, reverses_id,
        note, created_at, created_by_id)
    SELECT p.payment_id, NULL, '', (p.p_end - {greatest}(p.p_end - p.fen, COALESCE(t.total, 0))) / 100.0,
        NULL, %s, %s, %s
    FROM pf_pay p LEFT JOIN (SELECT payer_key, MAX(b_end) AS total FROM pf_open GROUP BY payer_key) t
        ON t.payer_key = p.payer_key
    WHERE p.p_end > COALESCE(t.total, 0)
    ORDER BY p.payment_id
"""

# PostgreSQL: ALLOCATE_CREDIT ({credit_insert}) returning the credit's total.
ALLOCATE_CREDIT_RETURNING_TOTAL = (
    "WITH ins AS ({credit_insert} RETURNING amount) SELECT COALESCE(SUM(amount), 0) FROM ins"
)

# SQLite: the credit's total in fen, computed again as ALLOCATE_CREDIT computed it.
CREDIT_TOTAL_FEN = """
    SELECT COALESCE(SUM(p.p_end - {greatest}(p.p_end - p.fen, COALESCE(t.total, 0))), 0)
    FROM pf_pay p LEFT JOIN (SELECT payer_key, MAX(b_end) AS total FROM pf_open GROUP BY payer_key) t
        ON t.payer_key = p.payer_key
    WHERE p.p_end > COALESCE(t.total, 0)
"""

# =============================================================================================
# Reconciliation (``reconciliation``).

# pf_due: per payer key and period of {periods} (one %s each), what the issued bills (not refunds) of the
# file's office and below ask for less what payments NOT reported in this file paid; {key_filter} narrows
# to some (payer key, period) after a correction. Params: periods, file, periods, office path LIKE, keys.
DUE_BY_PAYER_AND_PERIOD = """
    SELECT x.payer_key, x.period, MIN(x.office_id) AS office_id, SUM(x.due_fen) AS due_fen
    FROM (
        SELECT COALESCE(b.employer_id, -b.person_id) AS payer_key, b.period, b.office_id,
            CAST(ROUND(t.amount * 100) AS {int}) - COALESCE(oa.fen, 0) AS due_fen
        FROM {bill_table} b
        JOIN {office_table} bo ON bo.id = b.office_id
        JOIN {bill_total_table} t ON t.bill_id = b.id
        LEFT JOIN (
            SELECT a.bill_id, a.insurance_type, CAST(ROUND(SUM(a.amount) * 100) AS {int}) AS fen
            FROM {allocation_table} a
            JOIN {bill_table} ab ON ab.id = a.bill_id
            JOIN {payment_table} p ON p.id = a.payment_id
            WHERE ab.period IN ({periods})
              AND NOT EXISTS (SELECT 1 FROM {line_table} l
                              WHERE l.payment_file_id = %s AND l.reference = p.agency_reference
                                AND l.status IN ('new', 'repeat', 'corrected'))
            GROUP BY a.bill_id, a.insurance_type
        ) oa ON oa.bill_id = t.bill_id AND oa.insurance_type = t.insurance_type
        WHERE b.issued_at IS NOT NULL AND b.kind <> 'refund' AND t.amount > 0
          AND b.period IN ({periods}) AND bo.path LIKE %s {key_filter}
    ) x
    GROUP BY x.payer_key, x.period
"""

# pf_due with no rows (a file without a single readable period).
DUE_NONE = "SELECT 0 AS payer_key, 0 AS period, 0 AS office_id, 0 AS due_fen WHERE 1 = 0"

# The columns every reconciliation item is written with.
_ITEM_INSERT = """
    INSERT INTO {recon_item_table} (payment_file_id, office_id, category, payer_type,
        employer_id, person_id, line_id, payer_code, period, due, paid, line_count, first_line)
"""

# Paid: per payer and period the file pays, matched when the file's payments equal what is due, else a
# mismatch. {key_filter}: as in DUE_BY_PAYER_AND_PERIOD, on the lines. Params: file, file, keys.
ITEMS_PAID = (
    _ITEM_INSERT
    + """
    SELECT %s, COALESCE(k.office_id, dd.office_id),
        CASE WHEN k.paid_fen = COALESCE(dd.due_fen, 0) THEN 'matched' ELSE 'mismatch' END,
        k.payer_type, k.employer_id, k.person_id, NULL, k.payer_code, k.period,
        COALESCE(dd.due_fen, 0) / 100.0, k.paid_fen / 100.0, k.n, k.first_line
    FROM (
        SELECT COALESCE(l.employer_id, -l.person_id) AS payer_key, l.employer_id, l.person_id, l.period,
            MIN(l.payer_type) AS payer_type, MIN(l.payer_code) AS payer_code, MIN(l.office_id) AS office_id,
            CAST(ROUND(SUM(l.amount) * 100) AS {int}) AS paid_fen, COUNT(*) AS n, MIN(l.line_no) AS first_line
        FROM {line_table} l
        WHERE l.payment_file_id = %s AND l.status IN ('new', 'repeat', 'corrected') {key_filter}
        GROUP BY l.employer_id, l.person_id, l.period
    ) k
    LEFT JOIN pf_due dd ON dd.payer_key = k.payer_key AND dd.period = k.period
"""
)

# Billed but unpaid: due in pf_due and not a line of the file for that payer and period. Params: file, file.
ITEMS_BILLED_UNPAID = (
    _ITEM_INSERT
    + """
    SELECT %s, dd.office_id, 'billed_unpaid',
        CASE WHEN dd.payer_key > 0 THEN 'employer' ELSE 'person' END,
        CASE WHEN dd.payer_key > 0 THEN dd.payer_key END, CASE WHEN dd.payer_key < 0 THEN -dd.payer_key END,
        NULL, COALESCE(e.credit_code, p.id_number, ''), dd.period, dd.due_fen / 100.0, 0, 0, NULL
    FROM pf_due dd
    LEFT JOIN {employer_table} e ON dd.payer_key > 0 AND e.id = dd.payer_key
    LEFT JOIN {person_table} p ON dd.payer_key < 0 AND p.id = -dd.payer_key
    WHERE dd.due_fen > 0 AND NOT EXISTS (
        SELECT 1 FROM {line_table} l
        WHERE l.payment_file_id = %s AND l.status IN ('new', 'repeat', 'corrected')
          AND COALESCE(l.employer_id, -l.person_id) = dd.payer_key AND l.period = dd.period)
"""
)

# Unknown payer, one item per line. A payer the registry does not know is shown to the district its code
# names (credit code characters 3–8, ID number characters 1–6) when that district is in the file's scope,
# else to the file's office. {line_filter}: only some lines, after a correction.
# Params: file, file's office, district level, office path LIKE, file, lines.
ITEMS_UNKNOWN_PAYER = (
    _ITEM_INSERT
    + """
    SELECT %s, COALESCE(od.id, %s), 'unknown_payer', l.payer_type, NULL, NULL, l.id, l.payer_code, l.period,
        0, COALESCE(l.amount, 0), 1, l.line_no
    FROM {line_table} l
    LEFT JOIN {office_table} od ON od.level = %s AND od.path LIKE %s
        AND od.code = CASE WHEN l.payer_type = 'employer' THEN substr(l.payer_code, 3, 6)
                           ELSE substr(l.payer_code, 1, 6) END
    WHERE l.payment_file_id = %s AND l.status = 'bad' AND l.problem_code = 'unknown_payer' {line_filter}
"""
)

# The summary per office and category, from the items (param: file).
SUMMARY_INSERT = """
    INSERT INTO {recon_summary_table} (payment_file_id, office_id, category, item_count,
        line_count, due, paid)
    SELECT payment_file_id, office_id, category, COUNT(*), SUM(line_count), SUM(due), SUM(paid)
    FROM {recon_item_table} WHERE payment_file_id = %s
    GROUP BY payment_file_id, office_id, category
"""
