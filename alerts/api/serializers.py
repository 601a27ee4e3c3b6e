from rest_framework import serializers

from alerts.models import AlertDelivery


class AlertDeliverySerializer(serializers.ModelSerializer):
    transaction = serializers.CharField(source="transaction.external_id", read_only=True)
    recipient = serializers.CharField(source="recipient.username", default=None, read_only=True)
    rule = serializers.CharField(source="rule.name", default=None, read_only=True)
    # Plain strings in the schema: their names would collide with the transaction's enums.
    channel = serializers.CharField(read_only=True, help_text="email, sms or webhook")
    status = serializers.CharField(
        read_only=True, help_text="queued, sending, sent, failed or suppressed"
    )
    reason = serializers.CharField(
        read_only=True, help_text="why a suppressed alert was not sent: rate_limited, quiet_hours"
    )

    class Meta:
        model = AlertDelivery
        fields = [
            "id",
            "transaction",
            "channel",
            "destination",
            "recipient",
            "subscription",
            "rule",
            "status",
            "reason",
            "attempts",
            "last_error",
            "queued_at",
            "sent_at",
        ]
        read_only_fields = fields
