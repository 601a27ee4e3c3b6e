"""API keys: made, found and revoked (the model is `secureflow.core.models.ApiKey`).

A key is `sf_` and 40 random URL-safe characters (240 bits). Only its SHA-256 digest is
stored: a key of that strength needs no salt or slow hash, and the digest lets a request's
key be found with one index look-up."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from secureflow.core.models import ApiKey

KEY_PREFIX = "sf_"
SHOWN_PREFIX_LENGTH = 10  # "sf_" and 7 characters: enough to tell a client's keys apart
LAST_USED_PRECISION = timedelta(minutes=1)  # last_used_at is written at most this often


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    key: str  # the only time the key exists outside the client


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *,
    user: AbstractBaseUser,
    name: str,
    created_by: AbstractBaseUser | None = None,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """A new key for `user`; the key is in the result and nowhere else."""
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    api_key = ApiKey.objects.create(
        user=user,
        name=name,
        prefix=key[:SHOWN_PREFIX_LENGTH],
        digest=api_key_digest(key),
        created_by=created_by,
        expires_at=expires_at,
    )
    return IssuedKey(api_key=api_key, key=key)


def api_key_revoke(*, api_key: ApiKey, revoked_by: AbstractBaseUser | None = None) -> bool:
    """Revoke `api_key` now; False when it was already revoked (nothing changes)."""
    if api_key.revoked_at is not None:
        return False
    api_key.revoked_at = timezone.now()
    api_key.revoked_by = revoked_by
    api_key.save(update_fields=["revoked_at", "revoked_by"])
    return True


def api_key_for(key: str) -> ApiKey | None:
    """The stored key (with its user) that `key` is, usable now, else None."""
    api_key = ApiKey.objects.select_related("user").filter(digest=api_key_digest(key)).first()
    if api_key is None or not api_key.usable_at(timezone.now()):
        return None
    return api_key


def api_key_mark_used(api_key: ApiKey) -> None:
    """Record that `api_key` was used now, at most once per LAST_USED_PRECISION."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_PRECISION:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now
