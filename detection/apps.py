from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "detection"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from detection.features.summaries import forget_summaries_after_edit
        from detection.shadow import on_transaction_scored
        from detection.signals import transaction_scored
        from transactions.models import Counterparty, Transaction

        for model in (Transaction, Counterparty):
            post_save.connect(
                forget_summaries_after_edit,
                sender=model,
                dispatch_uid=f"detection.summaries.forget_after_edit.{model.__name__}",
            )

        transaction_scored.connect(
            on_transaction_scored, dispatch_uid="detection.shadow.on_transaction_scored"
        )
