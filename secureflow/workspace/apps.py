from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """Investigator and admin pages: check a transaction, settings, dashboard."""

    name = "secureflow.workspace"
    label = "workspace"
    verbose_name = "Investigator workspace"

    def ready(self) -> None:
        from detection.models import TransactionScore
        from detection.signals import transaction_scored
        from secureflow.workspace.receivers import mark_day_of_score

        transaction_scored.connect(
            mark_day_of_score,
            sender=TransactionScore,
            dispatch_uid="workspace.mark_day_of_score",
        )
