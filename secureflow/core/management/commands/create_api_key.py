"""Make an API key for a user and print it (the only time it is shown)."""

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from secureflow.core.api_keys import api_key_create


class Command(BaseCommand):
    help = (
        "Make an API key for USERNAME (an API client's user with the Investigator or Admin "
        "role) and print it once: only its digest is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what uses the key (default: cli)")
        parser.add_argument("--expires-days", type=int, help="days until it expires")

    def handle(self, *args: object, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        if not user.is_active:
            raise CommandError(f"user {user.get_username()!r} is deactivated")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        issued = api_key_create(user=user, name=options["name"] or "cli", expires_at=expires_at)
        self.stderr.write(
            f"API key {issued.api_key.prefix}… for {user.get_username()} "
            f"({issued.api_key.name}"
            + (f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "")
            + "). Shown once: store it now."
        )
        self.stdout.write(issued.key)
