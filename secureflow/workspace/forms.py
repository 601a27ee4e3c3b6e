"""Forms of the check page, the settings page and the dashboard filter."""

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone

from detection.models import RuleLimit, Severity
from detection.rules.defaults import THRESHOLD_CODES
from detection.services import rule_limit_check
from secureflow.workspace.choices import CheckActionKind
from secureflow.workspace.selectors import MAX_RANGE_DAYS
from transactions.choices import Channel, TransferType
from transactions.filtersets import EARLIEST, LATEST
from transactions.models import Account

COUNTRY = RegexValidator(r"^[A-Za-z]{2}$", "Use a two-letter country code, e.g. AE.")
LOCAL_INPUT = "%Y-%m-%dT%H:%M"
TRANSFER_TYPE_CHOICES = [("", "Choose a transfer type")] + [
    (value, f"{value} — {label}") for value, label in TransferType.choices
]


def new_submission_id() -> str:
    return f"CHK-{uuid.uuid4().hex[:20].upper()}"


def local_now_input() -> str:
    return timezone.localtime().strftime(LOCAL_INPUT)


class CheckForm(forms.Form):
    """One transaction to check. `submission_id` becomes the transaction id: submitting
    the same form twice replays the stored decision instead of storing it twice."""

    submission_id = forms.CharField(widget=forms.HiddenInput, max_length=64)
    account = forms.CharField(
        label="Account",
        max_length=64,
        widget=forms.Select,
        error_messages={"required": "Choose the account the money leaves from."},
    )
    amount = forms.DecimalField(
        label="Amount",
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )
    transfer_type = forms.ChoiceField(label="Transfer type", choices=TRANSFER_TYPE_CHOICES)
    country = forms.CharField(
        label="Country",
        max_length=2,
        validators=[COUNTRY],
        help_text="Where the transaction is made (two letters).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 3}),
    )
    counterparty = forms.CharField(
        label="Counterparty",
        required=False,
        max_length=128,
        help_text="Beneficiary account, merchant or terminal id (optional).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "list": "counterparty-options"}),
    )
    counterparty_country = forms.CharField(
        label="Counterparty country",
        required=False,
        max_length=2,
        validators=[COUNTRY],
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 3}),
    )
    channel = forms.ChoiceField(
        label="Channel", required=False, choices=[("", "Not known")] + list(Channel.choices)
    )
    occurred_at = forms.DateTimeField(
        label="Occurred at",
        input_formats=[LOCAL_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
        help_text="Bank local time.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT),
    )

    def __init__(self, *args: Any, accounts: list[Account] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.account_obj: Account | None = None
        self.set_accounts(accounts or [])

    def set_accounts(self, accounts: list[Account]) -> None:
        """The accounts the select offers (search results); only needed to render."""
        self.fields["account"].widget.choices = [("", "Choose an account")] + [
            (
                a.number,
                f"{a.number} · {a.customer.name} ({a.customer.external_id}) · {a.currency}",
            )
            for a in accounts
        ]
        self.account_count = len(accounts)

    def clean_account(self) -> str:
        number = self.cleaned_data["account"].strip()
        account = Account.objects.select_related("customer").filter(number=number).first()
        if account is None:
            raise ValidationError(f"There is no account {number}.")
        self.account_obj = account
        return number

    def clean_country(self) -> str:
        return self.cleaned_data["country"].upper()

    def clean_counterparty_country(self) -> str:
        return self.cleaned_data["counterparty_country"].upper()

    def clean_occurred_at(self) -> Any:
        """Not in the future, and within the API's range (1970-01-02 to 2199-12-31)."""
        value = self.cleaned_data["occurred_at"]
        try:
            if value > timezone.now() + timedelta(minutes=5):
                raise ValidationError("A transaction to check cannot lie in the future.")
            in_range = EARLIEST <= value < LATEST
        except OverflowError:  # a time at the very ends of the calendar
            in_range = False
        if not in_range:
            raise ValidationError(
                "Use a date and time between 1970-01-02 and 2199-12-31.", code="out_of_range"
            )
        return value

    def submission(self) -> dict[str, Any]:
        """The validated input in the shape transactions.services.transaction_submit takes."""
        data = self.cleaned_data
        account = self.account_obj
        assert account is not None
        return {
            "id": data["submission_id"],
            "timestamp": data["occurred_at"],
            "account": account.number,
            "customer": account.customer.external_id,
            "counterparty": data["counterparty"].strip(),
            "counterparty_country": data["counterparty_country"],
            "amount": data["amount"],
            "currency": account.currency,
            "transfer_type": data["transfer_type"],
            "country": data["country"],
            "channel": data["channel"],
        }


class CheckActionForm(forms.Form):
    kind = forms.ChoiceField(choices=CheckActionKind.choices)
    reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if (
            cleaned.get("kind") == CheckActionKind.FORCE_APPROVE
            and not (cleaned.get("reason") or "").strip()
        ):
            self.add_error("reason", "Approving a flagged transaction anyway needs a reason.")
        return cleaned


class RuleLimitForm(forms.Form):
    """Edit one limit; the reason is kept in its change history."""

    value = forms.DecimalField(label="Value", max_digits=18, decimal_places=4)
    enabled = forms.BooleanField(label="Enabled", required=False)
    severity = forms.ChoiceField(label="A hit asks for", choices=Severity.choices)
    reason = forms.CharField(
        label="Reason for the change",
        max_length=2000,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": "Say why the limit changes; it is kept in the history."},
    )

    def __init__(self, *args: Any, limit: RuleLimit, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "value": limit.value.normalize(),
                "enabled": limit.enabled,
                "severity": limit.severity,
            },
        )
        super().__init__(*args, **kwargs)
        self.limit = limit
        if limit.code in THRESHOLD_CODES:
            # Thresholds decide the outcome themselves; a severity means nothing there.
            self.fields["severity"].required = False
            self.fields["severity"].widget = forms.HiddenInput()
        suffix = limit.code.replace("_", "-")
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("id", f"limit-{suffix}-{name}")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        value = cleaned.get("value")
        if not cleaned.get("severity"):
            cleaned["severity"] = self.limit.severity
        if value is not None:
            try:
                rule_limit_check(limit=self.limit, value=value, enabled=cleaned["enabled"])
            except ValidationError as error:
                for message in error.message_dict.get("value", error.messages):
                    self.add_error("value", message)
        if (
            value is not None
            and not self.errors
            and value == self.limit.value
            and cleaned["enabled"] == self.limit.enabled
            and cleaned["severity"] == self.limit.severity
        ):
            raise ValidationError("Nothing changed: this is the current setting.")
        return cleaned


class DateRangeForm(forms.Form):
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", "The end date is before the start date.")
            elif (end - start).days + 1 > MAX_RANGE_DAYS:
                self.add_error("date_to", f"Choose at most {MAX_RANGE_DAYS} days.")
        return cleaned

    def range(self, default: Callable[[], tuple[date, date]]) -> tuple[date, date]:
        """The chosen range; a missing end keeps the default range's length. `default` is
        only called when a date is missing."""
        start = self.cleaned_data.get("date_from")
        end = self.cleaned_data.get("date_to")
        if start and end:
            return start, end
        first, last = default()
        span = last - first
        if start:
            return start, start + span
        if end:
            return end - span, end
        return first, last
