from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "detection"

    def ready(self) -> None:
        from detection.shadow import on_transaction_scored
        from detection.signals import transaction_scored

        transaction_scored.connect(
            on_transaction_scored, dispatch_uid="detection.shadow.on_transaction_scored"
        )
