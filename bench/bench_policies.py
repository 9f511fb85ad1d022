#!/usr/bin/env python
"""Benchmark: resolve 10 parameters for 1,000,000 (person, month) pairs the way the bill run will.

The bill run of a contribution year handles each (person, month) pair. It must not ask the resolver
once per pair: it resolves each parameter once per (month, district) with ``parameter_values`` and
hands the resolved bundle to every pair of that month and district. This script times that against the fair
baseline — ANALYZE, one hand-written query of every value of the codes for the year (its plan printed), the most
specific value per (month, district) picked in plain Python, the same hand-out — and fails when that baseline is
slower than the code; for comparison only, two naive ways measured on a sample and extrapolated:

* per-pair resolver call (cached snapshot, but one call per pair);
* per-pair database query (what a resolver without the cache would cost).

Usage (from the repository root):

    .venv/bin/python bench/bench_policies.py                # PostgreSQL tzsi_bench_policies, local-memory cache
    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/bench_policies.py   # with the shared Redis cache
    .venv/bin/python bench/bench_policies.py --markdown     # also print the docs/benchmarks.md section

The database is created and migrated when missing (its reference data is the migration's).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tzsi_bench_policies")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")
os.environ.setdefault("CACHE_KEY_PREFIX", "tzsi_bench_policies")
os.environ.setdefault("AXES_ENABLED", "0")

CODES = [
    "rate.emp_pension.employer",
    "rate.emp_pension.individual",
    "rate.emp_medical.employer",
    "rate.emp_medical.individual",
    "rate.unemployment.employer",
    "rate.unemployment.individual",
    "rate.maternity.employer",
    "base.floor_ratio",
    "base.ceiling_ratio",
    "wage.average_monthly",
]
DISTRICTS = ["331002", "331003", "331004"]
YEAR = 2024


def setup() -> None:
    from benchdb import database_ensure

    database_ensure(os.environ["DATABASE_URL"], migrate=False)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_pairs(n: int) -> list[tuple[int, int, int]]:
    """(person id, month index 0–11, district index 0–2): persons spread over the districts, 12 months each."""
    persons = -(-n // 12)
    pairs = []
    for person in range(persons):
        district = person % len(DISTRICTS)
        for month in range(12):
            pairs.append((person, month, district))
            if len(pairs) == n:
                return pairs
    return pairs


def run(n_pairs: int, naive_sample: int, db_sample: int) -> dict:
    from django.db import connection
    from django.db.models import Q

    from policies.models import ParameterValue
    from policies.selectors import parameter_cache_clear, parameter_values
    from registry.models import Office

    months = [datetime.date(YEAR, m, 1) for m in range(1, 13)]
    # A township office per district, as the bill run has each employer's or person's office.
    offices = [Office.objects.filter(level=3, parent__code=code).order_by("code").first() for code in DISTRICTS]
    pairs = make_pairs(n_pairs)

    # --- The bill run's way: resolve once per (month, district), hand the bundle to every pair. ---
    parameter_cache_clear()
    queries_before = len(connection.queries) if connection.queries_log is not None else 0
    t0 = time.perf_counter()
    bundles: list[tuple] = []
    for month in months:
        for office in offices:
            resolved = parameter_values(CODES, on=month, office=office)
            # What each pair needs: the values, and the versions the bill records.
            bundles.append((tuple(resolved[c].value for c in CODES), tuple(resolved[c].value_id for c in CODES)))
    t_resolve_cold = time.perf_counter() - t0

    t0 = time.perf_counter()
    for month in months:
        for office in offices:
            parameter_values(CODES, on=month, office=office)
    t_resolve_warm = time.perf_counter() - t0

    n_districts = len(DISTRICTS)
    t0 = time.perf_counter()
    attached = [bundles[m * n_districts + d] for _person, m, d in pairs]
    t_apply = time.perf_counter() - t0
    assert len(attached) == n_pairs
    # Every pair of one month and district shares one bundle object: no per-pair copies.
    assert attached[0] is bundles[0]

    # --- The fair baseline: the same work the plainest way — ANALYZE, ONE hand-written query of every value of the
    # codes valid in the year (district-specific or city-wide), the most specific valid value picked per (month,
    # district) in plain Python, the same hand-out to every pair. ---
    from benchdb import analyze, explain

    baseline_sql = """
        SELECT p.code, o.code, v.valid_from, v.valid_to, v.value_decimal, v.id
        FROM policies_parametervalue v
        JOIN policies_parameter p ON p.id = v.parameter_id
        LEFT JOIN registry_office o ON o.id = v.district_id
        WHERE p.code = ANY(%s) AND v.valid_from <= %s AND (v.valid_to IS NULL OR v.valid_to > %s)
    """
    baseline_params = [CODES, months[-1], months[0]]
    with connection.cursor() as cur:
        analyze(cur, "policies_parametervalue", "policies_parameter", "registry_office")
        plan = explain(cur, baseline_sql, baseline_params)
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(baseline_sql, baseline_params)
        rows = cur.fetchall()
    plain: list[tuple] = []
    for month in months:
        for district in DISTRICTS:
            best: dict[str, tuple] = {}
            for code, row_district, valid_from, valid_to, value, value_id in rows:
                valid = valid_from <= month and (valid_to is None or valid_to > month)
                rank = (row_district is not None, valid_from)
                if valid and row_district in (None, district) and (code not in best or rank > best[code][0]):
                    best[code] = (rank, value, value_id)
            plain.append((tuple(best[c][1] for c in CODES), tuple(best[c][2] for c in CODES)))
    plain_attached = [plain[m * n_districts + d] for _person, m, d in pairs]
    t_baseline = time.perf_counter() - t0
    assert len(plain_attached) == n_pairs
    assert [b[1] for b in plain] == [b[1] for b in bundles], "the baseline resolved other values than the resolver"

    # --- For comparison only (not baselines: slower by design): one resolver call per pair (cache warm), on a sample. ---
    sample = pairs[:: max(1, len(pairs) // naive_sample)][:naive_sample]
    t0 = time.perf_counter()
    for _person, m, d in sample:
        parameter_values(CODES, on=months[m], office=offices[d])
    t_naive_call = (time.perf_counter() - t0) / len(sample) * n_pairs

    # --- For comparison only: one database query per pair (no cache), on a smaller sample. ---
    db_pairs = sample[:db_sample]
    t0 = time.perf_counter()
    for _person, m, d in db_pairs:
        on = months[m]
        list(
            ParameterValue.objects.filter(parameter__code__in=CODES, valid_from__lte=on)
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on))
            .filter(Q(district__isnull=True) | Q(district__code=DISTRICTS[d]))
            .values_list("parameter__code", "district__code", "value_decimal", "id")
        )
    t_naive_db = (time.perf_counter() - t0) / len(db_pairs) * n_pairs

    from django.conf import settings

    return {
        "pairs": n_pairs,
        "codes": len(CODES),
        "resolutions": len(bundles),
        "resolve_cold": t_resolve_cold,
        "resolve_warm": t_resolve_warm,
        "apply": t_apply,
        "total": t_resolve_cold + t_apply,
        "baseline": t_baseline,
        "baseline_plan": plan,
        "naive_call": t_naive_call,
        "naive_call_sample": len(sample),
        "naive_db": t_naive_db,
        "naive_db_sample": len(db_pairs),
        "cache": "Redis" if settings.REDIS_URL else "local memory",
        "database": connection.vendor,
        "queries": (len(connection.queries) - queries_before) if connection.queries_log is not None else None,
    }


def fmt(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.1f} s"


def markdown(results: list[dict]) -> str:
    lines = [
        "## Policies: parameter resolution",
        "",
        "`bench/bench_policies.py` resolves 10 parameter codes (pension, medical, unemployment and maternity rates, "
        "base floor and ceiling ratios, average wage) for 1,000,000 (person, month) pairs — 83,334 persons over the "
        f"12 months of {YEAR}, spread over the three districts — the way the bill run will: `parameter_values` once "
        "per (month, district) (36 calls), then each pair gets the resolved bundle of its month and district. The "
        "baseline, in the same run after ANALYZE: one hand-written query of the year's values of the 10 codes, the "
        "most specific value per (month, district) picked in plain Python, the same hand-out. The two naive ways "
        "(for comparison, not baselines) are measured on a sample and extrapolated to 1,000,000 pairs.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"PostgreSQL on localhost; run on {datetime.date.today().isoformat()}.",
        "",
        "| cache | resolve 36 × 10 (cold) | resolve again (warm) | attach to 1,000,000 pairs | **total** "
        "| baseline: one query + plain Python + attach | **ratio** "
        "| naive: resolver call per pair | naive: query per pair |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['cache']} | {fmt(r['resolve_cold'])} | {fmt(r['resolve_warm'])} | {fmt(r['apply'])} "
            f"| **{fmt(r['total'])}** | {fmt(r['baseline'])} | **{r['total'] / r['baseline']:.2f}×** "
            f"| {fmt(r['naive_call'])} (sample {r['naive_call_sample']:,}) "
            f"| {fmt(r['naive_db'])} (sample {r['naive_db_sample']:,}) |"
        )
    lines += [
        "",
        "Cold = the first call after the cache was dropped: two queries load the whole parameter table (a few hundred "
        "rows) into one snapshot; every later call until a value changes costs one cache read of the version number. "
        "The per-pair contribution arithmetic belongs to the bill run (contributions) and is not part of this figure.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--naive-sample", type=int, default=20_000)
    parser.add_argument("--db-sample", type=int, default=300)
    parser.add_argument("--markdown", action="store_true", help="print the docs/benchmarks.md section")
    args = parser.parse_args()

    setup()
    result = run(args.pairs, args.naive_sample, args.db_sample)
    print(f"database {result['database']}, cache {result['cache']}")
    print(f"{result['pairs']:,} pairs × {result['codes']} codes; {result['resolutions']} resolutions")
    print(f"  resolve cold            {fmt(result['resolve_cold'])}")
    print(f"  resolve warm            {fmt(result['resolve_warm'])}")
    print(f"  attach to pairs         {fmt(result['apply'])}")
    print(f"  total                   {fmt(result['total'])}")
    print(f"  naive resolver per pair {fmt(result['naive_call'])} (extrapolated from {result['naive_call_sample']:,})")
    print(f"  naive query per pair    {fmt(result['naive_db'])} (extrapolated from {result['naive_db_sample']:,})")
    print(f"  baseline (one query, plain Python) {fmt(result['baseline'])}")
    from benchdb import Verdicts

    verdicts = Verdicts()
    verdicts.ratio("resolver + hand-out ÷ one query + plain Python", result["total"], result["baseline"])
    if args.markdown:
        print()
        print(markdown([result]))
        print(f"\nPlan of the baseline query (EXPLAIN after ANALYZE):\n\n```\n{result['baseline_plan']}\n```")
    verdicts.finish()


if __name__ == "__main__":
    main()
