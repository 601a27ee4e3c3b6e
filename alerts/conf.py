"""Alert settings with their defaults (the environment variables are read in settings)."""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class AlertSettings:
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    rate_limit: int  # 0: no limit
    rate_window_seconds: float
    http_timeout: float
    send_lease_seconds: float
    base_url: str


def alert_settings() -> AlertSettings:
    """Read at call time, so that a change (tests, override_settings) applies at once."""
    http_timeout = float(getattr(settings, "SECUREFLOW_ALERT_HTTP_TIMEOUT", 5.0))
    return AlertSettings(
        max_attempts=max(1, int(getattr(settings, "SECUREFLOW_ALERT_MAX_ATTEMPTS", 5))),
        retry_base_seconds=float(getattr(settings, "SECUREFLOW_ALERT_RETRY_BASE_SECONDS", 30.0)),
        retry_max_seconds=float(getattr(settings, "SECUREFLOW_ALERT_RETRY_MAX_SECONDS", 900.0)),
        rate_limit=max(0, int(getattr(settings, "SECUREFLOW_ALERT_RATE_LIMIT", 10))),
        rate_window_seconds=float(getattr(settings, "SECUREFLOW_ALERT_RATE_WINDOW_SECONDS", 60.0)),
        http_timeout=http_timeout,
        # A send that has not finished after this long is taken to have died with its
        # worker; the delivery may then be attempted again.
        send_lease_seconds=max(60.0, 6 * http_timeout, 6 * float(settings.EMAIL_TIMEOUT or 10)),
        base_url=str(getattr(settings, "SECUREFLOW_BASE_URL", "http://127.0.0.1:8000")).rstrip("/"),
    )


def retry_delay(*, attempts: int) -> float:
    """Exponential backoff after `attempts` failed attempts: base, 2·base, 4·base … capped."""
    conf = alert_settings()
    return min(conf.retry_base_seconds * (2 ** max(attempts - 1, 0)), conf.retry_max_seconds)
