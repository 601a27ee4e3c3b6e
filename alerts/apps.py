from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from alerts import audience, receivers
        from detection.signals import scores_stored_in_bulk, transaction_scored

        transaction_scored.connect(
            receivers.alerts_for_scored_transaction, dispatch_uid="alerts.transaction_scored"
        )
        scores_stored_in_bulk.connect(
            receivers.alerts_for_bulk_scores, dispatch_uid="alerts.scores_stored_in_bulk"
        )
        audience.connect_signals()
