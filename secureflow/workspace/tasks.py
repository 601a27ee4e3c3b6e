"""Periodic upkeep of the dashboard (celery beat, see CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from secureflow.workspace.rollup import daily_activity_maintain


@shared_task(ignore_result=True, time_limit=600, soft_time_limit=540)
def dashboard_rollup_maintain() -> int:
    """Re-aggregate the days the dashboard will need next, then make sure the default
    range's model figures (drift, champion vs shadow) are cached. Returns the number of
    days aggregated."""
    from secureflow.workspace.selectors import dashboard_default_range, model_health

    done = len(daily_activity_maintain())
    date_from, date_to = dashboard_default_range()
    model_health(date_from=date_from, date_to=date_to)
    return done
