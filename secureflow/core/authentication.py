"""API key authentication that does not read the database on every request.

Clients send `Authorization: Token <key>` (DRF's header) or `Authorization: Bearer <key>`
(what API gateways usually forward); keys are `secureflow.core.models.ApiKey`, stored as
digests. A bank system sends the same key
with every transaction; looking the key, its user and the user's roles up each time costs
two queries per request. `CachedTokenAuthentication` keeps what it found for
`SECUREFLOW_TOKEN_CACHE_SECONDS` (default 10 s) in the process:

* a key revoked or deleted, a user deactivated or a user's roles changed take effect at
  once in the process that made the change (signals drop its entries) and within that many
  seconds in every other web process; a key's expiry is checked on every request;
* an unknown, revoked, expired or inactive key is never cached: each such request is
  checked again;
* each request gets its own copy of the user object, so nothing one request sets on it
  reaches another;
* when a key is looked up, its `last_used_at` is brought up to date (at most once a
  minute).

Set the variable to 0 to look the key up on every request.
"""

import copy
import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from secureflow.core import roles
from secureflow.core.api_keys import api_key_digest, api_key_for, api_key_mark_used
from secureflow.core.models import ApiKey

_lock = threading.Lock()
# key digest -> (expires at (monotonic), user, api key)
_entries: dict[str, tuple[float, Any, ApiKey]] = {}
MAX_ENTRIES = 10_000


def _lifetime() -> float:
    return float(getattr(settings, "SECUREFLOW_TOKEN_CACHE_SECONDS", 10))


def token_cache_clear() -> None:
    """Forget every cached key (this process)."""
    with _lock:
        _entries.clear()


def _forget_user(user_id: int | None) -> None:
    with _lock:
        for digest in [d for d, (_, user, _k) in _entries.items() if user.pk == user_id]:
            del _entries[digest]


def _look_up(key: str) -> tuple[Any, ApiKey]:
    api_key = api_key_for(key)
    if api_key is None:
        raise AuthenticationFailed("Invalid token.")
    if not api_key.user.is_active:
        raise AuthenticationFailed("User inactive or deleted.")
    roles.user_roles(api_key.user)  # read the roles once, with the user
    api_key_mark_used(api_key)
    return api_key.user, api_key


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token header and errors, checked against the stored API keys' digests, with
    a short in-process cache of valid keys, their users and the users' roles."""

    def authenticate(self, request: Any) -> tuple[Any, ApiKey] | None:
        scheme = get_authorization_header(request).split()[:1]
        if scheme and scheme[0].lower() == b"bearer":
            self.keyword = "Bearer"  # DRF makes an authenticator per request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiKey]:
        lifetime = _lifetime()
        if lifetime <= 0:
            return _look_up(key)
        digest = api_key_digest(key)
        now = time.monotonic()
        entry = _entries.get(digest)
        if entry is None or entry[0] <= now or not entry[2].usable_at(timezone.now()):
            user, api_key = _look_up(key)  # raises when not valid
            with _lock:
                if len(_entries) >= MAX_ENTRIES:
                    _entries.clear()
                _entries[digest] = (now + lifetime, user, api_key)
        else:
            _, user, api_key = entry
        # a copy per request; the roles read with it are shared (never changed in place)
        return copy.copy(user), api_key


def _on_key_changed(sender: Any, instance: ApiKey, **kwargs: Any) -> None:
    with _lock:
        _entries.pop(instance.digest, None)


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
    post_save.connect(_on_key_changed, sender=ApiKey, dispatch_uid="core.api_key_saved")
    post_delete.connect(_on_key_changed, sender=ApiKey, dispatch_uid="core.api_key_deleted")
    post_save.connect(_on_user_saved, sender=user_model, dispatch_uid="core.token_user_saved")
    post_delete.connect(_on_user_saved, sender=user_model, dispatch_uid="core.token_user_deleted")
    m2m_changed.connect(
        _on_groups_changed,
        sender=user_model.groups.through,
        dispatch_uid="core.token_user_groups_changed",
    )


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """The schema's description of the API key header (both prefixes)."""

    target_class = CachedTokenAuthentication
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An API key, sent as "Token <key>" or "Bearer <key>".',
        }
