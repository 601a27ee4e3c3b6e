"""Who may be alerted: the active subscriptions and organisation rules, read once and reused.

Every real-time decision asks "does anybody want to hear about this?"; the answer changes
only when someone edits a subscription, a rule, a user or a role. `cached_alert_audience`
keeps the last answer for `SECUREFLOW_ALERT_AUDIENCE_CACHE_SECONDS` (default 5 s) in the
process: a change takes effect at once in the process that made it (signals drop the
cached copy) and within that many seconds in every other process. Batch chunks read a
fresh audience each time (`alert_audience`); 0 turns the cache off.
"""

import threading
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save

from alerts.models import AlertRule, AlertSubscription
from secureflow.core import roles


@dataclass(frozen=True)
class AlertAudience:
    """Active subscriptions (of active users holding a role), active rules, and for each
    role group named by a rule the (user id, e-mail) of its active members."""

    subscriptions: tuple[AlertSubscription, ...]
    rules: tuple[AlertRule, ...]
    group_emails: dict[int, list[tuple[int, str]]]

    @cached_property
    def lowest_min_risk(self) -> float:
        """The lowest risk any subscription or rule asks for (2.0 when there are none)."""
        return min((f.min_risk for f in (*self.subscriptions, *self.rules)), default=2.0)

    @cached_property
    def wants_blocks(self) -> bool:
        return any(f.include_blocked for f in (*self.subscriptions, *self.rules))

    def may_want(self, *, risk_score: float, outcome: str) -> bool:
        """False when no subscription or rule could match a decision like this."""
        return risk_score >= self.lowest_min_risk or (outcome == "block" and self.wants_blocks)


def _group_emails(rules: tuple[AlertRule, ...]) -> dict[int, list[tuple[int, str]]]:
    group_ids = {r.recipient_group_id for r in rules if r.recipient_group_id}
    if not group_ids:
        return {}
    out: dict[int, list[tuple[int, str]]] = {gid: [] for gid in group_ids}
    rows = (
        get_user_model()
        .objects.filter(groups__id__in=group_ids, is_active=True)
        .exclude(email="")
        .values_list("groups__id", "id", "email")
        .order_by("id")
    )
    for group_id, user_id, email in rows:
        if group_id in out:
            out[group_id].append((user_id, email))
    return out


def alert_audience() -> AlertAudience:
    """Read the audience from the database now."""
    subscriptions = tuple(
        AlertSubscription.objects.filter(is_active=True, user__is_active=True)
        .filter(Q(user__is_superuser=True) | Q(user__groups__name__in=roles.ALL_ROLES))
        .distinct()
        .order_by("id")
    )
    rules = tuple(AlertRule.objects.filter(is_active=True).order_by("id"))
    return AlertAudience(subscriptions, rules, _group_emails(rules))


_lock = threading.Lock()
_cached: tuple[float, AlertAudience] | None = None


def cached_alert_audience() -> AlertAudience:
    """The audience, read at most once per cache period in this process."""
    global _cached
    lifetime = float(getattr(settings, "SECUREFLOW_ALERT_AUDIENCE_CACHE_SECONDS", 5))
    if lifetime <= 0:
        return alert_audience()
    now = time.monotonic()
    entry = _cached
    if entry is not None and entry[0] > now:
        return entry[1]
    audience = alert_audience()
    with _lock:
        _cached = (now + lifetime, audience)
    return audience


def alert_audience_forget(*args: Any, **kwargs: Any) -> None:
    """Drop this process's cached audience (a receiver for every change that affects it)."""
    global _cached
    with _lock:
        _cached = None


def connect_signals() -> None:
    """Called from AlertsConfig.ready()."""
    user_model = get_user_model()
    for model in (AlertSubscription, AlertRule, user_model):
        name = model._meta.label_lower
        post_save.connect(alert_audience_forget, sender=model, dispatch_uid=f"audience.{name}.s")
        post_delete.connect(alert_audience_forget, sender=model, dispatch_uid=f"audience.{name}.d")
    m2m_changed.connect(
        alert_audience_forget, sender=user_model.groups.through, dispatch_uid="audience.groups"
    )
