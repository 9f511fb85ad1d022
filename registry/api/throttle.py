"""Rate limit per external system: ``SystemAccount.rate_limit_per_minute`` (or ``API_RATE_LIMIT_PER_MINUTE``).

A sliding window estimated from two one-minute counters in the Django cache (Redis in production, shared by
every web process): the current minute's count plus the previous minute's, weighted by how much of it still
lies within the last 60 seconds. Counting is an atomic increment, so parallel calls cannot slip past the
limit. Staff sessions are not limited here (django-axes guards logins).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from registry.models import ApiKey

WINDOW = 60


def _key(account_id: int, window: int) -> str:
    return f"api-rate:{account_id}:{window}"


def rate_limit_of(account) -> int:
    return account.rate_limit_per_minute or settings.API_RATE_LIMIT_PER_MINUTE


def rate_counters_reset(account) -> None:
    """Forget the account's recent calls (after raising its limit, say)."""
    window = int(time.time() // WINDOW)
    cache.delete_many([_key(account.pk, window), _key(account.pk, window - 1)])


def _count_call(current_key: str, previous_key: str) -> tuple[int, int]:
    """This minute's count with this call, and the previous minute's: one Redis round trip on the production
    cache (``ResilientRedisCache.counter_incr_and_get``), the portable add + incr + get on any other cache."""
    if hasattr(cache, "counter_incr_and_get"):
        return cache.counter_incr_and_get(current_key, previous_key, timeout=2 * WINDOW)
    cache.add(current_key, 0, timeout=2 * WINDOW)
    try:
        current = cache.incr(current_key)
    except ValueError:  # expired between add and incr
        cache.set(current_key, 1, timeout=2 * WINDOW)
        current = 1
    return current, cache.get(previous_key, 0)


class SystemAccountRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        account = request.auth.account
        limit = rate_limit_of(account)
        now = time.time()
        window = int(now // WINDOW)
        current, previous = _count_call(_key(account.pk, window), _key(account.pk, window - 1))
        elapsed = now - window * WINDOW
        carried = previous * (WINDOW - elapsed) / WINDOW
        if current + carried <= limit:
            return True
        if current > limit:
            self._wait = WINDOW - elapsed  # not before the next minute starts
        else:
            # The previous minute's share must shrink by the excess: it falls by previous/60 per second.
            self._wait = (current + carried - limit) * WINDOW / previous
        return False

    def wait(self) -> int:
        return max(1, math.ceil(self._wait))
