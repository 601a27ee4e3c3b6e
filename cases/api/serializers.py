"""API shapes for feedback labels posted by bank systems."""

from rest_framework import serializers

from cases.choices import LabelSource
from cases.models import FeedbackLabel
from transactions.models import Transaction

# Investigator decisions are recorded through the case workflow, not posted as feedback.
API_LABEL_SOURCES = [
    (value, label) for value, label in LabelSource.choices if value != LabelSource.CASE_DECISION
]


class FeedbackCreateSerializer(serializers.Serializer):
    transaction = serializers.SlugRelatedField(
        slug_field="external_id",
        queryset=Transaction.objects.all(),
        help_text="The bank's transaction id.",
    )
    is_fraud = serializers.BooleanField()
    source = serializers.ChoiceField(choices=API_LABEL_SOURCES, default=LabelSource.API)
    known_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When the bank learned it."
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class FeedbackLabelSerializer(serializers.ModelSerializer):
    transaction = serializers.CharField(source="transaction.external_id", read_only=True)
    created_by = serializers.CharField(
        source="created_by.get_username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = FeedbackLabel
        fields = [
            "id",
            "transaction",
            "is_fraud",
            "source",
            "known_at",
            "note",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields
