"""Failed sign-ins, counted per username and per client address, lock out password guessing.

After `SECUREFLOW_SIGN_IN_MAX_FAILURES` failed sign-ins for one username, or
`SECUREFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS` from one address (whatever the usernames),
within `SECUREFLOW_SIGN_IN_LOCKOUT_MINUTES`, every sign-in for that username or from that
address is refused, the right password included, until that many minutes have passed since
the first failure. A successful sign-in clears its username's count. The answer is the same
whether the username exists or not, so a lockout tells nothing about the accounts.

The counts live in the cache: Redis shares them between web processes and machines; the
embedded default (each process its own cache) counts per web process. The address is the
connection's (`REMOTE_ADDR`): behind a proxy, give the proxy's address of the client there.
Used by the sign-in form of the pages and of Django admin (secureflow/core/forms.py).
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger("secureflow.sign_in")

KEY_PREFIX = "sign-in-failures"


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


def client_address(request: HttpRequest | None) -> str:
    return (request.META.get("REMOTE_ADDR") if request is not None else None) or "unknown"


def sign_in_locked_for(username: str, address: str) -> int:
    """Seconds until sign-ins for `username` from `address` are taken again; 0: now."""
    counters = _counters(username, address)
    stored = cache.get_many([c.key for c in counters] + [f"{c.key}:since" for c in counters])
    now = time.time()
    wait = 0.0
    for counter in counters:
        if counter.limit > 0 and int(stored.get(counter.key, 0)) >= counter.limit:
            since = float(stored.get(f"{counter.key}:since", now))
            wait = max(wait, since + _window_seconds() - now, 1.0)
    return math.ceil(wait)


def sign_in_failed(username: str, address: str) -> None:
    """Count a failed sign-in; log when it locks the username or the address."""
    window = _window_seconds()
    for counter in _counters(username, address):
        if counter.limit <= 0:
            continue
        if cache.add(counter.key, 0, timeout=window):
            cache.set(f"{counter.key}:since", time.time(), timeout=window)
        try:
            failures = cache.incr(counter.key)
        except ValueError:  # expired between add and incr: a new window
            cache.set(counter.key, 1, timeout=window)
            cache.set(f"{counter.key}:since", time.time(), timeout=window)
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
    key = _username_counter(username).key
    cache.delete_many([key, f"{key}:since"])
