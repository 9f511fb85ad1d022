"""The Redis cache degrades to an empty cache, with a warning, while Redis is unreachable (registry/cache.py)."""

import logging
import os
import uuid

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


def test_the_dead_cache_counts_nothing_and_reads_nothing(dead_cache):
    assert dead_cache.counter_incr_and_get("c", "p", timeout=120) == (1, 0)


@pytest.fixture
def live_cache():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL (set by .ci/run)")
    live = ResilientRedisCache(url, {"KEY_PREFIX": f"test-counter-{uuid.uuid4().hex}"})
    yield live
    live.delete_many(["c", "p"])


def test_a_counter_call_is_one_redis_round_trip(live_cache, monkeypatch):
    from redis.connection import Connection

    sent = []
    real_send = Connection.send_packed_command

    def counting_send(self, command, check_health=True):
        sent.append(command)
        return real_send(self, command, check_health)

    live_cache.set("p", 7)
    live_cache.get("p")  # connect first: the handshake is not the call's round trip
    monkeypatch.setattr(Connection, "send_packed_command", counting_send)
    assert live_cache.counter_incr_and_get("c", "p", timeout=120) == (1, 7)
    assert live_cache.counter_incr_and_get("c", "p", timeout=120) == (2, 7)
    assert len(sent) == 2
    monkeypatch.undo()
    assert live_cache.get("c") == 2  # the counter reads back through Django's serializer
    assert 0 < live_cache._cache.get_client("c").ttl(live_cache.make_and_validate_key("c")) <= 120
    assert live_cache.counter_incr_and_get("c", "missing", timeout=120) == (3, 0)
