"""Rule limits as data: evaluation at the boundaries, reasons, editing with history."""

import time
from decimal import Decimal

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from detection.features.spec import FEATURE_INDEX, NEUTRAL_VALUES
from detection.models import RuleLimit, RuleLimitChange
from detection.rules.cache import get_rule_set, invalidate_rule_set
from detection.rules.defaults import DEFAULTS_BY_CODE
from detection.rules.engine import Limit, RuleSet, format_money, ordinal
from detection.services import rule_limit_update


def vector(**values: float) -> np.ndarray:
    features = np.array(NEUTRAL_VALUES, dtype=np.float64)
    for name, value in values.items():
        features[FEATURE_INDEX[name]] = value
    return features


def hits_of(rule_set: RuleSet, features: np.ndarray, amount: float = 100.0, tt: str = "L"):
    return {h.code: h for h in rule_set.evaluate(features, amount=amount, transfer_type=tt)}


@pytest.fixture(autouse=True)
def fresh_rule_cache():
    """The compiled rule set is cached per process: keep tests from seeing each other's."""
    invalidate_rule_set()
    yield
    invalidate_rule_set()


@pytest.fixture
def rules() -> RuleSet:
    return RuleSet.defaults()


@pytest.mark.parametrize(
    ("feature", "limit", "code", "window"),
    [
        ("velocity_count_30s", 2, "velocity_30s", "30 seconds"),
        ("velocity_count_10m", 5, "velocity_10m", "10 minutes"),
        ("velocity_count_1h", 15, "velocity_1h", "1 hour"),
    ],
)
def test_velocity_rules_fire_above_the_limit_only(rules, feature, limit, code, window):
    assert code not in hits_of(rules, vector(**{feature: limit}))
    hit = hits_of(rules, vector(**{feature: limit + 1}))[code]
    assert hit.reason == f"{ordinal(limit + 1)} transfer in {window}; limit is {limit}"
    assert (hit.observed, hit.limit) == (limit + 1, limit)


def test_velocity_reason_reads_naturally(rules):
    hit = hits_of(rules, vector(velocity_count_30s=3))["velocity_30s"]
    assert hit.reason == "3rd transfer in 30 seconds; limit is 2"
    assert hit.severity == "block"
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("tt", "limit", "name"),
    [
        ("O", 200_000, "own-account transfer"),
        ("I", 100_000, "internal transfer"),
        ("L", 50_000, "local transfer"),
        ("Q", 10_000, "quick payment"),
        ("S", 25_000, "overseas transfer"),
    ],
)
def test_amount_limit_per_transfer_type(rules, tt, limit, name):
    code = f"amount_limit_{tt}"
    assert code not in hits_of(rules, vector(), amount=limit, tt=tt)
    hit = hits_of(rules, vector(), amount=limit + 0.01, tt=tt)[code]
    assert hit.severity == "review"
    assert hit.reason == (
        f"Amount {format_money(limit + 0.01)} is above the {name} limit of {format_money(limit)}"
    )


def test_amount_limit_reason_and_other_types(rules):
    hit = hits_of(rules, vector(), amount=48_000, tt="S")["amount_limit_S"]
    assert hit.reason == "Amount AED 48,000 is above the overseas transfer limit of AED 25,000"
    assert not hits_of(rules, vector(), amount=48_000, tt="L")  # local limit is 50,000
    assert not hits_of(rules, vector(), amount=10**9, tt="")  # unknown type: no per-type limit


def test_monthly_cap_counts_this_transfer(rules):
    assert "monthly_cap" not in hits_of(rules, vector(month_to_date_amount=200_000))
    hit = hits_of(rules, vector(month_to_date_amount=215_000))["monthly_cap"]
    assert hit.reason == (
        "Spending this month reaches AED 215,000 with this transfer, above the monthly cap "
        "of AED 200,000"
    )


def test_dynamic_limit_mean_plus_k_std_needs_history(rules):
    history = {"history_amount_mean": 5_000.0, "history_amount_std": 1_825.0}
    # ceiling = 5,000 + 4 x 1,825 = 12,300
    assert "dynamic_limit_k" not in hits_of(rules, vector(history_count=10, **history), 12_300)
    hit = hits_of(rules, vector(history_count=10, **history), 48_000)["dynamic_limit_k"]
    assert hit.reason == (
        "Amount AED 48,000 is above this account's usual ceiling of AED 12,300 (mean + 4 × std)"
    )
    assert hit.limit == pytest.approx(12_300)
    # 9 earlier transactions are not enough history
    assert "dynamic_limit_k" not in hits_of(rules, vector(history_count=9, **history), 48_000)


def test_disabled_rules_do_not_fire_and_thresholds_decide_outcome():
    rules = RuleSet(
        {
            "velocity_30s": Limit(2, False, "block"),
            "amount_limit_S": Limit(25_000, False, "review"),
            "block_threshold": Limit(0.9, False, "block"),
        }
    )
    features = vector(velocity_count_30s=9)
    assert rules.evaluate(features, amount=48_000, transfer_type="S") == []
    assert rules.outcome_for_score(0.99) == "review"  # blocking by score is switched off
    defaults = RuleSet.defaults()
    assert [defaults.outcome_for_score(s) for s in (0.49, 0.5, 0.89, 0.9)] == [
        "approve",
        "review",
        "review",
        "block",
    ]


def test_strongest_severity(rules):
    hits = rules.evaluate(vector(velocity_count_30s=3), amount=48_000, transfer_type="S")
    assert RuleSet.strongest(hits) == "block"
    assert RuleSet.strongest(hits[1:]) == "review"
    assert RuleSet.strongest([]) is None


def test_evaluation_is_fast(rules):
    features = vector(velocity_count_30s=3, history_count=20, history_amount_mean=100.0)
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        rules.evaluate(features, amount=48_000, transfer_type="S")
    per_call_ms = (time.perf_counter() - start) / n * 1000
    assert per_call_ms < 0.1, per_call_ms  # about 0.005 ms on a developer machine


# --- limits in the database --------------------------------------------------------------


@pytest.mark.django_db
def test_defaults_are_created_by_the_data_migration():
    limits = {row.code: row for row in RuleLimit.objects.all()}
    assert limits["velocity_30s"].value == Decimal("2")
    assert limits["velocity_10m"].value == Decimal("5")
    assert limits["velocity_1h"].value == Decimal("15")
    assert limits["dynamic_limit_k"].value == Decimal("4")
    assert limits["review_threshold"].value == Decimal("0.5")
    assert limits["block_threshold"].value == Decimal("0.9")
    assert {f"amount_limit_{t}" for t in "OILQS"} <= set(limits)
    db_rules = RuleSet.from_limits(limits.values())
    assert db_rules.limits == RuleSet.defaults().limits


@pytest.mark.django_db
def test_editing_a_limit_writes_history_and_changes_evaluation(
    admin_user_sf, django_capture_on_commit_callbacks
):
    before = get_rule_set()
    assert "amount_limit_S" in hits_of(before, vector(), 30_000, "S")
    limit = RuleLimit.objects.get(code="amount_limit_S")
    with django_capture_on_commit_callbacks(execute=True):
        rule_limit_update(
            limit=limit,
            value="40000",
            enabled=True,
            changed_by=admin_user_sf,
            note="New corridor agreement",
        )
    change = RuleLimitChange.objects.get(limit=limit)
    assert (change.old_value, change.new_value) == (Decimal("25000"), Decimal("40000"))
    assert (change.old_enabled, change.new_enabled) == (True, True)
    assert change.changed_by == admin_user_sf and change.note == "New corridor agreement"
    limit.refresh_from_db()
    assert limit.updated_by == admin_user_sf

    after = get_rule_set()
    assert after is not before
    assert "amount_limit_S" not in hits_of(after, vector(), 30_000, "S")
    hit = hits_of(after, vector(), 48_000, "S")["amount_limit_S"]
    assert hit.reason.endswith("overseas transfer limit of AED 40,000")


@pytest.mark.django_db
def test_rule_set_cache_notices_changes_from_elsewhere(admin_user_sf):
    first = get_rule_set()
    assert get_rule_set() is first  # compiled once
    limit = RuleLimit.objects.get(code="velocity_30s")
    rule_limit_update(limit=limit, value=3, enabled=True, changed_by=admin_user_sf)
    # another process would not see the on_commit drop: the version check finds it
    reloaded = get_rule_set(max_age=0)
    assert reloaded is not first
    assert "velocity_30s" not in hits_of(reloaded, vector(velocity_count_30s=3))
    assert "velocity_30s" in hits_of(reloaded, vector(velocity_count_30s=4))


@pytest.mark.django_db
def test_disabling_and_severity_changes_are_recorded(admin_user_sf):
    limit = RuleLimit.objects.get(code="velocity_10m")
    rule_limit_update(
        limit=limit, value=5, enabled=False, severity="block", changed_by=admin_user_sf
    )
    change = limit.changes.get()
    assert (change.old_enabled, change.new_enabled) == (True, False)
    assert (change.old_severity, change.new_severity) == ("review", "block")
    rules = RuleSet.from_limits(RuleLimit.objects.all())
    assert "velocity_10m" not in hits_of(rules, vector(velocity_count_10m=50))


@pytest.mark.django_db
def test_unchanged_save_writes_no_history(admin_user_sf):
    limit = RuleLimit.objects.get(code="monthly_cap")
    rule_limit_update(limit=limit, value="200000.00", enabled=True, changed_by=admin_user_sf)
    assert not RuleLimitChange.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "value", "message"),
    [
        ("velocity_30s", "-1", "negative"),
        ("velocity_30s", "2.5", "whole number"),
        ("dynamic_limit_k", "0", "above 0"),
        ("review_threshold", "1.5", "between 0 and 1"),
        ("review_threshold", "0.95", "cannot be above the block threshold"),
        ("block_threshold", "0.4", "cannot be above the block threshold"),
        ("monthly_cap", "lots", "not a number"),
    ],
)
def test_bad_values_are_refused_without_history(admin_user_sf, code, value, message):
    limit = RuleLimit.objects.get(code=code)
    with pytest.raises(ValidationError, match=message):
        rule_limit_update(limit=limit, value=value, enabled=True, changed_by=admin_user_sf)
    assert not RuleLimitChange.objects.exists()
    limit.refresh_from_db()
    assert limit.value == Decimal(DEFAULTS_BY_CODE[code].value)


@pytest.mark.django_db
def test_admin_edit_goes_through_the_service(client, admin_user_sf):
    admin_user_sf.is_superuser = True
    admin_user_sf.save()
    client.force_login(admin_user_sf)
    limit = RuleLimit.objects.get(code="amount_limit_Q")
    url = f"/admin/detection/rulelimit/{limit.pk}/change/"
    assert client.get(url).status_code == 200
    form = {
        "value": "12000",
        "enabled": "on",
        "severity": "review",
        "note": "Raised after review",
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
        "changes-MIN_NUM_FORMS": "0",
        "changes-MAX_NUM_FORMS": "1000",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    change = RuleLimitChange.objects.get(limit=limit)
    assert change.new_value == Decimal("12000") and change.note == "Raised after review"
    assert change.changed_by == admin_user_sf
    # history is shown on the limit's page
    page = client.get(url).content.decode()
    assert "Raised after review" in page
    # a bad value is shown as a form error and changes nothing
    response = client.post(url, {**form, "value": "-5"})
    assert response.status_code == 200 and "cannot be negative" in response.content.decode()
    assert RuleLimitChange.objects.filter(limit=limit).count() == 1


@pytest.mark.django_db
def test_staff_without_the_admin_role_cannot_change_limits_in_django_admin(client, make_user):
    """A staff investigator given the model permission still cannot change a limit: the
    Admin role decides, as on the settings page."""
    from django.contrib.auth.models import Permission

    staff = make_user("stan", "Investigator", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_rulelimit", "view_rulelimit"])
    )
    client.force_login(staff)
    limit = RuleLimit.objects.get(code="amount_limit_Q")
    url = f"/admin/detection/rulelimit/{limit.pk}/change/"
    assert client.get(url).status_code == 200  # may read it
    response = client.post(
        url,
        {
            "value": "1",
            "enabled": "on",
            "severity": "review",
            "note": "x",
            "changes-TOTAL_FORMS": "0",
            "changes-INITIAL_FORMS": "0",
            "changes-MIN_NUM_FORMS": "0",
            "changes-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 403
    limit.refresh_from_db()
    assert limit.value == Decimal(DEFAULTS_BY_CODE["amount_limit_Q"].value)
    assert not RuleLimitChange.objects.filter(limit=limit).exists()
