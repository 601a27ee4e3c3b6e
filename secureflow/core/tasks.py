from celery import shared_task

from secureflow.core.services import worker_heartbeat_record


@shared_task(bind=True, time_limit=30, max_retries=3, default_retry_delay=2)
def worker_heartbeat(self: object) -> str:
    """Proves a worker is consuming the queue and can write to the database."""
    hostname = getattr(getattr(self, "request", None), "hostname", None) or "unknown"
    worker_heartbeat_record(hostname=hostname)
    return hostname
