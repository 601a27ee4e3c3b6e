"""Failed sign-ins, counted per username and per client address, lock out password guessing.

After `SECUREFLOW_SIGN_IN_MAX_FAILURES` failed sign-ins for one username, or
`SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS` from one address (whatever the usernames),
within `SECUREFLOW_SIGN_IN_LOCKOUT_MINUTES`, every sign-in for that username or from that
address is refused, the right password included, until that many minutes have passed since
the first failure. A successful sign-in clears its username's count. The answer is the same
whether the username exists or not, so a lockout tells nothing about the accounts.

The counts live in the `sign_in` cache (the default cache where the settings define none):
Redis, shared by the web processes of every machine; without Redis, files under
var/cache/sign-in, shared by the web processes of this machine. The address is the
client's, as secureflow/core/client_address.py reads it (behind proxies: set
`SECUREFLOW_TRUSTED_PROXY_NETWORKS` or `SECUREFLOW_TRUSTED_PROXIES`, or every client shares
the proxy's address).
Used by the sign-in form of the pages and of Django admin (secureflow/core/forms.py).
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import BaseCache, caches

logger = logging.getLogger("secureflow.sign_in")

KEY_PREFIX = "sign-in-failures"
CACHE_ALIAS = "sign_in"


def _cache() -> BaseCache:
    """The `sign_in` cache; the default one where the settings define no such cache."""
    return caches[CACHE_ALIAS if CACHE_ALIAS in settings.CACHES else "default"]


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int
    kind: str  # "username" or "address"


def _username_counter(username: str) -> _Counter:
    name = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return _Counter(
        f"{KEY_PREFIX}:user:{name}", settings.SECUREFLOW_SIGN_IN_MAX_FAILURES, "username"
    )


def _counters(username: str, address: str) -> list[_Counter]:
    return [
        _username_counter(username),
        _Counter(
            f"{KEY_PREFIX}:address:{address}",
            settings.SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS,
            "address",
        ),
    ]


def _window_seconds() -> int:
    return max(1, round(settings.SECUREFLOW_SIGN_IN_LOCKOUT_MINUTES * 60))


def _since_key(counter: _Counter) -> str:
    return f"{counter.key}:since"


def sign_in_locked_for(username: str, address: str) -> int:
    """Seconds until sign-ins for `username` from `address` are taken again; 0: now."""
    counters = _counters(username, address)
    cache = _cache()
    stored = cache.get_many([c.key for c in counters] + [_since_key(c) for c in counters])
    now = time.time()
    wait = 0.0
    for counter in counters:
        since = stored.get(_since_key(counter))
        if counter.limit > 0 and since is not None and stored.get(counter.key, 0) >= counter.limit:
            wait = max(wait, float(since) + _window_seconds() - now)
    return math.ceil(wait) if wait > 0 else 0


def sign_in_failed(username: str, address: str) -> None:
    """Count a failed sign-in; log when it locks the username or the address.

    A window starts with the first failure (its time under `<key>:since`, kept for the
    window); the count is read only with it, whatever the backend does with the count's own
    expiry (a file cache's increment keeps it for the default timeout)."""
    window = _window_seconds()
    cache = _cache()
    for counter in _counters(username, address):
        if counter.limit <= 0:
            continue
        if cache.add(_since_key(counter), time.time(), timeout=window):  # a new window
            cache.set(counter.key, 1, timeout=window)
            failures = 1
        else:
            try:
                failures = cache.incr(counter.key)
            except ValueError:  # the count is gone (evicted) within its window: count anew
                cache.set(counter.key, 1, timeout=window)
                failures = 1
        if failures == counter.limit:
            logger.warning(
                "Sign-in locked for %s minutes after %s failures: %s %r (from %s)",
                settings.SECUREFLOW_SIGN_IN_LOCKOUT_MINUTES,
                failures,
                counter.kind,
                username if counter.kind == "username" else address,
                address,
            )


def sign_in_succeeded(username: str) -> None:
    """Clear the username's failures (its address keeps its count)."""
    counter = _username_counter(username)
    _cache().delete_many([counter.key, _since_key(counter)])
