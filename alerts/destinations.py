"""Where an alert goes: check and normalise an e-mail address, phone number or URL, so
that the same recipient is always written the same way (deduplication depends on it)."""

import re
import secrets
import urllib.parse
import zoneinfo
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from alerts.choices import AlertChannel
from alerts.destination_guard import check_webhook_host

PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")
PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_email = EmailValidator(message="Enter a valid e-mail address.")
_url = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")


def normalise_destination(channel: str, value: str) -> str:
    """The canonical form of `value` for `channel`; ValidationError when it is not valid."""
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
