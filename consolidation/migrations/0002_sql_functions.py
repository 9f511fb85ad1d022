"""PostgreSQL: the SQL the consolidation's line checks and matching use (the import itself needs PostgreSQL).

- ``pg_trgm`` for the similarity of names' pinyin (trigrams of Chinese characters are too coarse:
  王小明/王晓明 share one of seven; their pinyin is the same string).
- Plain SQL functions (inlined into the calling statement, no per-row call) for the check characters of the
  公民身份号码 (GB 11643-1999: weights 2^(17-i) mod 11, check = "10X98765432"[sum mod 11]), the 统一社会信用代码
  (GB 32100-2015: weights 3^(i-1) mod 31 over a 31-character alphabet) and the organisation code inside it
  (GB 11714-1997: weights 3 7 9 10 5 8 4 2, check 11 - sum mod 11, 10 = X, 11 = 0); a safe calendar date
  from YYYYMMDD and from the usual written forms; a month (YYYYMM); an amount in yuan with at most two decimals.
- ``consolidation_id_relation``: how two 17-digit bodies of ID numbers differ (the same, one digit, two
  neighbouring digits swapped), for fuzzy matching.
"""

from django.db import migrations

from registry.migration_ops import PostgresOnlySQL

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_id_sum = " + ".join(f"substr(b, {i + 1}, 1)::int * {w}" for i, w in enumerate(ID_WEIGHTS))
_uscc_sum = " + ".join(
    f"(strpos('{USCC_ALPHABET}', substr(b, {i + 1}, 1)) - 1) * {w}" for i, w in enumerate(USCC_WEIGHTS)
)
_org_sum = " + ".join(
    f"(strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr(b, {i + 1}, 1)) - 1) * {w}"
    for i, w in enumerate(ORG_WEIGHTS)
)

FORWARD = f"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Check character of a 17-digit ID body (the caller makes sure it is 17 digits).
CREATE FUNCTION consolidation_id_check(b text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT substr('10X98765432', (({_id_sum}) % 11) + 1, 1)
$$;

-- Check character of the first 17 characters of a credit code (the caller makes sure of the alphabet).
CREATE FUNCTION consolidation_uscc_check(b text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT substr('{USCC_ALPHABET}', ((31 - ({_uscc_sum}) % 31) % 31) + 1, 1)
$$;

-- Check character of the first 8 characters of an organisation code.
CREATE FUNCTION consolidation_org_check(b text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE 11 - ({_org_sum}) % 11 WHEN 10 THEN 'X' WHEN 11 THEN '0'
                ELSE (11 - ({_org_sum}) % 11)::text END
$$;

-- YYYYMMDD as a date, NULL when it is no calendar day (never an error).
CREATE FUNCTION consolidation_ymd(t text) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN t ~ '^(18|19|20)[0-9]{{2}}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$' THEN
        CASE WHEN substr(t, 7, 2)::int <= extract(day from make_date(substr(t, 1, 4)::int, substr(t, 5, 2)::int, 1)
                                                   + interval '1 month' - interval '1 day')
             THEN make_date(substr(t, 1, 4)::int, substr(t, 5, 2)::int, substr(t, 7, 2)::int) END
    END
$$;

-- A date as legacy systems write it: 20250131, 2025-01-31, 2025/1/31, 2025.01.31, 2025年1月31日, with or
-- without a time after it. NULL when unreadable.
CREATE FUNCTION consolidation_date(t text) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN length(t) = 10 AND substr(t, 5, 1) = '-' AND substr(t, 8, 1) = '-'  -- 2025-01-31, the usual: no regex
            THEN consolidation_ymd(substr(t, 1, 4) || substr(t, 6, 2) || substr(t, 9, 2))
        WHEN t ~ '^[0-9]{{8}}$' THEN consolidation_ymd(t)
        WHEN t ~ '^[0-9]{{4}}[-/.年][0-9]{{1,2}}[-/.月][0-9]{{1,2}}日?([ T].*)?$' THEN consolidation_ymd(
            substr(t, 1, 4)
            || lpad((regexp_match(t, '^[0-9]{{4}}[-/.年]([0-9]{{1,2}})'))[1], 2, '0')
            || lpad((regexp_match(t, '^[0-9]{{4}}[-/.年][0-9]{{1,2}}[-/.月]([0-9]{{1,2}})'))[1], 2, '0'))
    END
$$;

-- A month as YYYYMM (202501, 2025-01, 2025/1, 2025.01, 2025年1月), 1950-2099; NULL when unreadable.
CREATE FUNCTION consolidation_period(t text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN t ~ '^(19[5-9][0-9]|20[0-9]{{2}})(0[1-9]|1[0-2])$' THEN t::int
        WHEN t ~ '^(19[5-9][0-9]|20[0-9]{{2}})[-/.年]0?([1-9]|1[0-2])月?$'
            THEN substr(t, 1, 4)::int * 100 + (regexp_match(t, '^[0-9]{{4}}[-/.年]0?([0-9]{{1,2}})'))[1]::int
    END
$$;

-- An amount in yuan: digits, at most two decimals, thousands commas allowed; NULL otherwise (a minus sign too).
CREATE FUNCTION consolidation_money(t text) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN t ~ '^[0-9]{{1,12}}(\\.[0-9]{{0,2}})?$' THEN t::numeric
                WHEN replace(t, ',', '') ~ '^[0-9]{{1,12}}(\\.[0-9]{{0,2}})?$' THEN replace(t, ',', '')::numeric END
$$;

-- An ID number as written, cleaned: no spaces, full-width digits and X made half-width, upper case.
CREATE FUNCTION consolidation_id_norm(raw text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT upper(translate(regexp_replace(coalesce(raw, ''), '[[:space:]]', '', 'g'), '０１２３４５６７８９Ｘｘ', '0123456789XX'))
$$;

-- The valid 18-character number of a cleaned ID (15 digits converted: "19" before the year, check character
-- appended), or NULL. Birth dates from 1890 to today.
CREATE FUNCTION consolidation_id18(n text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN n ~ '^[0-9]{{17}}[0-9X]$' THEN
            CASE WHEN consolidation_ymd(substr(n, 7, 8)) BETWEEN DATE '1890-01-01' AND current_date
                  AND consolidation_id_check(substr(n, 1, 17)) = substr(n, 18, 1) THEN n END
        WHEN n ~ '^[0-9]{{15}}$' THEN
            CASE WHEN consolidation_ymd('19' || substr(n, 7, 6)) BETWEEN DATE '1890-01-01' AND current_date
                 THEN substr(n, 1, 6) || '19' || substr(n, 7, 9)
                      || consolidation_id_check(substr(n, 1, 6) || '19' || substr(n, 7, 9)) END
    END
$$;

-- The key other files use to point at a person: the valid 18-character number, else the cleaned text.
-- PL/pgSQL on purpose: an SQL function would be inlined with its argument copied into every place it is used
-- (the cleaning, a regular expression, ran a dozen times per line).
CREATE FUNCTION consolidation_id_key(raw text) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    n text := consolidation_id_norm(raw);
BEGIN
    RETURN coalesce(consolidation_id18(n), n);
END $$;

-- The key of an employer code as written: no spaces or hyphens, upper case.
CREATE FUNCTION consolidation_code_norm(raw text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT upper(regexp_replace(coalesce(raw, ''), '[[:space:]-]', '', 'g'))
$$;

-- How two 17-character ID bodies differ: 'same', 'digit' (one position), 'swap' (two neighbouring digits
-- exchanged) or NULL (more, or not comparable).
CREATE FUNCTION consolidation_id_relation(a text, b text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    diffs int := 0;
    first int := 0;
    second int := 0;
BEGIN
    IF a IS NULL OR b IS NULL OR length(a) <> 17 OR length(b) <> 17 THEN
        RETURN NULL;
    END IF;
    FOR i IN 1..17 LOOP
        IF substr(a, i, 1) <> substr(b, i, 1) THEN
            diffs := diffs + 1;
            IF diffs = 1 THEN first := i; ELSIF diffs = 2 THEN second := i; ELSE RETURN NULL; END IF;
        END IF;
    END LOOP;
    IF diffs = 0 THEN RETURN 'same'; END IF;
    IF diffs = 1 THEN RETURN 'digit'; END IF;
    IF second = first + 1 AND substr(a, first, 1) = substr(b, second, 1) AND substr(a, second, 1) = substr(b, first, 1)
    THEN RETURN 'swap'; END IF;
    RETURN NULL;
END $$;
"""

BACKWARD = """
DROP FUNCTION IF EXISTS consolidation_id_relation(text, text);
DROP FUNCTION IF EXISTS consolidation_money(text);
DROP FUNCTION IF EXISTS consolidation_code_norm(text);
DROP FUNCTION IF EXISTS consolidation_id_key(text);
DROP FUNCTION IF EXISTS consolidation_id18(text);
DROP FUNCTION IF EXISTS consolidation_id_norm(text);
DROP FUNCTION IF EXISTS consolidation_period(text);
DROP FUNCTION IF EXISTS consolidation_date(text);
DROP FUNCTION IF EXISTS consolidation_ymd(text);
DROP FUNCTION IF EXISTS consolidation_org_check(text);
DROP FUNCTION IF EXISTS consolidation_uscc_check(text);
DROP FUNCTION IF EXISTS consolidation_id_check(text);
"""


class Migration(migrations.Migration):
    dependencies = [("consolidation", "0001_consolidation_initial")]

    operations = [PostgresOnlySQL(FORWARD, reverse_sql=BACKWARD)]
