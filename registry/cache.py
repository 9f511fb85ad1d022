"""The Django cache on Redis, degrading instead of failing when Redis is gone (issue 14, fault 3).

Nothing the web tier keeps in the cache is needed for correctness: parameter lookups are read again from
PostgreSQL, the API rate limit and the API-key lock-out count in it (they let calls through while Redis is
down), and the Idempotency-Key records live in PostgreSQL. So a cache operation that cannot reach Redis logs a
warning (at most once per ``WARN_EVERY`` seconds per process) and answers as an empty cache would: a miss, a
write that kept nothing, an increment of a key that is not there. Never a 500 because of the cache.

After a failure the process does not try Redis again for ``RETRY_AFTER`` seconds (a Redis that does not answer
would otherwise cost every request the connect timeout).
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

DOWN_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
WARN_EVERY = 60.0
RETRY_AFTER = 5.0

_MISSING = object()


def _degrading(fallback: Any):
    """Wrap a cache method: on a lost Redis, log and return ``fallback`` (called with the arguments when callable;
    ``_MISSING`` means: the ``default`` argument)."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if self._down_until > time.monotonic():
                return self._fallback(fallback, method.__name__, args, kwargs)
            try:
                return method(self, *args, **kwargs)
            except DOWN_ERRORS as exc:
                self._down_until = time.monotonic() + RETRY_AFTER
                now = time.monotonic()
                if now - self._warned_at >= WARN_EVERY:
                    self._warned_at = now
                    logger.warning("cache: Redis unreachable (%s); serving without the cache", exc)
                return self._fallback(fallback, method.__name__, args, kwargs)

        return wrapper

    return decorate


class ResilientRedisCache(RedisCache):
    """Django's RedisCache whose every operation degrades to "empty cache" while Redis is unreachable."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._down_until = 0.0
        self._warned_at = -WARN_EVERY

    @staticmethod
    def _fallback(fallback: Any, name: str, args: tuple, kwargs: dict) -> Any:
        if fallback is _MISSING:  # get(key, default=None, version=None)
            return kwargs.get("default", args[1] if len(args) > 1 else None)
        if fallback is KeyError:  # incr/decr of a key that is not there
            raise ValueError(f"Key {args[0]!r} not found (cache unavailable)")
        return fallback() if callable(fallback) else fallback

    get = _degrading(_MISSING)(RedisCache.get)
    get_many = _degrading(dict)(RedisCache.get_many)
    has_key = _degrading(False)(RedisCache.has_key)
    add = _degrading(False)(RedisCache.add)
    set = _degrading(None)(RedisCache.set)
    set_many = _degrading(list)(RedisCache.set_many)
    touch = _degrading(False)(RedisCache.touch)
    delete = _degrading(False)(RedisCache.delete)
    delete_many = _degrading(None)(RedisCache.delete_many)
    incr = _degrading(KeyError)(RedisCache.incr)
    clear = _degrading(False)(RedisCache.clear)

    @_degrading(lambda: (1, 0))
    def counter_incr_and_get(self, key: str, other: str, *, timeout: int) -> tuple[int, int]:
        """Count one more in ``key`` (created at 1, kept ``timeout`` seconds after its last count) and read the
        counter ``other``, in one Redis round trip (a pipeline: INCR, EXPIRE, GET). Without Redis: (1, 0), i.e.
        nothing counted, as ``incr`` of a missing key would let the caller assume.

        Why not ``add`` + ``incr`` + ``get``: Django's ``incr`` is EXISTS + INCR, so those were four round trips
        on every API call (the rate limit, registry/api/throttle.py)."""
        counter_key = self.make_and_validate_key(key)
        other_key = self.make_and_validate_key(other)
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.incr(counter_key)
        pipe.expire(counter_key, timeout)
        pipe.get(other_key)
        current, _expiry_set, previous = pipe.execute()
        return int(current), (0 if previous is None else int(self._cache._serializer.loads(previous)))
