"""Forms for subscriptions and organisation rules (validation; saving is in services)."""

import zoneinfo
from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from alerts.models import AlertRule, AlertSubscription
from secureflow.core import roles
from transactions.choices import TransferType

TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class TransferTypesField(forms.MultipleChoiceField):
    """Check boxes in the form, a string of codes ("LS") on the model; none = all types."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("choices", TransferType.choices)
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Leave all unticked for every transfer type.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return list(value)
        return value

    def clean(self, value: Any) -> str:  # type: ignore[override]
        return "".join(sorted(set(super().clean(value))))

    def has_changed(self, initial: Any, data: Any) -> bool:
        return super().has_changed(self.prepare_value(initial), data)


class AlertFiltersMixin(forms.ModelForm):
    transfer_types = TransferTypesField(label="Transfer types")

    def add_service_errors(self, exc: ValidationError) -> None:
        """Errors raised by a service onto the form (fields it does not show go on top)."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            target = field if field in self.fields else None
            if field == NON_FIELD_ERRORS:
                target = None
            for error in errors:
                self.add_error(target, error)


FILTER_WIDGETS = {
    "min_risk": forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
    "min_amount": forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
}


class SubscriptionForm(AlertFiltersMixin):
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, label="Time zone")
    rotate_webhook_secret = forms.BooleanField(
        required=False,
        label="Issue a new webhook signing secret",
        help_text="The old secret stops working at once.",
    )

    class Meta:
        model = AlertSubscription
        fields = [
            "channel",
            "destination",
            "min_risk",
            "include_blocked",
            "transfer_types",
            "min_amount",
            "quiet_hours_start",
            "quiet_hours_end",
            "time_zone",
            "is_active",
        ]
        labels = {
            "min_risk": "Minimum risk score",
            "include_blocked": "Always alert on blocked transactions",
            "min_amount": "Minimum amount",
            "is_active": "Active",
        }
        widgets = {
            **FILTER_WIDGETS,
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class RuleForm(AlertFiltersMixin):
    rotate_webhook_secret = forms.BooleanField(
        required=False,
        label="Issue a new webhook signing secret",
        help_text="The old secret stops working at once.",
    )

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "channel",
            "recipient_group",
            "destinations",
            "min_risk",
            "include_blocked",
            "transfer_types",
            "min_amount",
            "is_active",
        ]
        labels = {
            "recipient_group": "Role",
            "min_risk": "Minimum risk score",
            "include_blocked": "Always alert on blocked transactions",
            "min_amount": "Minimum amount",
            "is_active": "Active",
        }
        widgets = {**FILTER_WIDGETS, "destinations": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["recipient_group"].queryset = Group.objects.filter(
            name__in=roles.ALL_ROLES
        ).order_by("name")

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
