"""Model version sets: the versions that made a decision, stored once per combination.

A decision (TransactionScore) points at its ModelVersionSet, so storing a decision costs
no row per model version. `version_set_id` returns the set of a combination of version
ids, creating it the first time; both lookups are cached in-process (a set never changes),
so the scoring paths pay no query for them after the first decision of a combination.
"""

import threading
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, connections, router, transaction

from detection.models import ModelVersion, ModelVersionSet

_lock = threading.Lock()
_set_ids: dict[tuple[str, str], int] = {}  # (database alias, key) -> set id
_set_refs: dict[tuple[str, int], list[dict[str, Any]]] = {}  # (alias, set id) -> refs
# Model version id -> {"kind", "version"}; a version's kind and number never change.
_version_refs: dict[int, dict[str, Any]] = {}


def clear_version_set_cache() -> None:
    """Forget the cached sets and versions (tests, after flushing the database)."""
    with _lock:
        _set_ids.clear()
        _set_refs.clear()
        _version_refs.clear()


def model_version_refs(ids: list[int]) -> list[dict[str, Any]]:
    """{"kind", "version"} of the given model versions (in that order), read once per
    process."""
    missing = [pk for pk in ids if pk not in _version_refs]
    if missing:
        rows = ModelVersion.objects.filter(pk__in=missing).values_list("pk", "kind", "version")
        with _lock:
            for pk, kind, version in rows:
                _version_refs[pk] = {"kind": kind, "version": version}
    return [_version_refs[pk] for pk in ids if pk in _version_refs]


def _remember(alias: str, key: str, set_id: int) -> None:
    with _lock:
        _set_ids[(alias, key)] = set_id


def version_set_id(version_ids: Iterable[int], *, using: str | None = None) -> int | None:
    """The id of the ModelVersionSet of these versions (None for no versions), created on
    first use. Cached once the set is committed: a set created inside a transaction that
    rolls back is never remembered."""
    key = ModelVersionSet.key_for(version_ids)
    if not key:
        return None
    alias = using or router.db_for_write(ModelVersionSet)
    cached = _set_ids.get((alias, key))
    if cached is not None:
        return cached
    found = ModelVersionSet.objects.using(alias).filter(key=key).values_list("pk", flat=True)
    set_id = found.first()
    if set_id is None:
        set_id = _create(alias, key)
    if connections[alias].in_atomic_block:
        transaction.on_commit(lambda: _remember(alias, key, set_id), using=alias)
    else:
        _remember(alias, key, set_id)
    return set_id


def _create(alias: str, key: str) -> int:
    """Create the set of `key` with its members; another process creating the same set
    at the same moment wins and its set is used."""
    ids = [int(pk) for pk in key.split(",")]
    try:
        with transaction.atomic(using=alias):
            created = ModelVersionSet.objects.using(alias).create(key=key)
            created.versions.set(ids)
            return created.pk
    except IntegrityError:
        return ModelVersionSet.objects.using(alias).values_list("pk", flat=True).get(key=key)


def version_set_refs(set_id: int | None, *, using: str | None = None) -> list[dict[str, Any]]:
    """[{"kind", "version"}] of a set's versions (kind, newest first), cached per process."""
    if set_id is None:
        return []
    alias = using or router.db_for_read(ModelVersionSet)
    cached = _set_refs.get((alias, set_id))
    if cached is not None:
        return cached
    refs = [
        {"kind": kind, "version": version}
        for kind, version in ModelVersion.objects.using(alias)
        .filter(version_sets=set_id)
        .order_by("kind", "-version")
        .values_list("kind", "version")
    ]
    with _lock:
        _set_refs[(alias, set_id)] = refs
    return refs
