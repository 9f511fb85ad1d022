"""The benchmark databases: each bench script names its own PostgreSQL database in DATABASE_URL; these
helpers talk to the server's maintenance database to see whether it exists and to create or re-create it.

Imported by the bench scripts (run as ``python bench/bench_*.py``, so this folder is on sys.path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def server_connection(url: str):
    """An autocommit connection to the ``postgres`` database of the server ``url`` names."""
    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(
        dbname="postgres",
        user=parts.username or "postgres",
        password=parts.password,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
    )
    conn.autocommit = True
    return conn


def database_exists(url: str) -> bool:
    conn = server_connection(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database_name(url)])
            return cur.fetchone() is not None
    finally:
        conn.close()


def database_create(url: str, *, drop_first: bool = False) -> None:
    """Create the database ``url`` names (dropping it first when ``drop_first``)."""
    from psycopg2 import sql

    name = sql.Identifier(database_name(url))
    conn = server_connection(url)
    try:
        with conn.cursor() as cur:
            if drop_first:
                cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            cur.execute(sql.SQL("CREATE DATABASE {}").format(name))
    finally:
        conn.close()


def database_ensure(url: str, *, migrate: bool = True) -> None:
    """Create the database when it does not exist, then apply the migrations (``manage.py migrate``)."""
    if not database_exists(url):
        database_create(url)
    if migrate:
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, check=True)
