"""API benchmark: enrollment status of one person by ID number, 50 concurrent clients on loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tzsi_bench .venv/bin/python bench/bench_api.py

Needs the 1,000,000-person data set of bench_registry.py in the same database (seeded when missing) and
wrk (Debian package ``wrk``; installed with apt-get when missing). Serves the project with gunicorn
(gunicorn.conf.py: BENCH_API_WORKERS threaded workers, no access log, DEBUG off), then runs wrk with 50 connections for BENCH_API_SECONDS:

1. ``POST /api/v1/enrollments/status/`` with a different real ID number in each request's body (the number
   never goes into the URL), authenticated by a system account's API key — the figure the issue asks for;
2. ``GET /api/v1/whoami/``, a trivial authenticated DRF endpoint, measured in the same run as the baseline.

Prints requests/s and the latency median/p95/p99 of both, and the ratio of their throughputs. ANALYZE first and the
plans of both endpoints' statements printed; fails when the baseline (the trivial call) answers slower than the status
call in the closed loop.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchdb import Verdicts, load_average  # bench/ is on sys.path (run as a script)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tzsi_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taizhou_si.settings")
if not os.environ["DATABASE_URL"].startswith("postgres"):
    sys.exit("bench_api needs PostgreSQL: set DATABASE_URL=postgres://…")

PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
CONNECTIONS = int(os.environ.get("BENCH_API_CONNECTIONS", "50"))
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "30"))
WORKERS = int(os.environ.get("BENCH_API_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
PORT = int(os.environ.get("BENCH_API_PORT", "8765"))
SAMPLE = 20000
# Mean pause of each client between its calls, ms: 0 is the closed loop (every client sends its next request
# as soon as the previous answer arrives), which measures capacity; the others measure the latency clients see.
THINK_MS = [int(v) for v in os.environ.get("BENCH_API_THINK_MS", "0,1000,500,250,100").split(",") if v.strip()]

LUA_POST = r"""
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
local n = 0
request = function()
  n = n + 1
  local body = '{"id_number": "' .. ids[(n %% #ids) + 1] .. '"}'
  return wrk.format("POST", "/api/v1/enrollments/status/", {
    ["Authorization"] = "Api-Key %(key)s", ["Content-Type"] = "application/json"}, body)
end
%(think)s
%(done)s
"""
LUA_GET = r"""
request = function()
  return wrk.format("GET", "/api/v1/whoami/", {["Authorization"] = "Api-Key %(key)s"})
end
%(think)s
%(done)s
"""
# A client that pauses between calls, as a district system does between the cases it handles: wrk waits
# delay() ms after each response before sending the next request (the pause is not part of the latency).
LUA_THINK = r"""
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
delay = function() return math.random(0, 2 * %(think_ms)d) end
"""
LUA_DONE = r"""
done = function(summary, latency, requests)
  local codes = 0
  io.write(string.format("JSON {\"requests\": %d, \"seconds\": %.3f, \"p50_ms\": %.2f, \"p95_ms\": %.2f, " ..
    "\"p99_ms\": %.2f, \"non2xx\": %d, \"errors\": %d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or sys.exit("wrk is not available")


def ensure_data() -> None:
    import django
    from benchdb import database_exists

    if not database_exists(os.environ["DATABASE_URL"]):
        subprocess.run(
            [sys.executable, "bench/bench_registry.py"], cwd=ROOT, check=True, env={**os.environ, "BENCH_KEEP": "1"}
        )
    django.setup()
    from registry.models import Person

    if Person.objects.count() < PERSONS:
        subprocess.run(
            [sys.executable, "bench/bench_registry.py"], cwd=ROOT, check=True, env={**os.environ, "BENCH_KEEP": "1"}
        )


def system_key() -> str:
    """A city-level system account allowed to read enrollments, without a rate limit that would cut the run short."""
    from django.contrib.auth import get_user_model

    from registry import services
    from registry.models import ApiKey, Office, SystemAccount

    office = Office.objects.get(code="331000")
    admin, _created = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"office": office, "is_superuser": True, "is_staff": True}
    )
    account = SystemAccount.objects.filter(code="bench-provincial").first() or services.system_account_create(
        acting_user=admin, code="bench-provincial", name="基准测试（省级系统）", office=office
    )
    fields = {f.name for f in SystemAccount._meta.get_fields()}
    if "operations" in fields:
        account.operations = ["*:read", "enrollment:write"]
    for name in ("rate_limit_per_minute", "rate_limit"):
        if name in fields:
            setattr(account, name, 10_000_000)
    account.save()
    ApiKey.objects.filter(account=account).delete()
    return services.api_key_issue(account=account, label="bench", acting_user=admin)[1]


def sample_ids(path: Path) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT id_number FROM registry_person TABLESAMPLE SYSTEM (5) WHERE id_number IS NOT NULL LIMIT %s",
            [SAMPLE],
        )
        path.write_text("\n".join(row[0] for row in cur.fetchall()) + "\n")


def wait_up(url: str, key: str) -> None:
    for _ in range(200):
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Api-Key {key}"})  # noqa: S310 (http only)
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except Exception:
            time.sleep(0.25)
    sys.exit(f"server at {url} did not answer")


def run_wrk(wrk: str, script: Path, url: str) -> dict:
    out = subprocess.run(
        [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"^JSON (.*)$", out, re.M)
    if not match:
        sys.exit(f"wrk printed no summary:\n{out}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / result["seconds"]
    return result


def main() -> None:
    wrk = ensure_wrk()
    ensure_data()
    key = system_key()
    tmp = Path(tempfile.mkdtemp(prefix="bench_api_"))
    ids = tmp / "ids.txt"
    sample_ids(ids)
    plans_print(key, ids)
    load_before = load_average()
    scripts = {}
    for think in THINK_MS:
        pause = LUA_THINK % {"think_ms": think} if think else ""
        post = tmp / f"post_{think}.lua"
        post.write_text(LUA_POST % {"ids": ids, "key": key, "think": pause, "done": LUA_DONE})
        get = tmp / f"get_{think}.lua"
        get.write_text(LUA_GET % {"key": key, "think": pause, "done": LUA_DONE})
        scripts[think] = (get, post)
    env = dict(
        os.environ,
        GUNICORN_ACCESSLOG="",
        DEBUG="false",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # Plain HTTP on loopback: production terminates TLS in front (settings redirect to https without DEBUG).
        SECURE_SSL_REDIRECT="false",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "taizhou_si.wsgi",
            "-c",
            "gunicorn.conf.py",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{PORT}"
        wait_up(base + "/api/v1/whoami/", key)
        run_wrk(wrk, scripts[THINK_MS[0]][0], base)  # warm every worker's connections and caches
        results = {think: (run_wrk(wrk, get, base), run_wrk(wrk, post, base)) for think, (get, post) in scripts.items()}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, python {platform.python_version()}, "
        f"gunicorn {WORKERS} workers × {os.environ.get('GUNICORN_THREADS', '4')} threads (gthread), wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, load {os.getloadavg()[0]:.2f}"
    )
    print()
    print("| clients' pause between calls | endpoint | req/s | p50 ms | p95 ms | p99 ms | non-2xx |")
    print("|---|---|---:|---:|---:|---:|---:|")
    failed = False
    for think, (trivial, lookup) in results.items():
        pause = "none (closed loop)" if not think else f"random 0–{2 * think} ms (mean {think} ms)"
        for name, r in (("trivial GET /api/v1/whoami/", trivial), ("POST /api/v1/enrollments/status/", lookup)):
            print(
                f"| {pause} | {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['non2xx'] + r['errors']} |"
            )
            failed = failed or bool(r["non2xx"] or r["errors"])
    print()
    for think, (trivial, lookup) in results.items():
        print(f"throughput ratio status lookup ÷ trivial, pause {think} ms: {lookup['rps'] / trivial['rps']:.2f}")
    print(f"load average {load_before} before, {load_average()} after")
    # The closed loop measures capacity: a request's cost is 1 / throughput. The trivial endpoint is the baseline;
    # answering it slower than the status call would be an accident of the run, not a limit (the paced rows keep up
    # with the offered load, so their ratios are about 1 either way and are only reported).
    trivial, lookup = results[0] if 0 in results else next(iter(results.values()))
    verdicts = Verdicts()
    verdicts.ratio("status call ÷ trivial call, cost per request (closed loop)", 1 / lookup["rps"], 1 / trivial["rps"])
    if os.environ.get("BENCH_KEEP") != "1":
        from benchdb import database_drop
        from django.db import connection

        connection.close()
        database_drop(os.environ["DATABASE_URL"])  # the disk is shared
    if failed:
        sys.exit("some requests failed: the figures are not valid")
    verdicts.finish()


def plans_print(key: str, ids: Path) -> str:
    """ANALYZE, then the plans of the statements of the baseline (trivial call) and of the status call, in process."""
    from benchdb import analyze, explain_requests
    from django.db import connection
    from django.test import Client

    with connection.cursor() as cur:
        analyze(cur, "registry_person", "registry_enrollment", "registry_apikey", "registry_systemaccount")
    number = ids.read_text().split()[0]
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
    return explain_requests(
        [
            ("baseline GET /api/v1/whoami/", lambda: client.get("/api/v1/whoami/", **auth)),
            (
                "POST /api/v1/enrollments/status/",
                lambda: client.post(
                    "/api/v1/enrollments/status/", {"id_number": number}, content_type="application/json", **auth
                ),
            ),
        ]
    )


if __name__ == "__main__":
    main()
