"""Data consolidation benchmark: a district batch of BENCH_PERSONS persons (default 1,000,000) and
BENCH_PERSONS × BENCH_HISTORY_PER_PERSON monthly history lines (default 12: 12,000,000, one year) of messy legacy
data — GBK, 15-digit numbers, persons shared with another district (some with typing errors in number or name),
missing fields, bad lines — loaded, checked, matched (fuzzy matching included) and applied, against a plain COPY
of the same files measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tzsi_bench_consolidation .venv/bin/python bench/bench_consolidation.py

Small check: ``BENCH_PERSONS=20000``. Five years: ``BENCH_HISTORY_PER_PERSON=60`` (60,000,000 lines).
The database is created and migrated when missing and dropped at the end (``BENCH_KEEP=1`` keeps it); the
generated files go to a temporary folder (``BENCH_DIR`` to choose one), removed at the end.

Steps: (1) generate the files of 椒江 (the shared persons, BENCH_SHARED_SHARE of the batch) and of 黄岩 (the big
batch, GBK); (2) load and apply 椒江 (not timed: it is the registry the big batch meets); (3) ANALYZE, then the
baseline: COPY each of 黄岩's files as it is (GB18030, header) into a plain table of text columns; (4) the
pipeline: folder scan (SHA-256 of the files), load and check, apply (matching, merging, creating, history,
reconciliation) — timed, with its phases; (5) the same folder delivered again (nothing changes). Goal: the
pipeline within 4× the baseline. With persons ≥ 1,000,000 the section in docs/benchmarks.md is rewritten.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tzsi_bench_consolidation")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")
if not os.environ["DATABASE_URL"].startswith("postgres"):
    sys.exit("bench_consolidation needs PostgreSQL: set DATABASE_URL=postgres://…")

PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
HISTORY_PER_PERSON = int(os.environ.get("BENCH_HISTORY_PER_PERSON", "12"))
SHARED_SHARE = float(os.environ.get("BENCH_SHARED_SHARE", "0.05"))
EMPLOYERS = max(10, PERSONS // 20)
HEADING = "## Consolidation: a district batch loaded, checked, matched and applied (数据大集中)"


def generate(folder: Path) -> dict:
    from consolidation.generator import DistrictSpec, HumanFactory, Mess, district_folder

    factory = HumanFactory("bench-consolidation")
    shared = int(PERSONS * SHARED_SHARE)
    start = time.perf_counter()
    jiaojiang = district_folder(
        folder / "first",
        DistrictSpec("331002", shared, max(10, shared // 20), history_per_person=3),
        factory,
        label="jiaojiang",
    )
    spec = DistrictSpec(
        "331003",
        PERSONS - shared,
        EMPLOYERS,
        encoding="gbk",
        shared=jiaojiang,
        mess=Mess(id15=0.08, typo_id=0.1, typo_name=0.1, missing=0.1, bad_person=0.002, bad_history=0.001),
        history_per_person=HISTORY_PER_PERSON,
    )
    district_folder(folder / "big", spec, factory, label="huangyan")
    return {"shared": shared, "seconds": time.perf_counter() - start}


def baseline_copy(cur, folder: Path) -> tuple[float, dict[str, int]]:
    """COPY each file as it is into a plain table of text columns (created before, dropped after)."""
    rows, seconds = {}, 0.0
    for path in sorted(folder.glob("*.csv")):
        with path.open("rb") as handle:
            header = handle.readline().decode("gb18030").strip().split(",")
        table = f"bench_copy_{path.stem}"
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} ({', '.join(f'c{i} text' for i in range(len(header)))})")
        start = time.perf_counter()
        with path.open("rb") as handle:
            cur.cursor.copy_expert(
                f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'GB18030')", handle, size=1 << 20
            )
        seconds += time.perf_counter() - start
        cur.execute(f"SELECT count(*) FROM {table}")
        rows[path.stem] = cur.fetchone()[0]
        cur.execute(f"DROP TABLE {table}")
    return seconds, rows


def main() -> None:
    from benchdb import Verdicts, database_ensure, load_average

    database_ensure(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.db import connection

    from consolidation.models import BatchStatus, Conflict, ImportBatch
    from consolidation.services.apply import batch_apply
    from consolidation.services.batches import import_batch_apply_start, import_folder_scan
    from consolidation.services.load import batch_load
    from registry.models import Office, User

    city = Office.objects.get(level=1)
    admin, _created = User.objects.get_or_create(
        username="bench_consolidation", defaults={"office": city, "is_superuser": True, "is_staff": True}
    )
    folder = Path(os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="tzsi_bench_consolidation_"))
    try:
        made = generate(folder)
        size = sum(p.stat().st_size for p in (folder / "big").rglob("*.csv"))
        print(f"generated in {made['seconds']:.0f} s: big batch {size / 1e6:.0f} MB", flush=True)

        def run(root: Path) -> ImportBatch:
            (batch,) = import_folder_scan(root=str(root))
            batch = batch_load(batch_id=batch.pk)
            assert batch.status == BatchStatus.CHECKED, batch.error
            import_batch_apply_start(batch=batch, acting_user=admin)
            return batch_apply(batch_id=batch.pk)

        first = run(folder / "first")
        assert first.status == BatchStatus.APPLIED, first.error
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
            copy_seconds, copy_rows = baseline_copy(cur, next((folder / "big").iterdir()))
        print(f"baseline COPY: {copy_rows} in {copy_seconds:.1f} s", flush=True)
        load = os.getloadavg()
        start = time.perf_counter()
        batch = run(folder / "big")
        seconds = time.perf_counter() - start
        assert batch.status == BatchStatus.APPLIED, batch.error
        print(f"pipeline: {seconds:.1f} s {batch.timings}", flush=True)
        start = time.perf_counter()
        again = import_folder_scan(root=str(folder / "big"))
        again_seconds = time.perf_counter() - start
        assert again == []
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0]
            cur.execute("SHOW shared_buffers")
            buffers = cur.fetchone()[0]
        section = report(
            batch,
            seconds,
            copy_seconds,
            copy_rows,
            made,
            size,
            load,
            version,
            buffers,
            again_seconds,
            conflicts=Conflict.objects.filter(batch=batch).count(),
        )
        print(section)
        if PERSONS >= 1_000_000:
            write_section(section)
        verdicts = Verdicts()
        verdicts.ratio("pipeline ÷ plain COPY", seconds, copy_seconds, goal=4.0)
        print(f"load average after the pipeline: {load_average()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        connection.close()
        if not os.environ.get("BENCH_KEEP"):
            from benchdb import database_name, server_connection

            conn = server_connection(os.environ["DATABASE_URL"])
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{database_name(os.environ["DATABASE_URL"])}" WITH (FORCE)')
            conn.close()
    verdicts.finish()


def report(batch, seconds, copy_seconds, copy_rows, made, size, load, version, buffers, again_seconds, conflicts):
    rec = batch.reconciliation
    history = rec["history"]
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(batch.timings.items()))
    ratio = seconds / copy_seconds
    return f"""{HEADING}

Command: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/tzsi_bench_consolidation BENCH_PERSONS={PERSONS} BENCH_HISTORY_PER_PERSON={HISTORY_PER_PERSON} .venv/bin/python bench/bench_consolidation.py`
(part of `make bench`). Machine: {os.cpu_count()} cores, {platform.machine()}, PostgreSQL {version} (shared_buffers
{buffers}), measured {time.strftime("%Y-%m-%d %H:%M")}, load average before the pipeline {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.

Data (generated by `consolidation/generator.py`): 黄岩's batch, GBK CSV, {size / 1e6:.0f} MB: {copy_rows.get("persons", 0):,}
persons (of which {made["shared"]:,} also in 椒江's batch applied before, some with a typing error in the number or
a homophone in the name; 8 % with the old 15-digit number), {copy_rows.get("employers", 0):,} employers,
{copy_rows.get("enrollments", 0):,} enrollments, {copy_rows.get("history", 0):,} history lines; missing fields, bad lines.
Result: persons {rec["persons"]}, {conflicts:,} conflicts queued, history loaded {history["loaded_rows"]} lines
({history["loaded_amount"]} yuan), overlapping months reported {history["overlap_months"]}; reconciliation
{"agrees" if rec["agrees"] else "DOES NOT AGREE"}.

| what | seconds |
|---|---:|
| **pipeline**: folder scan (SHA-256), load (COPY) and line checks, apply (matching incl. fuzzy, merges, creation, history, reconciliation) | **{seconds:.1f}** |
| of which: {phases} | |
| the same folder again (registered already: nothing changes) | {again_seconds:.2f} |
| baseline: plain COPY of the same four files into tables of text columns (after ANALYZE; a COPY has no plan) | {copy_seconds:.1f} |
| **ratio pipeline ÷ baseline** (goal ≤ 4) | **{ratio:.1f}×** |
"""


def write_section(section: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8")
    if HEADING in text:
        before, _sep, after = text.partition(HEADING)
        rest = after.split("\n## ", 1)
        text = before + section + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
