"""Reads for the alerts app: who is alerted about a score, delivery lists and counts."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from alerts.audience import AlertAudience, alert_audience
from alerts.choices import AlertChannel, DeliveryStatus
from alerts.models import AlertDelivery, AlertFilters, AlertRule, AlertSubscription
from detection.models import TransactionScore
from secureflow.core import roles


@dataclass(frozen=True)
class AlertTarget:
    """One destination a scored transaction should be alerted to, and why."""

    channel: str
    destination: str
    subscription_id: int | None = None
    rule_id: int | None = None
    recipient_id: int | None = None
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    time_zone: str = ""


def filters_match(
    filters: AlertFilters, *, risk_score: float, outcome: str, amount: Decimal, transfer_type: str
) -> bool:
    """Whether a scored transaction passes a subscription's or rule's filters."""
    if not (risk_score >= filters.min_risk or (filters.include_blocked and outcome == "block")):
        return False
    if filters.transfer_types and (
        not transfer_type or transfer_type not in filters.transfer_types
    ):
        return False
    return filters.min_amount is None or amount >= filters.min_amount


def alert_targets_for_scores(
    scores: Sequence[TransactionScore], *, audience: AlertAudience | None = None
) -> dict[int, list[AlertTarget]]:
    """The destinations each score (by id) should be alerted to: organisation rules first,
    then personal subscriptions; one target per channel and destination. `audience`
    defaults to the subscriptions and rules read now."""
    from alerts.destinations import canonical_destination

    if audience is None:
        audience = alert_audience()
    subscriptions, rules = audience.subscriptions, audience.rules
    group_emails = audience.group_emails
    if not subscriptions and not rules:
        return {}
    out: dict[int, list[AlertTarget]] = {}
    for score in scores:
        if not audience.may_want(risk_score=score.risk_score, outcome=score.outcome):
            continue
        txn = score.transaction
        facts = {
            "risk_score": score.risk_score,
            "outcome": score.outcome,
            "amount": txn.amount,
            "transfer_type": txn.transfer_type,
        }
        targets: dict[tuple[str, str], AlertTarget] = {}
        for rule in rules:
            if not filters_match(rule, **facts):
                continue
            for destination in rule.destination_list():
                targets.setdefault(
                    (rule.channel, destination),
                    AlertTarget(rule.channel, destination, rule_id=rule.pk),
                )
            for user_id, email in group_emails.get(rule.recipient_group_id, []):
                try:
                    email = canonical_destination(AlertChannel.EMAIL, email)
                except ValidationError:  # a member with a malformed address is skipped
                    continue
                # an address outside the allowed domains gets a delivery that fails, with
                # the reason in the delivery log (alert_delivery_send), not silence
                targets.setdefault(
                    (AlertChannel.EMAIL, email),
                    AlertTarget(AlertChannel.EMAIL, email, rule_id=rule.pk, recipient_id=user_id),
                )
        for sub in subscriptions:
            if not filters_match(sub, **facts):
                continue
            targets.setdefault(
                (sub.channel, sub.destination),
                AlertTarget(
                    sub.channel,
                    sub.destination,
                    subscription_id=sub.pk,
                    recipient_id=sub.user_id,
                    quiet_hours_start=sub.quiet_hours_start,
                    quiet_hours_end=sub.quiet_hours_end,
                    time_zone=sub.time_zone,
                ),
            )
        if targets:
            out[score.pk] = list(targets.values())
    return out


def existing_delivery_keys(*, transaction_ids: Iterable[int]) -> set[tuple[int, str, str]]:
    return set(
        AlertDelivery.objects.filter(transaction_id__in=list(transaction_ids)).values_list(
            "transaction_id", "channel", "destination"
        )
    )


def recent_delivery_counts(
    *, keys: Iterable[tuple[str, str]], since: datetime
) -> dict[tuple[str, str], int]:
    """Alerts raised (not suppressed) per (channel, destination) since `since`."""
    keys = set(keys)
    if not keys:
        return {}
    rows = (
        AlertDelivery.objects.filter(
            destination__in={d for _, d in keys},
            channel__in={c for c, _ in keys},
            queued_at__gte=since,
        )
        .exclude(status=DeliveryStatus.SUPPRESSED)
        .values_list("channel", "destination")
        .annotate(n=Count("id"))
    )
    return {(c, d): n for c, d, n in rows if (c, d) in keys}


def case_for_transaction(*, transaction_id: int) -> int | None:
    """The id of the case opened for a transaction, when the cases app keeps one."""
    try:
        case_model = apps.get_model("cases", "Case")
    except LookupError:
        return None
    names = {f.name for f in case_model._meta.get_fields()}
    if "transaction" in names:
        lookup = {"transaction_id": transaction_id}
    elif "transactions" in names:
        lookup = {"transactions": transaction_id}
    else:
        return None
    return case_model.objects.filter(**lookup).order_by("pk").values_list("pk", flat=True).first()


def subscriptions_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet:
    """Admins see every subscription, everyone else their own."""
    qs = AlertSubscription.objects.select_related("user")
    if roles.is_admin(user):
        return qs
    return qs.filter(user=user)


def alert_rules() -> QuerySet[AlertRule]:
    return AlertRule.objects.select_related("recipient_group", "created_by")


def delivery_log() -> QuerySet[AlertDelivery]:
    return AlertDelivery.objects.select_related(
        "transaction", "subscription", "rule", "recipient"
    ).order_by("-queued_at", "-id")


def deliveries_due(*, now: datetime, grace_seconds: float, lease_seconds: float) -> QuerySet:
    """Deliveries whose task should have run by now: queued past their due time plus a
    grace period (the message was lost, e.g. the broker was down at commit), or stuck in
    sending past the lease (the worker died mid-send)."""
    return AlertDelivery.objects.filter(
        Q(status=DeliveryStatus.QUEUED, next_attempt_at__lte=now - timedelta(seconds=grace_seconds))
        | Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - timedelta(seconds=lease_seconds))
    ).order_by("id")


def alert_delivery_counts(date_from: date, date_to: date) -> QuerySet:
    """Alerts per day (bank local time, by when they were raised) and status, for
    `date_from` .. `date_to` inclusive: rows of {"day", "status", "count"}."""
    tz = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(date_from, time.min), tz)
    end = timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min), tz)
    return (
        AlertDelivery.objects.filter(queued_at__gte=start, queued_at__lt=end)
        .annotate(day=TruncDate("queued_at", tzinfo=tz))
        .values("day", "status")
        .annotate(count=Count("id"))
        .order_by("day", "status")
    )
