"""Reads for the transactions app."""

from django.db.models import QuerySet

from transactions.models import Account, Customer, Transaction


def bank_totals() -> dict[str, int]:
    return {
        "customers": Customer.objects.count(),
        "accounts": Account.objects.count(),
        "transactions": Transaction.objects.count(),
    }


def account_history(*, account_id: int) -> QuerySet[Transaction]:
    """An account's transactions, oldest first (the order features are computed in)."""
    return Transaction.objects.filter(account_id=account_id).order_by("occurred_at", "id")


def transactions_with_decisions() -> QuerySet[Transaction]:
    """Transactions with what their lists and details show, newest first, in one query
    (the model versions of a decision come from the in-process cache of version sets)."""
    related = ("account__customer", "counterparty", "score", "submitted_by", "submitted_key")
    return (
        Transaction.objects.select_related(*related)
        .defer("score__features")  # the feature vector: not shown, and costly to decode
        .order_by("-occurred_at", "-id")
    )


def transactions_for_list() -> QuerySet[Transaction]:
    """The transaction list page's rows: decisions and the case each flagged one opened,
    newest first, in one query."""
    return transactions_with_decisions().select_related("case")
