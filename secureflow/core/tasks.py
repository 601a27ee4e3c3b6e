import logging

from celery import shared_task

from secureflow.core.services import worker_heartbeat_record

logger = logging.getLogger(__name__)


@shared_task(bind=True, time_limit=30, max_retries=3, default_retry_delay=2)
def worker_heartbeat(self: object) -> str:
    """Proves a worker is consuming the queue and can write to the database, and tells
    which active models it cannot load (it scores batches without them)."""
    from detection.scoring.loader import serving_status

    hostname = getattr(getattr(self, "request", None), "hostname", None) or "unknown"
    try:
        refused: dict[str, str] = serving_status()["refused"]  # type: ignore[assignment]
    except Exception as exc:  # the heartbeat still proves the worker runs
        logger.exception("Could not prepare the scoring engine")
        refused = {"models": f"the scoring engine could not be prepared ({exc})"}
    worker_heartbeat_record(hostname=hostname, refused_models=refused)
    return hostname


@shared_task(time_limit=3600)
def purge_old_files() -> dict[str, int]:
    """Daily: remove the files of batches and label imports finished longer ago than
    `SECUREFLOW_FILE_RETENTION_DAYS` (secureflow/core/retention.py)."""
    from secureflow.core.retention import old_files_purge

    report = old_files_purge()
    if report.batches or report.label_imports:
        logger.info(
            "Removed the files of %s batches and %s label imports finished over %s days ago",
            report.batches,
            report.label_imports,
            report.days,
        )
    return {"batches": report.batches, "label_imports": report.label_imports}
