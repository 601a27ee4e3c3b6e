from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"

    def ready(self) -> None:
        from cases import checks  # noqa: F401 - registers the configuration checks
        from cases.receivers import open_case_for_scored_transaction, open_cases_for_stored_scores
        from detection.models import TransactionScore
        from detection.signals import scores_stored_in_bulk, transaction_scored

        transaction_scored.connect(
            open_case_for_scored_transaction,
            sender=TransactionScore,
            dispatch_uid="cases.open_case_for_scored_transaction",
        )
        scores_stored_in_bulk.connect(
            open_cases_for_stored_scores,
            sender=TransactionScore,
            dispatch_uid="cases.open_cases_for_stored_scores",
        )
