"""Celery tasks of the alerts app: take ids, call one service."""

from collections.abc import Sequence

from celery import Task, shared_task

from alerts.services import alert_deliveries_requeue_due, alert_delivery_send

# A send is bounded by the channel timeouts; the limits only stop a stuck worker.
SEND_SOFT_TIME_LIMIT = 120
SEND_TIME_LIMIT = 150


@shared_task(
    bind=True,
    name="alerts.tasks.deliver_alert",
    acks_late=True,
    max_retries=None,  # attempts are counted on the delivery (SECUREFLOW_ALERT_MAX_ATTEMPTS)
    soft_time_limit=SEND_SOFT_TIME_LIMIT,
    time_limit=SEND_TIME_LIMIT,
)
def deliver_alert(self: Task, delivery_id: int) -> str:
    """Send one alert; on a retryable error, try again after an exponential backoff."""
    result = alert_delivery_send(delivery_id=delivery_id)
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)
    return result.status


@shared_task(name="alerts.tasks.requeue_due_deliveries", acks_late=True)
def requeue_due_deliveries() -> int:
    """Periodic (beat): requeue deliveries whose message was lost or whose worker died."""
    return len(alert_deliveries_requeue_due())


def enqueue_deliveries(delivery_ids: Sequence[int]) -> None:
    """One deliver_alert message per delivery (Celery reuses pooled broker connections)."""
    for delivery_id in delivery_ids:
        deliver_alert.delay(delivery_id)
