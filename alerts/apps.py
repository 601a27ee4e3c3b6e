from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from alerts import audience, receivers
        from alerts.destinations import allowed_phone_prefixes
        from detection.signals import scores_stored_in_bulk, transaction_scored

        allowed_phone_prefixes()  # a mistyped prefix stops the start, not an alert later

        transaction_scored.connect(
            receivers.alerts_for_scored_transaction, dispatch_uid="alerts.transaction_scored"
        )
        scores_stored_in_bulk.connect(
            receivers.alerts_for_bulk_scores, dispatch_uid="alerts.scores_stored_in_bulk"
        )
        audience.connect_signals()
