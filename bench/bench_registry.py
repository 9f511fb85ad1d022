"""Benchmark: seed_demo at scale, then person lookups by ID number and by pinyin prefix.

Needs PostgreSQL. DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/tzsi_bench; the database
name must contain "bench", because the database is dropped and created afresh for every run.

    BENCH_PERSONS (1000000)  BENCH_EMPLOYERS (50000)  BENCH_LOOKUPS (200)  BENCH_SEED (20261128)
    BENCH_DOCS=0             do not write docs/benchmarks.md
    BENCH_GIST=1             also time building the enrollment no-overlap constraint on the baseline copy
                             (several minutes at 1,000,000 persons)

Baseline, measured in the same run on the rows seed_demo wrote: a plain COPY of those person and
enrollment rows into scratch tables that have only a primary key, inside a transaction that is rolled back.

Prints a markdown block and replaces the section "## Registry: seed_demo and person lookups" of
docs/benchmarks.md (created with a short introduction when missing).
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

BASE = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tzsi_bench"
SECTION = "## Registry: seed_demo and person lookups"
DOCS = BASE / "docs" / "benchmarks.md"
DOCS_INTRO = """# Benchmarks

Figures measured by the scripts in `bench/` (`make bench` runs all of them through `bench/run_all.py`;
each script can also be run alone with the project's virtualenv python). Each section names the command,
the machine, the PostgreSQL version and the date of the run that produced it. The machine may be shared
with other work (test suites running at the same time), so wall-clock figures are upper bounds unless a
section says the machine was quiet.
"""


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def python() -> str:
    venv = BASE / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def fail(message: str) -> None:
    print(f"bench_registry: {message}", file=sys.stderr)
    sys.exit(2)


def prepare_database() -> str:
    url = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_URL
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        fail(f"needs PostgreSQL: DATABASE_URL={url!r} is not a postgres:// URL (SQLite is not benchmarked).")
    name = parts.path.lstrip("/")
    if "bench" not in name:
        fail(f"the database {name!r} is dropped and re-created for every run: use a name containing 'bench'.")
    from benchdb import database_create

    database_create(url, drop_first=True)
    os.environ["DATABASE_URL"] = url
    subprocess.run([python(), "manage.py", "migrate", "--no-input", "-v0"], cwd=BASE, check=True)
    return url


class BackendCpu(threading.Thread):
    """CPU seconds of the PostgreSQL backend serving seed_demo (same machine, /proc readable; else n/a).

    The benchmark database was just created, so seed_demo's is the only other client backend on it.
    """

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.pid: int | None = None
        self.seconds: float | None = None
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg2

        parts = urlsplit(self.url)
        try:
            conn = psycopg2.connect(self.url)
        except psycopg2.Error:
            return
        conn.autocommit = True
        tick = os.sysconf("SC_CLK_TCK")
        try:
            with conn.cursor() as cursor:
                while not self.done.wait(0.5):
                    if self.pid is None:
                        cursor.execute(
                            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                            "AND backend_type = 'client backend' ORDER BY backend_start LIMIT 1",
                            [parts.path.lstrip("/")],
                        )
                        row = cursor.fetchone()
                        self.pid = row[0] if row else None
                        continue
                    try:
                        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        break  # the backend has exited: the last reading stands
                    self.seconds = (int(fields[11]) + int(fields[12])) / tick
        finally:
            conn.close()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)

    def describe(self) -> str:
        return "n/a" if self.seconds is None else f"≥ {self.seconds:.1f} s (sampled every 0.5 s)"


PERSON_COPY_COLUMNS = (
    "uid, id_number, name, name_pinyin, name_initials, sex, birth_date, household_type, phone, address, "
    "card_number, card_status, created_at, updated_at, residence_office_id"
)
ENROLLMENT_COPY_COLUMNS = (
    "uid, insurance_type, is_flexible, start_date, end_date, created_at, updated_at, employer_id, office_id, person_id"
)
NO_OVERLAP = (
    "EXCLUDE USING gist (person_id WITH =, insurance_type WITH =, daterange(start_date, end_date, '[]') WITH &&)"
)


def copy_baseline(url: str, gist: bool) -> list[tuple[str, float, float | None]]:
    """(step, wall seconds, backend CPU seconds) of a plain COPY of the seeded rows into bare scratch tables, then the
    real tables' indexes built on them.

    The rows are first exported to files (not timed); the scratch tables are created and loaded in one
    transaction that is rolled back, so nothing is left behind. WAL is written as for the real tables.
    """
    import tempfile

    import psycopg2
    from benchdb import index_definitions

    conn = psycopg2.connect(url)
    steps: list[tuple[str, float, float | None]] = []
    tick = os.sysconf("SC_CLK_TCK")
    try:
        with tempfile.TemporaryDirectory() as tmp, conn.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]

            def backend_cpu() -> float | None:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    return None
                return (int(fields[11]) + int(fields[12])) / tick

            files = {}
            for table, columns in (("person", PERSON_COPY_COLUMNS), ("enrollment", ENROLLMENT_COPY_COLUMNS)):
                files[table] = Path(tmp) / f"{table}.tsv"
                with files[table].open("w") as out:
                    cursor.copy_expert(f"COPY (SELECT {columns} FROM registry_{table} ORDER BY id) TO STDOUT", out)
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for table, columns in (("person", PERSON_COPY_COLUMNS), ("enrollment", ENROLLMENT_COPY_COLUMNS)):
                cursor.execute(
                    f"CREATE TABLE bench_{table} (LIKE registry_{table} INCLUDING DEFAULTS INCLUDING IDENTITY)"
                )
                # The same indexes at the end as the table seed_demo filled (primary key and unique ones included),
                # built after the COPY: the same layout, the plainest way.
                indexes = index_definitions(cursor, f"registry_{table}", f"bench_{table}")
                cpu, start = backend_cpu(), time.perf_counter()
                with files[table].open() as data:
                    cursor.copy_expert(f"COPY bench_{table} ({columns}) FROM STDIN", data, size=1 << 20)
                for statement in indexes:
                    cursor.execute(statement)
                after = backend_cpu()
                steps.append(
                    (
                        f"COPY into a bare `{table}` copy, then its {len(indexes)} indexes",
                        time.perf_counter() - start,
                        None if cpu is None else after - cpu,
                    )
                )
            if gist:
                cpu, start = backend_cpu(), time.perf_counter()
                cursor.execute(f"ALTER TABLE bench_enrollment ADD CONSTRAINT bench_enrollment_no_overlap {NO_OVERLAP}")
                after = backend_cpu()
                steps.append(
                    (
                        "building the no-overlap exclusion constraint (GiST) on it",
                        time.perf_counter() - start,
                        None if cpu is None else after - cpu,
                    )
                )
    finally:
        conn.rollback()
        conn.close()
    return steps


def timed(fn: Callable[[], object], runs: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def stats(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]


def loadavg() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine() -> dict[str, str]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpus": str(os.cpu_count()),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB" if mem_kb else "n/a",
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def main() -> None:
    persons = env_int("BENCH_PERSONS", 1_000_000)
    employers = env_int("BENCH_EMPLOYERS", 50_000)
    lookups = env_int("BENCH_LOOKUPS", 200)
    seed = env_int("BENCH_SEED", 20261128)
    url = prepare_database()
    load_before = loadavg()

    command = [
        python(),
        "manage.py",
        "seed_demo",
        f"--persons={persons}",
        f"--employers={employers}",
        f"--seed={seed}",
    ]
    print(f"bench_registry: {' '.join(command[1:])} on {urlsplit(url).path.lstrip('/')}", flush=True)
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    watcher = BackendCpu(url)
    watcher.start()
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=BASE, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        fail(f"seed_demo failed:\n{exc.stdout}\n{exc.stderr}")
    finally:
        watcher.stop()
    seed_seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    seed_cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    seed_log = [line for line in done.stdout.splitlines() if line.strip()]
    print("\n".join(seed_log), flush=True)
    load_after_seed = loadavg()
    gist = os.environ.get("BENCH_GIST", "0") == "1"
    baseline = copy_baseline(url, gist)
    for step, seconds, cpu in baseline:
        print(f"baseline: {step}: {seconds:.1f} s (backend CPU {cpu} s)", flush=True)
    load_after_baseline = loadavg()

    sys.path.insert(0, str(BASE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")
    import django

    django.setup()
    from django.db import connection

    from registry.models import Enrollment, Office, Person, User
    from registry.names import name_pinyin
    from registry.selectors import person_list

    city = Office.objects.get(level=1)
    city_user, _ = User.objects.get_or_create(username="bench-city", defaults={"office": city})
    superuser, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True, "is_staff": True})
    counts = {
        "persons": Person.objects.count(),
        "enrollments": Enrollment.objects.count(),
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0].split(" on ")[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute(
            "SELECT id_number, name, name_pinyin, name_initials FROM registry_person ORDER BY random() LIMIT %s",
            [lookups],
        )
        sample = cursor.fetchall()
    id_numbers = [row[0] for row in sample]
    # "zhangw": the surname's pinyin and the first letter of the given name; initials as typed: "zwj".
    prefixes = [row[2][: len(name_pinyin(row[1][0])[0]) + 1] for row in sample]
    initials = [row[3] for row in sample]

    def cycle(values: list[str]) -> Callable[[], str]:
        state = {"i": 0}

        def next_value() -> str:
            state["i"] += 1
            return values[state["i"] % len(values)]

        return next_value

    results: list[tuple[str, list[float], float]] = []

    def measure(label: str, values: list[str], run: Callable[[str], int]) -> None:
        pick = cycle(values)
        rows: list[int] = []

        def once() -> None:
            rows.append(run(pick()))

        times = timed(once, lookups)
        results.append((label, times, statistics.mean(rows[-lookups:])))

    def raw_select_1(_value: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return len(cursor.fetchall())

    def raw_id(value: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM registry_person WHERE id_number = %s", [value])
            return len(cursor.fetchall())

    def selector(user: object) -> Callable[[str], int]:
        return lambda value: len(list(person_list(user=user, query=value)[:20]))

    from benchdb import Verdicts, analyze, explain

    with connection.cursor() as cursor:
        analyze(cursor, "registry_person", "registry_enrollment", "registry_office")
        baseline_plan = explain(cursor, "SELECT * FROM registry_person WHERE id_number = %s", [id_numbers[0]])
    measure("baseline: `SELECT 1` round trip", ["1"], raw_select_1)
    measure("baseline: raw SQL `WHERE id_number = %s`", id_numbers, raw_id)
    measure("person_list, ID number, city-level user", id_numbers, selector(city_user))
    measure("person_list, ID number, superuser without office", id_numbers, selector(superuser))
    measure("person_list, pinyin prefix (e.g. `zhangw`), city-level user", prefixes, selector(city_user))
    measure("person_list, pinyin prefix, superuser without office", prefixes, selector(superuser))
    measure("person_list, initials (e.g. `zwj`), city-level user", initials, selector(city_user))
    measure("person_list, initials, superuser without office", initials, selector(superuser))

    plans = []
    for label, value in (
        ("ID number", id_numbers[0]),
        (f"pinyin prefix `{prefixes[0]}`", prefixes[0]),
        (f"initials `{initials[0]}`", initials[0]),
    ):
        qs = person_list(user=city_user, query=value)[:20]
        plans.append((label, qs.explain(analyze=True, buffers=True)))
    load_after = loadavg()

    info = machine()
    today = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    seed_line = next((line for line in reversed(seed_log) if line.startswith("seed_demo:")), "")
    lines = [
        SECTION,
        "",
        f"Run {today} on {info['cpus']} CPUs, {info['memory']} memory ({info['system']}), {pg_version} "
        f"(shared_buffers {shared_buffers}), Python {info['python']}. "
        f"Load average (1/5/15 min) before the seed {load_before}, after it {load_after_seed}, "
        f"after the baseline {load_after_baseline}, after the lookups {load_after}.",
        "",
        "Command: `python bench/bench_registry.py` "
        f"(BENCH_PERSONS={persons}, BENCH_EMPLOYERS={employers}, BENCH_LOOKUPS={lookups}, BENCH_SEED={seed}).",
        "",
        f"**seed_demo --persons {persons} --employers {employers}: {seed_seconds:.1f} s** wall clock, "
        f"process start to exit ({counts['persons']:,} persons and {counts['enrollments']:,} enrollments "
        f"in the database afterwards). CPU time: the seed_demo process {seed_cpu:.1f} s, its PostgreSQL "
        f"backend {watcher.describe()} (parallel index-build workers not counted). "
        f"Goal under 120 s: **{'met' if seed_seconds < 120 else 'missed'}**.",
        "",
        "```",
        *seed_log,
        "```",
        "",
        "Baseline in the same run: the same rows (exported from the tables seed_demo filled) loaded with a "
        "plain COPY into scratch tables, then the same indexes as the real tables built on them, in a transaction "
        "rolled back afterwards:",
        "",
        "| baseline step | wall s | PostgreSQL backend CPU s |",
        "|---|---:|---:|",
        *(f"| {step} | {seconds:.1f} | {'n/a' if cpu is None else f'{cpu:.1f}'} |" for step, seconds, cpu in baseline),
        "",
        f"Lookups: {lookups} timed calls each (after 5 warm-up calls), random existing persons, "
        "`list(person_list(user=..., query=...)[:20])` for the selector rows, in-process through the Django ORM.",
        "",
        "| lookup | median ms | p95 ms | rows returned (mean) |",
        "|---|---:|---:|---:|",
    ]
    worst_p95 = 0.0
    for label, times, rows in results:
        median, p95 = stats(times)
        lines.append(f"| {label} | {median:.2f} | {p95:.2f} | {rows:.1f} |")
        if label.startswith("person_list"):
            worst_p95 = max(worst_p95, p95)
    lines.append("")
    lines.append(
        f"Goal under 20 ms per lookup: **{'met' if worst_p95 < 20 else 'missed'}** "
        f"(slowest p95 of the person_list rows: {worst_p95:.2f} ms)."
    )
    verdicts = Verdicts()
    copy_total = sum(seconds for _step, seconds, _cpu in baseline)
    seed_ratio = verdicts.ratio("seed_demo ÷ plain COPY with the same indexes", seed_seconds, copy_total, goal=3.0)
    medians = {label: stats(times)[0] for label, times, _rows in results}
    lookup_ratio = verdicts.ratio(
        "person_list by ID number ÷ raw SQL by ID number (median)",
        medians["person_list, ID number, city-level user"],
        medians["baseline: raw SQL `WHERE id_number = %s`"],
        unit="ms",
    )
    lines.append("")
    lines.append(
        f"Ratios in this run: seed_demo ÷ the COPY baseline **{seed_ratio:.2f}×** (goal ≤ 3×); person_list by ID number "
        f"÷ the raw SQL look-up **{lookup_ratio:.2f}×** (median). Plan of the raw SQL baseline (EXPLAIN after ANALYZE):"
    )
    lines += ["", "```", baseline_plan, "```", ""]
    lines.append("Plans (`EXPLAIN (ANALYZE, BUFFERS)` of the selector query, city-level user):")
    for label, plan in plans:
        lines += ["", f"{label}:", "", "```", plan, "```"]
    if seed_line:
        lines += ["", f"seed_demo's own summary: `{seed_line}`"]
    block = "\n".join(lines) + "\n"
    print()
    print(block)
    if os.environ.get("BENCH_DOCS", "1") != "0":
        write_docs(block)
        print(f"bench_registry: wrote {DOCS.relative_to(BASE)}")
    if os.environ.get("BENCH_KEEP") != "1":
        from benchdb import database_drop

        connection.close()
        database_drop(url)  # the disk is shared (bench_api keeps it with BENCH_KEEP=1 and drops it itself)
    verdicts.finish()


def write_docs(block: str) -> None:
    DOCS.parent.mkdir(exist_ok=True)
    text = DOCS.read_text() if DOCS.exists() else DOCS_INTRO
    if not text.startswith("# "):  # sections written before the introduction existed
        text = DOCS_INTRO + "\n" + text
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    DOCS.write_text(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
