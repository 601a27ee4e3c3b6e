"""Writes owned by the core app: demo users and worker heartbeats."""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from secureflow.core import roles
from secureflow.core.models import WorkerHeartbeat


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str | None  # None when the user already existed (password unchanged)


@transaction.atomic
def demo_user_ensure(*, username: str, role: str, password: str | None = None) -> DemoLogin:
    """Create a demo user in `role` once. Its password comes from the caller (the
    environment) or is generated; it is returned only when the user is created."""
    roles.ensure_role_groups()
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    new_password = None
    if created:
        new_password = password or secrets.token_urlsafe(12)
        user.set_password(new_password)
        user.is_staff = role == roles.ADMIN
        user.is_superuser = role == roles.ADMIN
        user.first_name = "Demo"
        user.last_name = role
        user.save()
    user.groups.add(Group.objects.get(name=role))
    return DemoLogin(username=username, role=role, password=new_password)


def worker_heartbeat_record(
    *, hostname: str, refused_models: dict[str, str] | None = None
) -> WorkerHeartbeat:
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={"seen_at": timezone.now(), "refused_models": refused_models or {}},
    )
    return heartbeat
