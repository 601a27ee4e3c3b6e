"""Request rates per API client, shared by every web process through the cache.

A client is the API key it authenticates with (a bank system), else its user (session
sign-in), else its address. Each view belongs to a scope with its own rate, read from
`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (set from the environment in settings):

* `score`: POST /api/v1/transactions/ (`SECUREFLOW_API_RATE_SCORE`);
* `api`: every other API request (`SECUREFLOW_API_RATE`).

The count is a sliding window estimated from two fixed windows (the previous window's
count weighted by how much of it still overlaps, plus the current one), so a client
cannot double its rate at a window boundary, and the count is O(1) whatever the rate (a
counter, not a list of timestamps). With Redis (`REDIS_URL`) the counts are shared by all
workers and machines: a script reads both windows and counts the request when it is
allowed, in one round trip. For high rates a process takes a small lease at once (at most
1/1000 of the limit, `LEASE_MAX` requests, for at most `LEASE_SECONDS`) and admits the
next requests of that client from it without asking Redis: the limit still holds exactly
(leased requests are counted when leased), and a client near its limit may be refused up
to (lease - 1) requests per web process early. Without Redis each process counts on its
own in its local cache. Rejected requests do not count.
"""

import math
import threading
import time
import weakref
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from secureflow.core.client_address import client_address

DEFAULT_SCOPE = "api"
PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
DISABLED = {"", "off", "none", "unlimited"}

LEASE_SHARE = 1000  # a lease is at most this fraction (1/N) of the limit
LEASE_MAX = 50
LEASE_SECONDS = 1.0

# KEYS: current window, previous window. ARGV: limit, weight of the previous window,
# lifetime of a window's key, requests wanted. Counts as many of the wanted requests as
# fit (at least one, else none) and returns {requests granted, current count, previous
# count}.
_SLIDING_WINDOW_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local room = math.floor(tonumber(ARGV[1]) - previous * tonumber(ARGV[2]) - current)
if room < 1 then
  return {0, current, previous}
end
local granted = math.min(room, tonumber(ARGV[4]))
local counted = redis.call('INCRBY', KEYS[1], granted)
if counted == granted then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
return {granted, counted, previous}
"""
# one client (and its connection pool) and one registered script per cache backend object
_scripts: "weakref.WeakKeyDictionary[RedisCache, Any]" = weakref.WeakKeyDictionary()


def _redis_script(backend: Any) -> Any | None:
    """The sliding-window script bound to the Redis behind `backend`; None for other caches."""
    if not isinstance(backend, RedisCache):
        return None
    script = _scripts.get(backend)
    if script is None:
        client = backend._cache.get_client(write=True)
        script = _scripts[backend] = client.register_script(_SLIDING_WINDOW_LUA)
    return script


def lease_size(limit: int) -> int:
    """How many requests a process takes from Redis at once for a client with `limit`."""
    return max(1, min(LEASE_MAX, limit // LEASE_SHARE))


class _Leases:
    """Requests this process may still admit per (scope, client, window) without asking
    Redis: (count left, monotonic expiry)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left: dict[str, tuple[int, float]] = {}

    def take(self, key: str) -> bool:
        with self._lock:
            held = self._left.get(key)
            if held is None:
                return False
            left, expires = held
            if left <= 0 or time.monotonic() >= expires:
                del self._left[key]
                return False
            self._left[key] = (left - 1, expires)
            return True

    def keep(self, key: str, count: int) -> None:
        with self._lock:
            if len(self._left) > 10_000:  # old windows and quiet clients
                now = time.monotonic()
                self._left = {k: v for k, v in self._left.items() if v[1] > now}
            self._left[key] = (count, time.monotonic() + LEASE_SECONDS)

    def clear(self) -> None:
        with self._lock:
            self._left.clear()


leases = _Leases()


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """ "6000/min" -> (6000, 60); None, "" or "off" -> None (no limit)."""
    if rate is None or rate.strip().lower() in DISABLED:
        return None
    count, _, period = rate.strip().partition("/")
    try:
        limit = int(count)
        seconds = PERIODS[period.strip().lower()]
    except (ValueError, KeyError) as error:
        raise ImproperlyConfigured(
            f"Bad API rate {rate!r}: use <requests>/<s|min|hour|day>, e.g. 6000/min, or off."
        ) from error
    if limit < 1:
        raise ImproperlyConfigured(f"Bad API rate {rate!r}: the count must be at least 1.")
    return limit, seconds


def view_scope(view: Any) -> str:
    """The view's scope: `throttle_scopes[action]`, else `throttle_scope`, else "api"."""
    scopes = getattr(view, "throttle_scopes", None) or {}
    action = getattr(view, "action", None)
    return scopes.get(action) or getattr(view, "throttle_scope", None) or DEFAULT_SCOPE


class ClientRateThrottle(BaseThrottle):
    """At most N requests per client per period, per scope."""

    timer = staticmethod(time.time)

    def __init__(self) -> None:
        self._wait: float | None = None

    def client_key(self, request: Request) -> str:
        digest = getattr(request.auth, "digest", None)  # an ApiKey
        if isinstance(digest, str) and digest:
            return "t" + digest[:24]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"u{user.pk}"
        return "a" + self.get_ident(request)

    def get_ident(self, request: Request) -> str:
        """The client's address, read as for sign-in limits (never a spoofable header)."""
        return client_address(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = view_scope(view)
        parsed = parse_rate(api_settings.DEFAULT_THROTTLE_RATES.get(scope))
        if parsed is None:
            return True
        limit, period = parsed
        now = self.timer()
        window = int(now // period)
        prefix = f"throttle:{scope}:{self.client_key(request)}:"
        current_key, previous_key = f"{prefix}{window}", f"{prefix}{window - 1}"
        elapsed = (now - window * period) / period  # share of the current window gone
        backend = caches["default"]
        script = _redis_script(backend)
        if script is not None:
            wanted = lease_size(limit)
            if wanted > 1 and leases.take(current_key):
                return True
            keys = [backend.make_and_validate_key(key) for key in (current_key, previous_key)]
            granted, current, previous = script(
                keys=keys, args=[limit, repr(1.0 - elapsed), 2 * period + 1, wanted]
            )
            if granted:
                if granted > 1:
                    leases.keep(current_key, int(granted) - 1)
                return True
            self._wait = self._seconds_until_allowed(
                limit, period, elapsed, current=int(current), previous=int(previous)
            )
            return False
        counts = cache.get_many([current_key, previous_key])
        current = int(counts.get(current_key, 0))
        previous = int(counts.get(previous_key, 0))
        if previous * (1.0 - elapsed) + current + 1 > limit:
            self._wait = self._seconds_until_allowed(
                limit, period, elapsed, current=current, previous=previous
            )
            return False
        try:
            cache.incr(current_key)
        except ValueError:  # first request of this window
            if not cache.add(current_key, 1, timeout=2 * period + 1):
                cache.incr(current_key)
        return True

    @staticmethod
    def _seconds_until_allowed(
        limit: int, period: int, elapsed: float, *, current: int, previous: int
    ) -> float:
        if current + 1 <= limit and previous > 0:
            # within this window, once enough of the previous window has slid out
            needed = 1.0 - (limit - current - 1) / previous
            return max(needed - elapsed, 0.0) * period
        # after this window ends, once enough of it has slid out
        needed = 1.0 - (limit - 1) / current if current > 0 else 0.0
        return (1.0 - elapsed) * period + max(needed, 0.0) * period

    def wait(self) -> float | None:
        if self._wait is None:
            return None
        return float(max(1, math.ceil(self._wait)))
