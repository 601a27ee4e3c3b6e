"""What the transaction list page shows, shaped for its template."""

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from detection.models import Outcome
from transactions.choices import Channel, TransactionStatus, TransferType
from transactions.models import Transaction

LIST_URL_NAME = "transactions:transaction_list"


@dataclass(frozen=True)
class TransactionRow:
    """One row of the transaction list, formatted once in Python."""

    external_id: str
    url: str  # the decision page: reasons, contributions, actions
    occurred_at: str  # bank local time
    customer: str
    customer_url: str  # the list narrowed to this customer
    account: str
    account_url: str
    counterparty: str
    counterparty_url: str
    amount: str
    transfer_type: str
    transfer_type_label: str
    channel: str
    country: str
    risk: str
    outcome: str
    outcome_label: str
    status: str
    case_url: str
    case_label: str


def list_url(query: QueryDict, **changes: str | None) -> str:
    """The list with the current filters changed by `changes` (None: left out), from its
    first page unless a `cursor` is among them."""
    data = query.copy()
    data.pop("cursor", None)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    encoded = data.urlencode()
    return f"{reverse(LIST_URL_NAME)}?{encoded}" if encoded else reverse(LIST_URL_NAME)


def transaction_rows(transactions: list[Transaction], *, query: QueryDict) -> list[TransactionRow]:
    outcomes = dict(Outcome.choices)
    statuses = dict(TransactionStatus.choices)
    channels = dict(Channel.choices)
    transfer_types = dict(TransferType.choices)
    rows = []
    for txn in transactions:
        account = txn.account
        customer = account.customer.external_id
        counterparty = txn.counterparty.identifier if txn.counterparty_id else ""
        score = getattr(txn, "score", None)
        try:
            case = txn.case
        except ObjectDoesNotExist:
            case = None
        rows.append(
            TransactionRow(
                external_id=txn.external_id,
                url=reverse("workspace:check-result", kwargs={"external_id": txn.external_id}),
                occurred_at=timezone.localtime(txn.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
                customer=customer,
                customer_url=list_url(query, customer=customer),
                account=account.number,
                account_url=list_url(query, account=account.number),
                counterparty=counterparty,
                counterparty_url=list_url(query, counterparty=counterparty) if counterparty else "",
                amount=f"{txn.currency} {txn.amount:,.2f}",
                transfer_type=txn.transfer_type,
                transfer_type_label=transfer_types.get(txn.transfer_type, ""),
                channel=channels.get(txn.channel, txn.channel),
                country=txn.country,
                risk=f"{score.risk_score:.2f}" if score is not None else "",
                outcome=score.outcome if score is not None else "",
                outcome_label=outcomes.get(score.outcome, score.outcome) if score else "",
                status=statuses.get(txn.status, txn.status),
                case_url=reverse("cases:detail", args=[case.pk]) if case is not None else "",
                case_label=f"Case {case.pk}" if case is not None else "",
            )
        )
    return rows
