"""Forms of the transactions pages."""

from django import forms

from transactions.api.batches import DECIMAL_CHOICES, DELIMITER_CHOICES
from transactions.choices import BatchMode
from transactions.models import ImportMapping


class BatchUploadForm(forms.Form):
    file = forms.FileField(
        label="Transactions file (CSV)",
        widget=forms.ClearableFileInput(attrs={"id": "batch-file", "accept": ".csv,text/csv"}),
    )
    saved_mapping = forms.ModelChoiceField(
        queryset=ImportMapping.objects.order_by("name"),
        required=False,
        empty_label="Columns as documented (no mapping)",
        label="Column mapping",
        widget=forms.Select(attrs={"id": "batch-mapping"}),
    )
    mapping_file = forms.FileField(
        required=False,
        label="…or a mapping file (JSON)",
        widget=forms.ClearableFileInput(attrs={"id": "batch-mapping-file", "accept": ".json"}),
    )
    mode = forms.ChoiceField(
        choices=BatchMode.choices,
        initial=BatchMode.SCORE,
        widget=forms.Select(attrs={"id": "batch-mode"}),
    )
    delimiter = forms.ChoiceField(
        choices=[("", "Detect"), *DELIMITER_CHOICES],
        required=False,
        widget=forms.Select(attrs={"id": "batch-delimiter"}),
    )
    decimal = forms.ChoiceField(
        choices=[("", "Detect"), *DECIMAL_CHOICES],
        required=False,
        label="Decimal separator",
        widget=forms.Select(attrs={"id": "batch-decimal"}),
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("saved_mapping") and data.get("mapping_file"):
            self.add_error("mapping_file", "Choose a saved mapping or upload one, not both.")
        return data
