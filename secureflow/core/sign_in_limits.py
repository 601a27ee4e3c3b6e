"""Failed sign-ins, counted per username and client address, lock out password guessing.

Three counts, each over `SECUREFLOW_SIGN_IN_LOCKOUT_MINUTES` from its first failure:

- one username from one address: after `SECUREFLOW_SIGN_IN_MAX_FAILURES` failures, that
  username is refused from that address. Someone guessing elsewhere cannot lock the
  account's owner out: the owner's own address has its own count.
- one address, whatever the usernames: after `SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS`
  failures, every sign-in from that address is refused (one machine trying many accounts).
- one username from every address together: after
  `SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_USERNAME` failures (set well above the first), that
  username is refused from everywhere (guessing spread over many addresses).

A refusal holds the right password too, until that many minutes have passed since the
count's first failure. A successful sign-in clears its username's count at its address
(the other counts run out with their window). The answer is the same whether the username
exists or not, so a lockout tells nothing about the accounts.

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
    kind: str  # "username at address", "address" or "username"


def _name(username: str) -> str:
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]


def _pair_counter(username: str, address: str) -> _Counter:
    return _Counter(
        f"{KEY_PREFIX}:user-at:{_name(username)}:{address}",
        settings.SECUREFLOW_SIGN_IN_MAX_FAILURES,
        "username at address",
    )


def _counters(username: str, address: str) -> list[_Counter]:
    return [
        _pair_counter(username, address),
        _Counter(
            f"{KEY_PREFIX}:address:{address}",
            settings.SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS,
            "address",
        ),
        _Counter(
            f"{KEY_PREFIX}:user:{_name(username)}",
            settings.SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_USERNAME,
            "username",
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
                address if counter.kind == "address" else username,
                address,
            )


def sign_in_succeeded(username: str, address: str) -> None:
    """Clear the username's failures at this address (the address's count and the
    username's count from every address run out with their window)."""
    counter = _pair_counter(username, address)
    _cache().delete_many([counter.key, _since_key(counter)])
