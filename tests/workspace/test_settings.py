"""Settings: admins edit rule limits and thresholds inline, with history; scoring follows."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from detection.models import RuleLimit, RuleLimitChange, TransactionScore
from detection.rules.cache import get_rule_set
from tests.workspace.conftest import HTMX, login
from transactions.models import Transaction

URL = "/settings/"


def edit_url(code: str) -> str:
    return reverse("workspace:limit-edit", args=[code])


def test_anonymous_and_roleless_users_are_kept_out(client, nobody):
    assert client.get(URL).status_code == 302
    assert login(nobody).get(URL).status_code == 403


def test_investigator_reads_limits_but_cannot_edit(investigator):
    client = login(investigator)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="limit-amount_limit_Q"' in html
    assert 'id="limit-review_threshold"' in html
    assert "Only admins can change them" in html
    assert 'id="edit-amount_limit_Q"' not in html
    assert client.get(edit_url("amount_limit_Q")).status_code == 403
    data = {"value": "1", "enabled": "on", "severity": "review", "reason": "try"}
    assert client.post(edit_url("amount_limit_Q"), data).status_code == 403
    assert client.post(edit_url("amount_limit_Q"), data, **HTMX).status_code == 403
    assert RuleLimit.objects.get(code="amount_limit_Q").value == Decimal("10000")
    assert not RuleLimitChange.objects.exists()


def test_settings_links_to_my_alert_subscriptions(investigator):
    html = login(investigator).get(URL).content.decode()
    assert f'id="my-alert-subscriptions" href="{reverse("alerts:subscriptions")}"' in html


def test_admin_edits_a_limit_inline_and_scoring_uses_it(
    admin_user_sf, account, django_capture_on_commit_callbacks
):
    client = login(admin_user_sf)
    page = client.get(URL).content.decode()
    assert f'hx-get="{edit_url("amount_limit_Q")}"' in page

    form = client.get(edit_url("amount_limit_Q"), **HTMX)
    assert form.status_code == 200
    assert 'id="limit-amount-limit-Q-value"' in form.content.decode()
    assert "<html" not in form.content.decode()
    assert get_rule_set().limits["amount_limit_Q"].value == 10000.0

    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(
            edit_url("amount_limit_Q"),
            {"value": "500", "enabled": "on", "severity": "block", "reason": "Card testing wave"},
            **HTMX,
        )
    assert saved.status_code == 200, saved.content
    html = saved.content.decode()
    assert re.search(r'id="limit-amount_limit_Q-value">500 ', html)
    assert 'hx-swap-oob="outerHTML"' in html and "Card testing wave" in html

    change = RuleLimitChange.objects.get()
    assert change.limit.code == "amount_limit_Q"
    assert (change.old_value, change.new_value) == (Decimal("10000"), Decimal("500"))
    assert (change.old_severity, change.new_severity) == ("review", "block")
    assert change.changed_by == admin_user_sf
    assert change.note == "Card testing wave"

    # the rule cache was dropped when the change committed: scoring sees 500 now
    assert get_rule_set().limits["amount_limit_Q"].value == 500.0
    response = client.post(
        "/check/",
        {
            "submission_id": "CHK-AFTER",
            "account": account.number,
            "amount": "600",
            "transfer_type": "Q",
            "country": "AE",
            "occurred_at": "2026-03-20T12:00",
        },
    )
    assert response.status_code == 302
    score = TransactionScore.objects.get(transaction__external_id="CHK-AFTER")
    assert score.outcome == "block"
    assert score.rule_hits[0]["code"] == "amount_limit_Q"
    assert "above the quick payment limit of AED 500" in score.rule_hits[0]["reason"]
    assert Transaction.objects.get(external_id="CHK-AFTER").status == "blocked"

    history = client.get(URL).content.decode()
    assert re.search(r"10,000 → <strong>500</strong>", history)
    assert "Card testing wave" in history


def test_edit_without_javascript_redirects_back(admin_user_sf):
    client = login(admin_user_sf)
    page = client.get(edit_url("velocity_10m"))
    assert page.status_code == 200 and "<html" in page.content.decode()
    response = client.post(
        edit_url("velocity_10m"),
        {"value": "7", "enabled": "on", "severity": "review", "reason": "Salary day bursts"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("/settings/#limit-velocity_10m")
    assert RuleLimit.objects.get(code="velocity_10m").value == Decimal("7")


@pytest.mark.parametrize(
    ("code", "data", "field", "message"),
    [
        ("review_threshold", {"value": "0.95"}, "value", "cannot be above the block threshold"),
        ("block_threshold", {"value": "1.5"}, "value", "between 0 and 1"),
        ("velocity_30s", {"value": "2.5"}, "value", "use a whole number"),
        ("amount_limit_S", {"value": "-1"}, "value", "cannot be negative"),
        ("dynamic_limit_k", {"value": "0"}, "value", "k must be above 0"),
        ("amount_limit_S", {"value": "abc"}, "value", "Enter a number"),
        ("amount_limit_S", {"value": "100", "reason": ""}, "reason", "Say why the limit changes"),
    ],
)
def test_invalid_changes_are_refused_next_to_the_field(admin_user_sf, code, data, field, message):
    before = RuleLimit.objects.get(code=code).value
    payload = {"enabled": "on", "severity": "review", "reason": "test", **data}
    response = login(admin_user_sf).post(edit_url(code), payload, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    errors = re.findall(rf'id="limit-{code}-{field}-error">([^<]*)<', html)
    assert any(message in e for e in errors), html
    assert RuleLimit.objects.get(code=code).value == before
    assert not RuleLimitChange.objects.exists()


def test_saving_the_current_value_changes_nothing(admin_user_sf):
    limit = RuleLimit.objects.get(code="monthly_cap")
    response = login(admin_user_sf).post(
        edit_url("monthly_cap"),
        {"value": str(limit.value), "enabled": "on", "severity": limit.severity, "reason": "x"},
        **HTMX,
    )
    assert response.status_code == 422
    assert "Nothing changed" in response.content.decode()
    assert not RuleLimitChange.objects.exists()


def test_disabling_a_threshold_is_recorded(admin_user_sf, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(admin_user_sf).post(
            edit_url("block_threshold"), {"value": "0.9", "reason": "Rules only for a week"}
        )
    assert response.status_code == 302
    change = RuleLimitChange.objects.get()
    assert (change.old_enabled, change.new_enabled) == (True, False)
    assert get_rule_set().block_threshold == float("inf")


def test_history_filter_and_cancel(admin_user_sf):
    client = login(admin_user_sf)
    client.post(
        edit_url("velocity_1h"),
        {"value": "20", "enabled": "on", "severity": "review", "reason": "one"},
    )
    client.post(
        edit_url("monthly_cap"),
        {"value": "150000", "enabled": "on", "severity": "review", "reason": "two"},
    )
    only = client.get(URL, {"limit": "monthly_cap", "part": "history"}, **HTMX).content.decode()
    assert "<html" not in only
    assert "two" in only and ">one<" not in only
    assert len(re.findall(r'<tr data-code="monthly_cap">', only)) == 1
    cancel = client.get(reverse("workspace:limit-row", args=["monthly_cap"]), **HTMX)
    assert 'id="limit-monthly_cap"' in cancel.content.decode()
    assert client.get(reverse("workspace:limit-row", args=["nope"]), **HTMX).status_code == 404
