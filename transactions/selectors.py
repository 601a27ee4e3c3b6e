"""Reads for the transactions app."""

from datetime import datetime

import numpy as np
import pandas as pd
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


FRAME_COLUMNS = (
    "pk",
    "id",
    "timestamp",
    "customer",
    "account",
    "counterparty",
    "amount",
    "currency",
    "transfer_type",
    "country",
    "channel",
    "home_country",
    "counterparty_country",
    "label",
    "scenario",
)


def transactions_frame(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    account_ids: list[int] | None = None,
) -> pd.DataFrame:
    """Stored transactions in the canonical frame layout (oldest first), for training,
    batch features and evaluation. `pk` is the database id, `id` the external id; `label`
    is the label that came with the data (NaN when none)."""

    qs = Transaction.objects.all()
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    if account_ids is not None:
        qs = qs.filter(account_id__in=account_ids)
    rows = qs.order_by("occurred_at", "id").values_list(
        "id",
        "external_id",
        "occurred_at",
        "account__customer__external_id",
        "account__number",
        "counterparty__identifier",
        "amount",
        "currency",
        "transfer_type",
        "country",
        "channel",
        "account__customer__home_country",
        "counterparty__country",
        "source_label",
        "source_scenario",
    )
    frame = pd.DataFrame(list(rows), columns=list(FRAME_COLUMNS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["amount"] = frame["amount"].astype(float)
    for column in ("counterparty", "counterparty_country"):
        frame[column] = frame[column].fillna("")
    frame["label"] = frame["label"].map({True: 1.0, False: 0.0}).astype(float)
    frame["pk"] = frame["pk"].astype(np.int64)
    return frame
