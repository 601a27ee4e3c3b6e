"""The current rule set, compiled once and reloaded when the limits change.

Each process keeps one compiled RuleSet. At most every CHECK_SECONDS it asks the database
for the limits' version (row count + newest updated_at) and recompiles when that moved;
rule_limit_update also drops the cache as soon as its change commits.
"""

import logging
import threading
import time

from django.db import DatabaseError

from detection.rules.engine import RuleSet

CHECK_SECONDS = 2.0
logger = logging.getLogger(__name__)

_lock = threading.Lock()
_cached: RuleSet | None = None
_checked_at = -float("inf")


def get_rule_set(*, max_age: float = CHECK_SECONDS) -> RuleSet:
    """The compiled rule set; checks the database version at most every `max_age` s.

    If the database cannot be read, the last compiled set (or the shipped defaults) is
    used, so scoring never fails because of the rules table."""
    global _cached, _checked_at
    now = time.monotonic()
    cached = _cached
    if cached is not None and now - _checked_at < max_age:
        return cached
    from detection import selectors

    with _lock:
        try:
            version = selectors.rule_limits_version()
            if _cached is None or _cached.version != version:
                _cached = RuleSet.from_limits(selectors.rule_limits(), version=version)
        except DatabaseError:
            logger.exception("rule limits could not be read; using the last known rules")
            if _cached is None:
                return RuleSet.defaults()
        _checked_at = now
        return _cached


def invalidate_rule_set() -> None:
    """Forget the compiled set; the next get_rule_set() reads the database."""
    global _cached, _checked_at
    with _lock:
        _cached = None
        _checked_at = -float("inf")
