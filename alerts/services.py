"""Writes for the alerts app: subscriptions, organisation rules, and alert deliveries
(raised when a transaction is scored, sent by the Celery task, retried, requeued).

Delivery rules:
- One alert per transaction, channel and destination (a unique constraint; scoring the
  same transaction again raises nothing new).
- Quiet hours: an alert that falls in a subscriber's quiet hours is suppressed (reason
  "quiet hours") unless the transaction was blocked; blocked transactions always go out.
- Rate limit: at most SECUREFLOW_ALERT_RATE_LIMIT alerts per channel and destination in
  SECUREFLOW_ALERT_RATE_WINDOW_SECONDS; the ones over it are suppressed (reason "rate
  limited") and shown in the delivery log, not sent later.
- Sending is at least once: a delivery is claimed (status "sending") before the network
  call and marked sent after it; a sent, failed or suppressed delivery is never sent again,
  whatever the broker redelivers. Only a worker that dies mid-send leaves a claim, which
  expires after a lease so the alert still goes out (receivers can drop a repeat by the
  delivery id they are given).
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.audience import AlertAudience
from alerts.choices import AlertChannel, DeliveryStatus, SuppressionReason
from alerts.conf import alert_settings, retry_delay
from alerts.destinations import destination_refusal, in_quiet_hours, new_webhook_secret
from alerts.models import AlertDelivery, AlertRule, AlertSubscription, default_time_zone
from alerts.selectors import (
    AlertTarget,
    alert_targets_for_scores,
    deliveries_due,
    existing_delivery_keys,
    recent_delivery_counts,
)
from detection.models import TransactionScore

logger = logging.getLogger(__name__)

SUBSCRIPTION_FIELDS = frozenset(
    {
        "channel",
        "destination",
        "min_risk",
        "include_blocked",
        "transfer_types",
        "min_amount",
        "quiet_hours_start",
        "quiet_hours_end",
        "time_zone",
        "is_active",
    }
)
RULE_FIELDS = frozenset(
    {
        "name",
        "channel",
        "recipient_group",
        "destinations",
        "min_risk",
        "include_blocked",
        "transfer_types",
        "min_amount",
        "is_active",
    }
)


# -- subscriptions -------------------------------------------------------------------------
@transaction.atomic
def alert_subscription_create(
    *,
    user: AbstractBaseUser,
    channel: str,
    destination: str,
    min_risk: float = 0.90,
    include_blocked: bool = True,
    transfer_types: str = "",
    min_amount: Decimal | None = None,
    quiet_hours_start: time | None = None,
    quiet_hours_end: time | None = None,
    time_zone: str = "",
    is_active: bool = True,
) -> AlertSubscription:
    """A new subscription for `user` (a webhook gets its own signing secret)."""
    subscription = AlertSubscription(
        user=user,
        channel=channel,
        destination=destination,
        min_risk=min_risk,
        include_blocked=include_blocked,
        transfer_types=transfer_types or "",
        min_amount=min_amount,
        quiet_hours_start=quiet_hours_start,
        quiet_hours_end=quiet_hours_end,
        time_zone=time_zone or default_time_zone(),
        is_active=is_active,
    )
    if channel == AlertChannel.WEBHOOK:
        subscription.webhook_secret = new_webhook_secret()
    subscription.full_clean()
    subscription.save()
    return subscription


@transaction.atomic
def alert_subscription_update(
    *, subscription: AlertSubscription, rotate_webhook_secret: bool = False, **fields: Any
) -> AlertSubscription:
    unknown = set(fields) - SUBSCRIPTION_FIELDS
    if unknown:
        raise TypeError(f"Not a subscription field: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(subscription, name, value)
    subscription.transfer_types = subscription.transfer_types or ""
    subscription.time_zone = subscription.time_zone or default_time_zone()
    if subscription.channel == AlertChannel.WEBHOOK and (
        rotate_webhook_secret or not subscription.webhook_secret
    ):
        subscription.webhook_secret = new_webhook_secret()
    subscription.full_clean()
    subscription.save()
    return subscription


@transaction.atomic
def alert_subscription_delete(*, subscription: AlertSubscription) -> None:
    """Deliveries already raised stay in the log (they lose the link to the subscription)."""
    subscription.delete()


# -- organisation rules --------------------------------------------------------------------
@transaction.atomic
def alert_rule_create(
    *,
    created_by: AbstractBaseUser | None,
    name: str,
    channel: str,
    recipient_group: Group | None = None,
    destinations: str = "",
    min_risk: float = 0.90,
    include_blocked: bool = True,
    transfer_types: str = "",
    min_amount: Decimal | None = None,
    is_active: bool = True,
) -> AlertRule:
    rule = AlertRule(
        created_by=created_by,
        name=name,
        channel=channel,
        recipient_group=recipient_group,
        destinations=destinations or "",
        min_risk=min_risk,
        include_blocked=include_blocked,
        transfer_types=transfer_types or "",
        min_amount=min_amount,
        is_active=is_active,
    )
    if channel == AlertChannel.WEBHOOK:
        rule.webhook_secret = new_webhook_secret()
    rule.full_clean()
    rule.save()
    return rule


@transaction.atomic
def alert_rule_update(
    *, rule: AlertRule, rotate_webhook_secret: bool = False, **fields: Any
) -> AlertRule:
    unknown = set(fields) - RULE_FIELDS
    if unknown:
        raise TypeError(f"Not a rule field: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.transfer_types = rule.transfer_types or ""
    rule.destinations = rule.destinations or ""
    if rule.channel == AlertChannel.WEBHOOK and (rotate_webhook_secret or not rule.webhook_secret):
        rule.webhook_secret = new_webhook_secret()
    rule.full_clean()
    rule.save()
    return rule


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule) -> None:
    rule.delete()


# -- raising alerts ------------------------------------------------------------------------
def _enqueue_on_commit(delivery_ids: list[int]) -> None:
    from alerts.tasks import enqueue_deliveries

    if delivery_ids:
        transaction.on_commit(partial(enqueue_deliveries, delivery_ids), robust=True)


def alert_deliveries_create(
    *,
    scores: Sequence[TransactionScore],
    now: datetime | None = None,
    audience: AlertAudience | None = None,
) -> list[int]:
    """Raise the alerts for scored transactions (transaction loaded on each score): one
    AlertDelivery per matching destination, queued, or suppressed by quiet hours or the
    rate limit. The queued ones are handed to the worker when the transaction commits.
    Returns the ids of the queued deliveries. `audience`: the subscriptions and rules to
    match (read now by default). Nothing touches the database when nobody matches."""
    targets_by_score = alert_targets_for_scores(scores, audience=audience)
    if not targets_by_score:
        return []
    with transaction.atomic():
        return _deliveries_create(scores, targets_by_score, now=now or timezone.now())


def _deliveries_create(
    scores: Sequence[TransactionScore],
    targets_by_score: dict[int, list[AlertTarget]],
    *,
    now: datetime,
) -> list[int]:
    conf = alert_settings()
    scores_by_id = {score.pk: score for score in scores}
    transaction_ids = {scores_by_id[pk].transaction_id for pk in targets_by_score}
    taken = existing_delivery_keys(transaction_ids=transaction_ids)
    pending: list[AlertDelivery] = []
    for score_id, targets in targets_by_score.items():
        score = scores_by_id[score_id]
        for target in targets:
            key = (score.transaction_id, target.channel, target.destination)
            if key in taken:
                continue
            taken.add(key)
            delivery = AlertDelivery(
                transaction_id=score.transaction_id,
                score=score,
                subscription_id=target.subscription_id,
                rule_id=target.rule_id,
                recipient_id=target.recipient_id,
                channel=target.channel,
                destination=target.destination,
                queued_at=now,
                next_attempt_at=now,
            )
            if score.outcome != "block" and in_quiet_hours(
                target.quiet_hours_start, target.quiet_hours_end, target.time_zone, now
            ):
                _suppress(delivery, SuppressionReason.QUIET_HOURS)
            pending.append(delivery)
    if conf.rate_limit:
        _apply_rate_limit(pending, now=now, limit=conf.rate_limit, window=conf.rate_window_seconds)
    if not pending:
        return []
    AlertDelivery.objects.bulk_create(pending, ignore_conflicts=True)
    queued_keys = {
        (d.transaction_id, d.channel, d.destination)
        for d in pending
        if d.status == DeliveryStatus.QUEUED
    }
    rows = AlertDelivery.objects.filter(
        transaction_id__in=transaction_ids, status=DeliveryStatus.QUEUED, queued_at=now
    ).values_list("pk", "transaction_id", "channel", "destination")
    queued_ids = sorted(pk for pk, *key in rows if tuple(key) in queued_keys)
    _enqueue_on_commit(queued_ids)
    return queued_ids


def _suppress(delivery: AlertDelivery, reason: str) -> None:
    delivery.status = DeliveryStatus.SUPPRESSED
    delivery.reason = reason
    delivery.next_attempt_at = None


def _apply_rate_limit(
    pending: list[AlertDelivery], *, now: datetime, limit: int, window: float
) -> None:
    queued = [d for d in pending if d.status == DeliveryStatus.QUEUED]
    counts = recent_delivery_counts(
        keys={(d.channel, d.destination) for d in queued}, since=now - timedelta(seconds=window)
    )
    for delivery in queued:
        key = (delivery.channel, delivery.destination)
        if counts.get(key, 0) >= limit:
            _suppress(delivery, SuppressionReason.RATE_LIMITED)
        else:
            counts[key] = counts.get(key, 0) + 1


def alert_deliveries_create_safely(
    *, scores: Sequence[TransactionScore], audience: AlertAudience | None = None
) -> list[int]:
    """For the scoring signals: raising alerts must never undo or fail a scoring decision,
    so an error is logged and rolled back to a savepoint."""
    try:
        return alert_deliveries_create(scores=scores, audience=audience)
    except Exception:
        logger.exception(
            "Could not raise alerts for scores %s", [score.pk for score in scores][:20]
        )
        return []


# -- sending -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendResult:
    status: str
    retry_in: float | None = None  # seconds until the next attempt, when one is due


def _signing_secret(delivery: AlertDelivery) -> str:
    if delivery.subscription is not None:
        return delivery.subscription.webhook_secret
    if delivery.rule is not None:
        return delivery.rule.webhook_secret
    return ""


def alert_delivery_send(*, delivery_id: int) -> SendResult:
    """Attempt one delivery: claim it, send it through its channel, record the outcome.

    Not one database transaction on purpose: the network call must not hold a transaction
    (and on SQLite the write lock) open. Each step is a single atomic UPDATE guarded by the
    status, which is what makes a redelivered task harmless."""
    from alerts.channels import DeliveryError, Outgoing, backend_for
    from alerts.messages import alert_message_build

    conf = alert_settings()
    now = timezone.now()
    claimed = (
        AlertDelivery.objects.filter(pk=delivery_id)
        .filter(
            Q(status=DeliveryStatus.QUEUED)
            | Q(
                status=DeliveryStatus.SENDING,
                claimed_at__lt=now - timedelta(seconds=conf.send_lease_seconds),
            )
        )
        .update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        row = AlertDelivery.objects.filter(pk=delivery_id).values("status", "claimed_at").first()
        if row is None:
            return SendResult("missing")
        if row["status"] == DeliveryStatus.SENDING:
            # Another worker holds it; check again once its lease is over.
            remaining = conf.send_lease_seconds - (now - row["claimed_at"]).total_seconds()
            return SendResult(DeliveryStatus.SENDING, retry_in=max(remaining, 1.0))
        return SendResult(row["status"])

    delivery = AlertDelivery.objects.select_related(
        "transaction__account__customer",
        "transaction__counterparty",
        "transaction__score",
        "subscription",
        "rule",
    ).get(pk=delivery_id)
    try:
        # the policy may have changed since the destination was saved
        refusal = destination_refusal(delivery.channel, delivery.destination)
        if refusal:
            raise DeliveryError(f"Refused {delivery.destination}: {refusal}", permanent=True)
        time_zone = delivery.subscription.time_zone if delivery.subscription else ""
        message = alert_message_build(delivery=delivery, time_zone=time_zone)
        reference = backend_for(delivery.channel).send(
            Outgoing(
                delivery_id=delivery.pk,
                destination=delivery.destination,
                message=message,
                signing_secret=_signing_secret(delivery),
            )
        )
    except DeliveryError as exc:
        return _record_failure(delivery, error=str(exc), permanent=exc.permanent, claimed_at=now)
    except Exception as exc:  # an unexpected error is retried like a network error
        logger.exception("Alert delivery %s raised", delivery_id)
        return _record_failure(
            delivery, error=f"{type(exc).__name__}: {exc}", permanent=False, claimed_at=now
        )
    AlertDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, claimed_at=now
    ).update(
        status=DeliveryStatus.SENT,
        sent_at=timezone.now(),
        provider_reference=(reference or "")[:255],
        payload={**message.as_payload(), "data": message.data},
        next_attempt_at=None,
    )
    return SendResult(DeliveryStatus.SENT)


def _record_failure(
    delivery: AlertDelivery, *, error: str, permanent: bool, claimed_at: datetime
) -> SendResult:
    conf = alert_settings()
    mine = AlertDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, claimed_at=claimed_at
    )
    error = error[:2000]
    if permanent or delivery.attempts >= conf.max_attempts:
        mine.update(status=DeliveryStatus.FAILED, last_error=error, next_attempt_at=None)
        logger.warning(
            "Alert delivery %s failed after %s attempt(s): %s",
            delivery.pk,
            delivery.attempts,
            error,
        )
        return SendResult(DeliveryStatus.FAILED)
    delay = retry_delay(attempts=delivery.attempts)
    mine.update(
        status=DeliveryStatus.QUEUED,
        last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    logger.info(
        "Alert delivery %s attempt %s failed, retrying in %.1f s: %s",
        delivery.pk,
        delivery.attempts,
        delay,
        error,
    )
    return SendResult(DeliveryStatus.QUEUED, retry_in=delay)


@transaction.atomic
def alert_deliveries_retry(*, delivery_ids: Iterable[int]) -> list[int]:
    """Give failed deliveries a new round of attempts (the last error stays visible until
    the next attempt). Other statuses are left alone. Returns the ids requeued."""
    ids = list(
        AlertDelivery.objects.filter(pk__in=list(delivery_ids), status=DeliveryStatus.FAILED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if ids:
        AlertDelivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.QUEUED,
            attempts=0,
            claimed_at=None,
            next_attempt_at=timezone.now(),
        )
        _enqueue_on_commit(ids)
    return ids


@transaction.atomic
def alert_deliveries_requeue_due(*, grace_seconds: float = 120.0, limit: int = 1000) -> list[int]:
    """Hand the worker again the deliveries whose message was lost (queued and overdue) or
    whose worker died mid-send (claim past its lease). Each is requeued at most once per
    grace period."""
    now = timezone.now()
    ids = list(
        deliveries_due(
            now=now,
            grace_seconds=grace_seconds,
            lease_seconds=alert_settings().send_lease_seconds,
        ).values_list("pk", flat=True)[:limit]
    )
    if ids:
        AlertDelivery.objects.filter(pk__in=ids, status=DeliveryStatus.QUEUED).update(
            next_attempt_at=now
        )
        _enqueue_on_commit(ids)
    return ids
