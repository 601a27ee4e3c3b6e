"""What an alert says: one plain-language text for e-mail, a short one for SMS and a JSON
document for webhooks, built from the transaction and its stored score."""

import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from alerts.conf import alert_settings
from alerts.selectors import case_for_transaction
from transactions.choices import TransferType

OUTCOME_PHRASES = {
    "block": "was blocked",
    "review": "was sent for review",
    "approve": "was approved but scored above the alert threshold",
}
SMS_MAX_CHARS = 320
WEBHOOK_EVENT = "transaction.flagged"


@dataclass(frozen=True)
class AlertMessage:
    subject: str
    text: str  # e-mail body
    short_text: str  # SMS
    data: dict[str, Any] = field(default_factory=dict)  # webhook body
    transaction_id: str = ""
    link: str = ""

    def as_payload(self) -> dict[str, Any]:
        return {"subject": self.subject, "text": self.text, "short_text": self.short_text}


def format_amount(amount: Any, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


def transaction_link(*, transaction_pk: int, external_id: str) -> tuple[str, int | None]:
    """The case page when a case exists, else the transaction's API detail."""
    base = alert_settings().base_url
    case_id = case_for_transaction(transaction_id=transaction_pk)
    if case_id is not None:
        return f"{base}/cases/{case_id}/", case_id
    from urllib.parse import quote

    return f"{base}/api/v1/transactions/{quote(external_id, safe='')}/", None


def alert_message_build(*, delivery: Any, time_zone: str = "") -> AlertMessage:
    """The message for an AlertDelivery (its transaction, account and score loaded)."""
    txn = delivery.transaction
    score = getattr(txn, "score", None)
    risk = float(score.risk_score) if score else 0.0
    outcome = score.outcome if score else ""
    reasons = list(score.reasons[:3]) if score else []
    rule_codes = [hit.get("code", "") for hit in (score.rule_hits if score else [])]
    account = txn.account
    customer = account.customer
    amount = format_amount(txn.amount, txn.currency)
    transfer = dict(TransferType.choices).get(txn.transfer_type, "")
    tz = zoneinfo.ZoneInfo(time_zone or settings.TIME_ZONE)
    when = timezone.localtime(txn.occurred_at, tz)
    link, case_id = transaction_link(transaction_pk=txn.pk, external_id=txn.external_id)
    counterparty = txn.counterparty
    happened = OUTCOME_PHRASES.get(outcome, "was flagged")

    subject = (
        f"SecureFlow alert: {outcome or 'flagged'} {amount} from account {account.number} "
        f"(risk {risk:.2f})"
    )
    subject = " ".join(subject.split())  # one line, whatever the bank's ids contain
    lines = [
        f"Transaction {txn.external_id} {happened} by SecureFlow.",
        "",
        f"Amount:      {amount}" + (f" ({transfer.lower()})" if transfer else ""),
        f"Account:     {account.number} ({customer.name})",
    ]
    if counterparty is not None:
        where = f", {counterparty.country}" if counterparty.country else ""
        lines.append(f"To:          {counterparty.name or counterparty.identifier}{where}")
    if txn.country:
        lines.append(f"Country:     {txn.country}")
    lines += [
        f"When:        {when:%Y-%m-%d %H:%M:%S} ({tz.key})",
        f"Risk score:  {risk:.2f} (outcome: {outcome or 'unknown'})",
        "",
    ]
    if reasons:
        lines.append("Why:")
        lines += [f"  - {reason}" for reason in reasons]
        lines.append("")
    lines.append(("Open the case: " if case_id else "Transaction details: ") + link)
    text = "\n".join(lines) + "\n"

    top = f" Why: {reasons[0]}" if reasons else ""
    short = f"SecureFlow: {amount} from acct {account.number} {happened}, risk {risk:.2f}.{top}"
    if len(short) + len(link) + 1 > SMS_MAX_CHARS:
        short = short[: SMS_MAX_CHARS - len(link) - 4].rstrip() + "..."
    short = f"{short} {link}"

    data = {
        "event": WEBHOOK_EVENT,
        "delivery_id": delivery.pk,
        "transaction": {
            "id": txn.external_id,
            "amount": str(txn.amount),
            "currency": txn.currency,
            "account": account.number,
            "customer": customer.external_id,
            "counterparty": counterparty.identifier if counterparty else None,
            "transfer_type": txn.transfer_type or None,
            "country": txn.country or None,
            "channel": txn.channel or None,
            "occurred_at": txn.occurred_at.isoformat(),
        },
        "risk_score": round(risk, 6),
        "outcome": outcome,
        "reasons": reasons,
        "rule_hits": [code for code in rule_codes if code],
        "case_id": case_id,
        "link": link,
    }
    return AlertMessage(
        subject=subject,
        text=text,
        short_text=short,
        data=data,
        transaction_id=txn.external_id,
        link=link,
    )
