"""The Redis cache degrades to an empty cache, with a warning, while Redis is unreachable (registry/cache.py)."""

import logging

import pytest

from registry.cache import ResilientRedisCache
from tests.fault_tools import free_port


@pytest.fixture
def dead_cache():
    # A port nobody listens on: every connection is refused at once.
    return ResilientRedisCache(f"redis://127.0.0.1:{free_port()}/0", {"OPTIONS": {"socket_connect_timeout": 1}})


def test_every_operation_answers_as_an_empty_cache_and_warns_once(dead_cache, caplog):
    caplog.set_level(logging.WARNING, logger="registry.cache")
    assert dead_cache.get("k") is None
    assert dead_cache.get("k", "fallback") == "fallback"
    assert dead_cache.get_many(["a", "b"]) == {}
    assert dead_cache.add("k", 1) is False
    assert dead_cache.set("k", 1) is None
    assert dead_cache.has_key("k") is False
    assert dead_cache.delete("k") is False
    assert dead_cache.get_or_set("k", 5) == 5
    with pytest.raises(ValueError):  # as for a key that is not there: callers already handle it
        dead_cache.incr("k")
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1


def test_the_api_rate_limit_lets_calls_through_without_redis(dead_cache, monkeypatch):
    from types import SimpleNamespace

    from registry.api import throttle
    from registry.models import ApiKey, SystemAccount

    monkeypatch.setattr(throttle, "cache", dead_cache)
    key = ApiKey(account=SystemAccount(pk=1, rate_limit_per_minute=1))
    request = SimpleNamespace(auth=key)
    limiter = throttle.SystemAccountRateThrottle()
    assert all(limiter.allow_request(request, None) for _ in range(3))
