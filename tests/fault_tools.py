"""Processes the fault-injection tests start themselves (issue 14): a Redis on its own port (never the machine's),
Celery workers and beat on it against the test database. Each is stopped by its own PID, never by name."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.1, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{message}: not within {timeout} s")


class RedisServer:
    """``redis-server`` on a free port, no persistence (a restart loses what was queued: the worst case)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603 — fixed arguments
            ["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self.ping, 10, message=f"redis on port {self.port}")
        return self

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.exceptions.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # this test's own redis-server, by its PID
            self.process.wait(10)
        self.process = None

    def queue_length(self, queue: str = "taizhou_si", db: int = 0) -> int:
        return redis.Redis(port=self.port, db=db).llen(queue)


def child_database_url() -> str:
    """The test database this process uses, as a DATABASE_URL for a child process."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class CeleryProcess:
    """``celery worker`` or ``celery beat`` as a child process with its own environment; output to a log file."""

    def __init__(self, kind: str, redis_url: str, log: Path, **env: Any) -> None:
        self.kind, self.log = kind, log
        self.env = {
            **os.environ,
            "DATABASE_URL": child_database_url(),
            "REDIS_URL": redis_url,
            "SECRET_KEY": os.environ.get("SECRET_KEY", "x"),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "localhost",
            **{k: str(v) for k, v in env.items()},
        }
        self.env.pop("DATABASE_OWNER_URL", None)
        self.process: subprocess.Popen | None = None

    def start(self) -> CeleryProcess:
        if self.kind == "worker":
            # One prefork child: "the worker" of the faults is that child (its backend is the job's connection).
            args = ["worker", "-P", "prefork", "-c", "1", "-l", "info", "--without-gossip", "--without-mingle",
                    "--without-heartbeat"]  # fmt: skip
        else:
            args = ["beat", "-l", "info", "-s", str(self.log.with_suffix(".schedule"))]
        handle = self.log.open("a")
        self.process = subprocess.Popen(  # noqa: S603 — this venv's celery, fixed arguments
            [str(BIN / "celery"), "-A", "taizhou_si", *args],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal this process only (by PID); SIGKILL leaves its prefork child orphaned, as a crash would — the child
        is then killed by PID too, so no process of the test outlives it."""
        if not self.alive():
            return
        children = self.children()
        os.kill(self.pid, sig)
        self.process.wait(30)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)

    def stop(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def children(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def celery_broker_use(url: str) -> None:
    """Send this process's tasks to ``url`` from now on: the app's connection and producer pools are closed and
    made anew (a pool keeps the broker it was made for)."""
    from taizhou_si.celery import app

    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = url
