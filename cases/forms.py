"""Forms behind the case page's actions and the queue's bulk actions."""

from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from cases.choices import REPORTED_LABEL_SOURCES, CaseAction, CaseResolution, LabelSource
from cases.selectors import investigators

NOTE_MAX_LENGTH = 4000


class InvestigatorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        full_name = obj.get_full_name() if hasattr(obj, "get_full_name") else ""
        username = obj.get_username()
        return f"{full_name} ({username})" if full_name else username


class CaseActionForm(forms.Form):
    """One action on one case, with the version of the case the investigator saw."""

    action = forms.ChoiceField(choices=CaseAction.choices)
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    note = forms.CharField(
        required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3})
    )
    assignee = InvestigatorChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="Choose…"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = investigators()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action == CaseAction.ASSIGN and not data.get("assignee"):
            self.add_error("assignee", "Choose whom to assign the case to.")
        if action == CaseAction.NOTE and not (data.get("note") or "").strip():
            self.add_error("note", "Write the note first.")
        return data


# What the database can hold: a case id (BigAutoField) and a case version
# (PositiveIntegerField); a number outside is no case the page can have shown.
MAX_CASE_ID = 2**63 - 1
MAX_CASE_VERSION = 2**31 - 1


def _bounded_int(text: str, maximum: int) -> int:
    """A whole number from 1 to `maximum` (ValueError otherwise)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        raise ValueError(text)
    number = int(text)
    if not 1 <= number <= maximum:
        raise ValueError(text)
    return number


class BulkSelectionField(forms.MultipleChoiceField):
    """Checked rows of the queue, each 'case id:version' (the version shown on the page)."""

    def to_python(self, value: Any) -> list[str]:
        return [str(v) for v in (value or [])]

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise forms.ValidationError("Select at least one case.", code="required")

    def clean(self, value: Any) -> dict[int, int | None]:
        tokens = super().clean(value)
        selections: dict[int, int | None] = {}
        for token in tokens:
            case_id, _, version = token.partition(":")
            try:
                selections[_bounded_int(case_id, MAX_CASE_ID)] = (
                    _bounded_int(version, MAX_CASE_VERSION) if version else None
                )
            except ValueError:
                raise forms.ValidationError(
                    f"'{token}' is not a case selection.", code="invalid"
                ) from None
        return selections


class BulkActionForm(forms.Form):
    ASSIGN = "assign"
    CLOSE = "close"

    action = forms.ChoiceField(choices=[(ASSIGN, "Assign"), (CLOSE, "Close")])
    cases = BulkSelectionField()
    assignee = InvestigatorChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="Assign to…"
    )
    resolution = forms.ChoiceField(choices=CaseResolution.choices, required=False)
    note = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH)
    next = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = investigators()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == self.ASSIGN and not data.get("assignee"):
            self.add_error("assignee", "Choose whom to assign the cases to.")
        if data.get("action") == self.CLOSE:
            if not data.get("resolution"):
                self.add_error("resolution", "Choose legitimate or confirmed fraud.")
            if not (data.get("note") or "").strip():
                self.add_error("note", "Closing cases in bulk needs a note.")
        return data


class LabelUploadForm(forms.Form):
    """A file of labels the bank learned (chargebacks, customer confirmations)."""

    file = forms.FileField(
        label="Labels file (CSV)",
        widget=forms.ClearableFileInput(attrs={"id": "labels-file", "accept": ".csv,text/csv"}),
    )
    source = forms.ChoiceField(
        label="Source of rows without one",
        choices=[(value, LabelSource(value).label) for value in REPORTED_LABEL_SOURCES],
        initial=LabelSource.CHARGEBACK,
        widget=forms.Select(attrs={"id": "labels-source"}),
    )
