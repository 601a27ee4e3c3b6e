"""Periodic upkeep of the dashboard rollup (celery beat, see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from secureflow.workspace.rollup import daily_activity_maintain


@shared_task(ignore_result=True, time_limit=600, soft_time_limit=540)
def dashboard_rollup_maintain() -> int:
    """Re-aggregate the days the dashboard will need next; returns how many."""
    return len(daily_activity_maintain())
