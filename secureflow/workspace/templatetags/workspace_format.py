"""Small display filters for the workspace pages."""

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.4286 → "42.9 %"; None → "—"."""
    if value is None or value == "":
        return "—"
    return f"{floatformat(float(value) * 100, digits)} %"
