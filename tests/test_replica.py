"""The read replica (registry/replica.py) against a real PostgreSQL streaming replica.

A throwaway primary and hot standby are made for this test with initdb and pg_basebackup, as the postgres OS user, on
their own ports and folders under /tmp (never the machine's cluster), and removed afterwards. Each stage runs
``manage.py shell`` in a subprocess with DATABASE_URL (the primary) and REPLICA_DATABASE_URL (the standby) and
reports what it saw as JSON. Run by ``make test-slow`` (marker ``replica``), not by ``make test``.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.replica, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
DATABASE = "tzsi_replica_test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Clusters:
    """A primary and its streaming replica in a folder of their own; every command runs as the postgres user."""

    def __init__(self) -> None:
        self.bin = Path(BINARIES[-1]).parent
        self.base = Path(tempfile.mkdtemp(prefix="tzsi_replica_", dir="/tmp"))
        self.primary = self.base / "primary"
        self.replica = self.base / "replica"
        self.primary_port = _free_port()
        self.replica_port = _free_port()
        self.started: list[Path] = []

    def run(self, *command: str) -> str:
        as_postgres = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
        done = subprocess.run([*as_postgres, *command], capture_output=True, text=True, timeout=300)  # noqa: S603 (our own arguments)
        if done.returncode:
            raise AssertionError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def pg(self, name: str, *args: str) -> str:
        return self.run(str(self.bin / name), *args)

    def start(self, folder: Path, port: int) -> None:
        self.pg(
            "pg_ctl", "-D", str(folder), "-l", str(self.base / f"{folder.name}.log"), "-w", "-t", "60",
            "-o", f"-p {port} -k {self.base} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip
        self.started.append(folder)

    def stop(self, folder: Path) -> None:
        """Stop one of our own clusters by its own pg_ctl and folder (never anything else)."""
        self.pg("pg_ctl", "-D", str(folder), "-m", "fast", "-w", "stop")
        self.started.remove(folder)

    def make(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self.pg("initdb", "-D", str(self.primary), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
        with (self.primary / "postgresql.conf").open("a") as conf:
            # A test cluster: durability off, small memory; replication on (the defaults allow 10 senders).
            conf.write("wal_level = replica\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
            conf.write("shared_buffers = 32MB\nmax_connections = 40\n")
        self.start(self.primary, self.primary_port)
        self.pg("psql", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres", "-qc",
                f"CREATE DATABASE {DATABASE}")  # fmt: skip

    def replicate(self) -> None:
        """pg_basebackup of the primary with -R (standby.signal and primary_conninfo): a streaming hot standby."""
        self.pg("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                "-D", str(self.replica), "-R", "-X", "stream", "-c", "fast")  # fmt: skip
        self.start(self.replica, self.replica_port)

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{DATABASE}"

    def remove(self) -> None:
        for folder in list(self.started):
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self.pg("pg_ctl", "-D", str(folder), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def clusters():
    if not BINARIES:
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    if os.geteuid() != 0:
        try:
            import pwd

            if pwd.getpwuid(os.geteuid()).pw_name != "postgres":
                pytest.skip("needs root (to run initdb as the postgres user) or the postgres user")
        except KeyError:
            pytest.skip("unknown user")
    made = Clusters()
    try:
        made.make()
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
            cwd=ROOT,
            env=_env(made, replica=False),
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert migrated.returncode == 0, migrated.stderr
        made.replicate()
        yield made
    finally:
        made.remove()


def _env(made: Clusters, *, replica: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REPLICA_", "PYTEST_"))}
    env.update(DATABASE_URL=made.url(made.primary_port), REPLICA_MAX_LAG_SECONDS="2", REPLICA_CHECK_SECONDS="0")
    env.update(SECRET_KEY=os.environ.get("SECRET_KEY", "x"), DEBUG="true", TESTING="true")
    if replica:
        env["REPLICA_DATABASE_URL"] = made.url(made.replica_port)
    return env


def _probe(made: Clusters, code: str) -> dict:
    done = subprocess.run(  # noqa: S603 (the probes are this module's constants)
        [sys.executable, "manage.py", "shell", "-c", PROBE_COMMON + code],
        cwd=ROOT,
        env=_env(made),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


PROBE_COMMON = """
import json, time
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from registry.models import ChangeEvent, Office
from registry.replica import ReplicaRouter, read_alias, replica_reads, replica_status
from registry.feed.changes import change_feed_read
from registry.models import User

out = {}

def event(label):
    return ChangeEvent.objects.create(change_type="person", object_id=label, op="created", office=None,
                                      office_path="", occurred_at=timezone.now(), payload={})

def on_replica(pk, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ChangeEvent.objects.using("replica").filter(pk=pk).exists():
            return True
        time.sleep(0.2)
    return False

def tables(captured):
    return " ".join(q["sql"] for q in captured.captured_queries)
"""

PROBE_ROUTING = """
with connections["replica"].cursor() as cur:
    cur.execute("SELECT pg_is_in_recovery()")
    out["replica_in_recovery"] = cur.fetchone()[0]
written = event("streamed")
out["streamed"] = on_replica(written.pk)

with replica_reads():
    out["status"] = list(replica_status(fresh=True))
    with CaptureQueriesContext(connections["replica"]) as on_r, CaptureQueriesContext(connections["default"]) as on_p:
        out["offices"] = Office.objects.count()
        out["office_alias"] = Office.objects.all().db
    out["office_read_on_replica"] = "registry_office" in tables(on_r)
    out["office_read_on_primary"] = "registry_office" in tables(on_p)
    out["write_alias"] = ReplicaRouter().db_for_write(Office)
    with CaptureQueriesContext(connections["replica"]) as on_r:
        created = event("written-inside-reports")
    out["write_on_replica"] = "INSERT" in tables(on_r)
    out["written_on_primary"] = ChangeEvent.objects.using("default").filter(pk=created.pk).exists()
    with transaction.atomic():
        out["alias_in_transaction"] = Office.objects.all().db
    out["alias_after_transaction"] = Office.objects.all().db

    # The change feed: its events and its horizon are read from the primary, also inside replica_reads.
    superuser = User.objects.filter(is_superuser=True).first() or User.objects.create(username="probe", is_superuser=True)
    with CaptureQueriesContext(connections["replica"]) as on_r, CaptureQueriesContext(connections["default"]) as on_p:
        page = change_feed_read(user=superuser, limit=1000)
    out["feed_events"] = [e.object_id for e in page.events]
    out["feed_read_on_replica"] = "registry_changeevent" in tables(on_r)
    out["feed_read_on_primary"] = "registry_changeevent" in tables(on_p)
    out["feed_alias"] = ChangeEvent.objects.all().db

# A lagging replica is skipped: replay paused, a commit on the primary, more than REPLICA_MAX_LAG_SECONDS (2) later.
with connections["replica"].cursor() as cur:
    cur.execute("SELECT pg_wal_replay_pause()")
event("while-paused")
time.sleep(3.5)
with replica_reads():
    out["lagging_status"] = list(replica_status(fresh=True))
    out["lagging_alias"] = Office.objects.all().db
    out["lagging_offices"] = Office.objects.count()
with connections["replica"].cursor() as cur:
    cur.execute("SELECT pg_wal_replay_resume()")
caught_up = event("after-resume")
out["caught_up"] = on_replica(caught_up.pk)
with replica_reads():
    out["resumed_status"] = list(replica_status(fresh=True))
    out["resumed_alias"] = Office.objects.all().db
print(json.dumps(out))
"""

PROBE_STOPPED = """
with replica_reads():
    out["status"] = list(replica_status(fresh=True))
    out["alias"] = Office.objects.all().db
    out["offices"] = Office.objects.count()
    out["raw_alias"] = read_alias()
print(json.dumps(out))
"""


def test_reports_read_from_the_replica_writes_transactions_and_feed_stay_on_the_primary_and_a_lagging_or_stopped_replica_is_skipped(
    clusters,
):
    seen = _probe(clusters, PROBE_ROUTING)
    assert seen["replica_in_recovery"] is True  # a real hot standby
    assert seen["streamed"] is True  # fed by PostgreSQL's streaming replication
    assert seen["status"][0] is True, seen["status"]

    # Reports read from the replica, and only there.
    assert seen["office_alias"] == "replica"
    assert seen["office_read_on_replica"] and not seen["office_read_on_primary"]
    assert seen["offices"] > 0
    # Writes go to the primary, also inside replica_reads.
    assert seen["write_alias"] == "default"
    assert not seen["write_on_replica"] and seen["written_on_primary"]
    # Inside a transaction of the primary every read is the primary's; after it, the replica again.
    assert seen["alias_in_transaction"] == "default"
    assert seen["alias_after_transaction"] == "replica"
    # The change feed: on the primary, with the events just written (the horizon is the primary's).
    assert seen["feed_alias"] == "default"
    assert seen["feed_read_on_primary"] and not seen["feed_read_on_replica"]
    assert {"streamed", "written-inside-reports"} <= set(seen["feed_events"])

    # Lagging more than the limit: skipped, the primary answers; caught up again: used again.
    assert seen["lagging_status"][0] is False and "lags" in seen["lagging_status"][2], seen["lagging_status"]
    assert seen["lagging_alias"] == "default" and seen["lagging_offices"] == seen["offices"]
    assert seen["caught_up"] is True
    assert seen["resumed_status"][0] is True and seen["resumed_alias"] == "replica"

    # The replica stops (its own pg_ctl): reports fall back to the primary, without an error.
    clusters.stop(clusters.replica)
    stopped = _probe(clusters, PROBE_STOPPED)
    assert stopped["status"][0] is False and "unreachable" in stopped["status"][2], stopped["status"]
    assert stopped["alias"] == "default" and stopped["raw_alias"] == "default"
    assert stopped["offices"] == seen["offices"]
