"""Roles are Django groups. Membership decides what a person may see and do."""

from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

INVESTIGATOR = "Investigator"
SENIOR_INVESTIGATOR = "Senior investigator"
ADMIN = "Admin"
ALL_ROLES = (INVESTIGATOR, SENIOR_INVESTIGATOR, ADMIN)


def ensure_role_groups(*, using: str = "default") -> None:
    for name in ALL_ROLES:
        Group.objects.using(using).get_or_create(name=name)


def user_roles(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_secureflow_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached.add(ADMIN)
        user._secureflow_roles = cached
    return cached


def is_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    return ADMIN in user_roles(user)


def is_investigator(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Investigators, senior investigators and admins may work cases."""
    return bool(user_roles(user) & set(ALL_ROLES))


def can_force_approve(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user_roles(user) & {SENIOR_INVESTIGATOR, ADMIN})


def owned_rows_visible_to(rows: QuerySet[M], user: AbstractBaseUser | AnonymousUser) -> QuerySet[M]:
    """Of `rows` (with an `owner`, e.g. uploaded files): all for admins, their own for
    investigators, none for anyone else."""
    if is_admin(user):
        return rows
    if not is_investigator(user):
        return rows.none()
    return rows.filter(owner=user)
