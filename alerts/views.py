"""Alert pages: everyone's own subscriptions; admins also the organisation rules and the
delivery log. Each list view serves its full page and, to HTMX, its table partial."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from alerts.conf import alert_settings
from alerts.filtersets import AlertDeliveryFilterSet
from alerts.forms import RuleForm, SubscriptionForm
from alerts.models import AlertRule, AlertSubscription
from alerts.selectors import alert_rules, delivery_log, subscriptions_visible_to
from alerts.services import (
    alert_deliveries_retry,
    alert_rule_create,
    alert_rule_delete,
    alert_rule_update,
    alert_subscription_create,
    alert_subscription_delete,
    alert_subscription_update,
)
from secureflow.core import roles
from secureflow.core.permissions import admin_required, investigator_required

DELIVERIES_PER_PAGE = 50


def _partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


# -- subscriptions -------------------------------------------------------------------------
@investigator_required
def subscription_list(request: HttpRequest) -> HttpResponse:
    conf = alert_settings()
    context = {
        "subscriptions": subscriptions_visible_to(request.user),
        "is_admin": roles.is_admin(request.user),
        "rate_limit": conf.rate_limit,
        "rate_window": int(conf.rate_window_seconds),
    }
    if _partial(request):
        return render(request, "alerts/partials/_subscription_table.html", context)
    return render(request, "alerts/subscription_list.html", context)


def _own_subscription(request: HttpRequest, pk: int) -> AlertSubscription:
    """A subscription the user may change: their own, or any for an admin (404 otherwise,
    so nobody learns which ids exist)."""
    return get_object_or_404(subscriptions_visible_to(request.user), pk=pk)


@investigator_required
def subscription_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    subscription = _own_subscription(request, pk) if pk else None
    initial = {} if subscription else {"channel": "email", "destination": request.user.email}
    form = SubscriptionForm(
        request.POST or None,
        instance=subscription or AlertSubscription(user=request.user),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            if subscription:
                alert_subscription_update(
                    subscription=subscription,
                    rotate_webhook_secret=form.cleaned_data["rotate_webhook_secret"],
                    **form.service_fields(),
                )
                messages.success(request, "Subscription saved.")
            else:
                alert_subscription_create(user=request.user, **form.service_fields())
                messages.success(request, "Subscription created.")
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("alerts:subscriptions")
    return render(
        request,
        "alerts/subscription_form.html",
        {"form": form, "subscription": subscription},
        status=400 if form.errors else 200,
    )


@investigator_required
@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _own_subscription(request, pk)
    alert_subscription_delete(subscription=subscription)
    if _partial(request):
        return HttpResponse("")
    messages.success(request, "Subscription deleted.")
    return redirect("alerts:subscriptions")


# -- organisation rules (admins) ----------------------------------------------------------
@admin_required
def rule_list(request: HttpRequest) -> HttpResponse:
    context = {"rules": alert_rules()}
    if _partial(request):
        return render(request, "alerts/partials/_rule_table.html", context)
    return render(request, "alerts/rule_list.html", context)


@admin_required
def rule_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    rule = get_object_or_404(AlertRule, pk=pk) if pk else None
    form = RuleForm(request.POST or None, instance=rule or AlertRule())
    if request.method == "POST" and form.is_valid():
        try:
            if rule:
                alert_rule_update(
                    rule=rule,
                    rotate_webhook_secret=form.cleaned_data["rotate_webhook_secret"],
                    **form.service_fields(),
                )
                messages.success(request, "Rule saved.")
            else:
                alert_rule_create(created_by=request.user, **form.service_fields())
                messages.success(request, "Rule created.")
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            return redirect("alerts:rules")
    return render(
        request,
        "alerts/rule_form.html",
        {"form": form, "rule": rule},
        status=400 if form.errors else 200,
    )


@admin_required
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    alert_rule_delete(rule=get_object_or_404(AlertRule, pk=pk))
    if _partial(request):
        return HttpResponse("")
    messages.success(request, "Rule deleted.")
    return redirect("alerts:rules")


# -- delivery log (admins) ----------------------------------------------------------------
@admin_required
def delivery_list(request: HttpRequest) -> HttpResponse:
    filterset = AlertDeliveryFilterSet(request.GET or None, queryset=delivery_log())
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else delivery_log()
    page = Paginator(rows, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": filterset, "page": page, "query": query.urlencode()}
    if _partial(request):
        return render(request, "alerts/partials/_delivery_table.html", context)
    return render(request, "alerts/delivery_list.html", context)


@admin_required
@require_POST
def delivery_retry(request: HttpRequest, pk: int) -> HttpResponse:
    if alert_deliveries_retry(delivery_ids=[pk]):
        messages.success(request, "The alert is queued for another round of attempts.")
    else:
        messages.error(request, "Only a failed alert can be retried.")
    return redirect("alerts:deliveries")
