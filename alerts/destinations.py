"""Where an alert goes: check and normalise an e-mail address, phone number or URL, so
that the same recipient is always written the same way (deduplication depends on it), and
keep e-mail and SMS to the destinations the bank allows."""

import re
import secrets
import urllib.parse
import zoneinfo
from datetime import datetime, time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import EmailValidator, URLValidator

from alerts.choices import AlertChannel
from alerts.destination_guard import check_webhook_host

PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")
PHONE_SEPARATORS = re.compile(r"[\s\-().]")
PREFIX_RE = re.compile(r"^\+\d{1,14}$")
_email = EmailValidator(message="Enter a valid e-mail address.")
_url = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")


def normalise_destination(channel: str, value: str) -> str:
    """The canonical form of `value` for `channel`; ValidationError when it is not valid or
    the bank does not allow alerts to go there (destination_refusal)."""
    value = canonical_destination(channel, value)
    refusal = destination_refusal(channel, value)
    if refusal:
        raise ValidationError(refusal[0].upper() + refusal[1:] + ".")
    return value


def canonical_destination(channel: str, value: str) -> str:
    """The canonical form of `value` for `channel`, without the bank's policy; ValidationError
    when it is not a valid destination."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Enter where the alert goes.")
    if channel == AlertChannel.EMAIL:
        _email(value)
        return value.lower()  # mailboxes are case-insensitive in practice; dedup needs one form
    if channel == AlertChannel.SMS:
        phone = PHONE_SEPARATORS.sub("", value)
        if phone.startswith("00"):
            phone = "+" + phone[2:]
        if not PHONE_RE.match(phone):
            raise ValidationError(
                "Enter the phone number in international form, e.g. +971501234567."
            )
        return phone
    if channel == AlertChannel.WEBHOOK:
        _url(value)
        check_webhook_host(urllib.parse.urlsplit(value).hostname or "")
        return value
    raise ValidationError(f"Unknown channel {channel!r}.")


def allowed_email_domains() -> tuple[str, ...]:
    """The domains alert e-mail may go to (`SECUREFLOW_ALERT_EMAIL_DOMAINS`); empty: any."""
    domains = getattr(settings, "SECUREFLOW_ALERT_EMAIL_DOMAINS", None) or ()
    return tuple(d.strip().lower().lstrip("@").rstrip(".") for d in domains if d.strip())


def allowed_phone_prefixes() -> tuple[str, ...]:
    """The number prefixes alert SMS may go to (`SECUREFLOW_ALERT_SMS_PREFIXES`, e.g.
    +971); empty: any. A prefix that is not + and digits stops the start."""
    prefixes = tuple(
        p.strip() for p in getattr(settings, "SECUREFLOW_ALERT_SMS_PREFIXES", None) or ()
    )
    bad = [p for p in prefixes if p and not PREFIX_RE.match(p)]
    if bad:
        raise ImproperlyConfigured(
            f"SECUREFLOW_ALERT_SMS_PREFIXES: {', '.join(bad)} is not + and digits (e.g. +971)"
        )
    return tuple(p for p in prefixes if p)


def destination_refusal(channel: str, destination: str) -> str | None:
    """Why the bank's policy keeps alerts from `destination` (normalised), else None.

    Alerts carry customers' data (names, accounts, amounts): a bank keeps them to its own
    mail domains and, for SMS, to its country's numbers. Webhooks have their own guard
    (alerts/destination_guard.py)."""
    if channel == AlertChannel.EMAIL:
        domains = allowed_email_domains()
        domain = destination.rpartition("@")[2].lower()
        if domains and not any(domain == d or domain.endswith("." + d) for d in domains):
            return f"alerts by e-mail go only to addresses at {', '.join(domains)}"
    if channel == AlertChannel.SMS:
        prefixes = allowed_phone_prefixes()
        if prefixes and not destination.startswith(prefixes):
            return f"alerts by SMS go only to numbers starting {', '.join(prefixes)}"
    return None


def normalise_destinations(channel: str, text: str) -> list[str]:
    """One destination a line (blank lines ignored), each normalised; duplicates removed.
    The error names the line."""
    out: list[str] = []
    errors: list[str] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = normalise_destination(channel, line)
        except ValidationError as exc:
            errors.append(f"Line {number} ({line.strip()}): {' '.join(exc.messages)}")
            continue
        if value not in out:
            out.append(value)
    if errors:
        raise ValidationError(errors)
    return out


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"Unknown time zone {value!r}.") from exc


def in_quiet_hours(start: time | None, end: time | None, time_zone: str, when: datetime) -> bool:
    """Whether `when` (aware) falls in [start, end) local time; the window may wrap
    midnight (22:00–07:00). No window when either end is missing or both are equal."""
    if start is None or end is None or start == end:
        return False
    local = when.astimezone(zoneinfo.ZoneInfo(time_zone)).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end
