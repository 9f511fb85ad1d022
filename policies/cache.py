"""The parameter cache: one version number in Django's cache; bumping it drops every cached snapshot.

The whole parameter table (a few hundred rows) is one snapshot, cached under the current version in
Django's cache (Redis in production, shared by every process) and memoised per process. Any write
to a document, parameter or value bumps the version, once at once and once on commit:

* the immediate bump keeps this transaction from reading a snapshot built before its own write;
* the bump on commit drops any snapshot another process built between the first bump and the
  commit, which could only have held the old rows.

A connection that wrote policy data inside a transaction does not publish snapshots until that
transaction has committed: a rolled-back import (admin dry runs do exactly that), or a test's
transaction, must never leave its rows in the shared cache. Its own reads meanwhile are built from
the database each time, so they do see its writes.

Without Redis each process has its own local-memory cache, so a change made in one process is only
seen by another after ``SNAPSHOT_TTL``; production runs with REDIS_URL (see settings).
"""

from __future__ import annotations

import secrets

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction

VERSION_KEY = "policies:parameters:version"
SNAPSHOT_KEY = "policies:parameters:snapshot:{version}"
SNAPSHOT_TTL = 300
_DIRTY_ATTR = "_policies_parameters_dirty"


def _fresh_version() -> int:
    # Random start: if the version key is evicted, old snapshot keys must not match the new numbers.
    return secrets.randbits(40) + 1


def current_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, _fresh_version(), None)
        version = cache.get(VERSION_KEY)
        if version is None:  # a cache that keeps nothing (DummyCache): never reuse a snapshot
            return _fresh_version()
    return int(version)


def bump_version() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, _fresh_version(), None)


def _outermost_block(connection) -> object:
    blocks = getattr(connection, "atomic_blocks", None)
    return blocks[0] if blocks else True


def _on_commit() -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    bump_version()
    # A real commit runs its callbacks after the outermost block has closed. Callbacks a test runs
    # by hand run inside the test's transaction, which will still be rolled back: stay unpublished.
    if not connection.in_atomic_block:
        setattr(connection, _DIRTY_ATTR, None)


def parameters_changed(**_kwargs) -> None:
    """Signal receiver and service hook: invalidate every cached snapshot (no business rule here)."""
    bump_version()
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:
        # Remember which transaction wrote, so its end is recognised even without a commit callback.
        setattr(connection, _DIRTY_ATTR, _outermost_block(connection))
        transaction.on_commit(_on_commit)


def snapshot_publishable() -> bool:
    """Whether a snapshot read now may be shared (False while this connection holds uncommitted policy writes)."""
    connection = connections[DEFAULT_DB_ALIAS]
    writer = getattr(connection, _DIRTY_ATTR, None)
    if writer is None:
        return True
    if connection.in_atomic_block and _outermost_block(connection) is writer:
        return False
    # The writing transaction ended without its commit callback (it rolled back): forget it.
    setattr(connection, _DIRTY_ATTR, None)
    bump_version()
    return True


def reset() -> None:
    """Drop every cached snapshot and the dirty mark (tests, after loading reference data)."""
    setattr(connections[DEFAULT_DB_ALIAS], _DIRTY_ATTR, None)
    bump_version()
