"""API token authentication that does not read the database on every request.

A bank system sends the same token with every transaction; looking the token, its user
and the user's roles up each time costs two queries per request. `CachedTokenAuthentication`
keeps what it found for `SECUREFLOW_TOKEN_CACHE_SECONDS` (default 10 s) in the process:

* a token deleted, a user deactivated or a user's roles changed take effect at once in the
  process that made the change (signals drop its entries) and within that many seconds in
  every other web process;
* an unknown or inactive token is never cached: each such request is checked again;
* each request gets its own copy of the user object, so nothing one request sets on it
  reaches another.

Set the variable to 0 to look the token up on every request.
"""

import copy
import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from secureflow.core import roles

_lock = threading.Lock()
# token key -> (expires at (monotonic), user, token)
_entries: dict[str, tuple[float, Any, Token]] = {}
MAX_ENTRIES = 10_000


def _lifetime() -> float:
    return float(getattr(settings, "SECUREFLOW_TOKEN_CACHE_SECONDS", 10))


def token_cache_clear() -> None:
    """Forget every cached token (this process)."""
    with _lock:
        _entries.clear()


def _forget_user(user_id: int | None) -> None:
    with _lock:
        for key in [k for k, (_, user, _t) in _entries.items() if user.pk == user_id]:
            del _entries[key]


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication (same header, same errors) with a short in-process
    cache of valid tokens, their users and the users' roles."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        lifetime = _lifetime()
        if lifetime <= 0:
            return super().authenticate_credentials(key)
        now = time.monotonic()
        entry = _entries.get(key)
        if entry is None or entry[0] <= now:
            user, token = super().authenticate_credentials(key)  # raises when not valid
            roles.user_roles(user)  # read the roles once, with the user
            with _lock:
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                _entries[key] = (now + lifetime, user, token)
        else:
            _, user, token = entry
        # a copy per request; the roles read with it are shared (never changed in place)
        return copy.copy(user), token


def _on_token_deleted(sender: Any, instance: Token, **kwargs: Any) -> None:
    with _lock:
        _entries.pop(instance.key, None)


def _on_user_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    _forget_user(instance.pk)


def _on_groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    if not action.startswith("post_"):
        return
    if reverse or pk_set is None:  # a group's members changed (or all were removed)
        token_cache_clear()
    else:
        _forget_user(instance.pk)


def connect_signals() -> None:
    """Called from the core app's ready()."""
    user_model = get_user_model()
    post_delete.connect(_on_token_deleted, sender=Token, dispatch_uid="core.token_deleted")
    post_save.connect(_on_user_saved, sender=user_model, dispatch_uid="core.token_user_saved")
    post_delete.connect(_on_user_saved, sender=user_model, dispatch_uid="core.token_user_deleted")
    m2m_changed.connect(
        _on_groups_changed,
        sender=user_model.groups.through,
        dispatch_uid="core.token_user_groups_changed",
    )
