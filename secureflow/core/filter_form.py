"""Filter forms written out by hand: rendering a dozen widgets through Django's widget
templates on every request costs more than the table they filter."""

from dataclasses import dataclass

from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime

LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"
LOCAL_INPUT_FORMAT_SECONDS = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class FilterField:
    """One input of a filter form, ready to write out."""

    name: str
    id: str
    label: str
    kind: str  # "select", "number", "datetime-local" or "text"
    value: str
    choices: list[tuple[str, str, bool]]
    errors: list[str]


def _kind(field: forms.Field) -> str:
    widget = field.widget
    if isinstance(widget, forms.Select):
        return "select"
    if isinstance(widget, forms.NumberInput):
        return "number"
    if isinstance(field, forms.DateTimeField):
        return "datetime-local"
    return "text"


def _local_input(value: str) -> str:
    """A date/time as a `datetime-local` box shows it (bank local time); a value it
    cannot show (not a date/time) is kept as typed, so its error is read beside it."""
    try:
        parsed = parse_datetime(value) if value else None
    except ValueError:  # well formed but not a real date (2026-02-30T10:00)
        return value
    if parsed is None:
        return value
    if timezone.is_aware(parsed):
        parsed = timezone.localtime(parsed)
    if parsed.second or parsed.microsecond:
        return parsed.strftime(LOCAL_INPUT_FORMAT_SECONDS)
    return parsed.strftime(LOCAL_INPUT_FORMAT)


def filter_fields(form: forms.Form) -> list[FilterField]:
    """The form's inputs with their current values, choices and errors."""
    fields = []
    for bound in form:
        raw = bound.data if form.is_bound else bound.initial
        value = "" if raw is None else str(raw)
        kind = _kind(bound.field)
        choices = []
        if kind == "select":
            choices = [
                (str(key), str(text), str(key) == value)
                for key, text in bound.field.widget.choices
                if not isinstance(text, list | tuple)
            ]
        label = str(bound.label)
        if kind == "datetime-local":
            value = _local_input(value)
            # the box takes the bank's local time; the API's ISO 8601 note is not for it
            label = label.removesuffix(" (ISO 8601)") + " (bank time)"
        fields.append(
            FilterField(
                name=bound.html_name,
                id=bound.auto_id or bound.html_name,
                label=label,
                kind=kind,
                value=value,
                choices=choices,
                errors=[str(error) for error in bound.errors],
            )
        )
    return fields
