"""Configuration checks for cases (run by manage.py check and at startup)."""

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register()
def case_sla_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    hours = getattr(settings, "SECUREFLOW_CASE_SLA_HOURS", {})
    messages: list[checks.CheckMessage] = []
    for outcome in ("review", "block"):
        value = hours.get(outcome)
        if value is None or value <= 0:
            messages.append(
                checks.Error(
                    f"SECUREFLOW_CASE_SLA_{outcome.upper()}_HOURS must be a positive number "
                    f"of hours, not {value!r}.",
                    id="cases.E001",
                )
            )
    if not messages and hours["block"] >= hours["review"]:
        messages.append(
            checks.Warning(
                "The SLA for blocked transactions is not shorter than the one for reviews "
                f"({hours['block']} h vs {hours['review']} h).",
                hint="A blocked payment is waiting: give it the shorter SLA.",
                id="cases.W001",
            )
        )
    return messages
