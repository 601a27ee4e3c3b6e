"""Abstract base pieces shared by the apps, worker heartbeats and API keys."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class WorkerHeartbeat(models.Model):
    """Last time each Celery worker ran the heartbeat task, and the active models it
    refused then (shown by /healthz and the dashboard)."""

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()
    # model kind -> why its artifact was refused, in the worker that ran the heartbeat
    refused_models = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class ApiKey(models.Model):
    """A bank system's key for the API (`Authorization: Token <key>`).

    Only the key's SHA-256 digest is stored: the key itself is shown once, when it is
    made, and cannot be read back from the database, its backups or the admin. A key
    stops working when it is revoked, when it expires, or when its user is deactivated;
    a user may hold several keys, so that a client can move to a new key before the old
    one is revoked."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(
        max_length=80, help_text="What uses the key, e.g. 'card switch, production'."
    )
    prefix = models.CharField(
        max_length=12, editable=False, help_text="The key's first characters, to recognise it."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: the key does not expire."
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def usable_at(self, moment: datetime) -> bool:
        """Not revoked and not expired at `moment` (the user's state is checked apart)."""
        return self.revoked_at is None and (self.expires_at is None or moment < self.expires_at)
