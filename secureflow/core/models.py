"""Abstract base pieces shared by the apps."""

from django.db import models


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
