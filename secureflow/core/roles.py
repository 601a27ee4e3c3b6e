"""Roles are Django groups. Membership decides what a person may see and do."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group

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
