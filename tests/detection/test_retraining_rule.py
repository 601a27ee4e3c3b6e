"""The promotion rule on given holdout metrics."""

import pytest

from detection.retraining.promotion import PromotionRule, promotion_decision


def m(ap, fpr, fraud=20, n=2000):
    return {
        "average_precision": ap,
        "false_positive_rate": fpr,
        "fraud": fraud,
        "transactions": n,
        "fraud_rate": fraud / n if n else None,
    }


@pytest.mark.parametrize(
    ("champion", "challenger", "rule", "promote", "text"),
    [
        (
            m(0.88, 0.010),
            m(0.91, 0.008),
            PromotionRule(),
            True,
            "challenger AP 0.910 vs champion 0.880 (gain +0.030 ≥ 0.000) at FPR 0.80% ≤ 1.00%",
        ),
        (m(0.88, 0.010), m(0.91, 0.010), PromotionRule(), True, ": promoted"),
        (m(0.88, 0.010), m(0.88, 0.005), PromotionRule(), False, "gain +0.000 is not above 0"),
        (m(0.88, 0.010), m(0.85, 0.005), PromotionRule(), False, "kept champion because"),
        (
            m(0.88, 0.010),
            m(0.91, 0.012),
            PromotionRule(),
            False,
            "FPR at the operating threshold 1.20% > 1.00%",
        ),
        (m(0.88, 0.010), m(0.91, 0.012), PromotionRule(max_fpr_increase=0.005), True, "promoted"),
        (
            m(0.88, 0.010),
            m(0.91, 0.008),
            PromotionRule(min_gain=0.05),
            False,
            "at least the minimum gain 0.050",
        ),
        (None, m(0.40, 0.02), PromotionRule(min_average_precision=0.1), True, "no champion yet"),
        (None, m(0.05, 0.02), PromotionRule(min_average_precision=0.1), False, "below the minimum"),
        (
            None,
            m(0.008, 0.02, fraud=20),
            PromotionRule(min_average_precision=0.0),
            False,
            "not above the holdout fraud rate",
        ),
        (
            m(0.88, 0.010),
            m(None, None, fraud=0),
            PromotionRule(),
            False,
            "the holdout has 0 fraud and 2000 legitimate",
        ),
        (m(None, 0.01), m(0.5, 0.01), PromotionRule(), False, "metrics are missing"),
    ],
)
def test_rule(champion, challenger, rule, promote, text):
    decision = promotion_decision(champion=champion, challenger=challenger, rule=rule)
    assert decision.promote is promote
    assert text in decision.reason
    assert decision.reason.endswith(": promoted") is promote


def test_rule_from_settings(settings):
    settings.SECUREFLOW_PROMOTION_MIN_GAIN = 0.02
    settings.SECUREFLOW_PROMOTION_MAX_FPR_INCREASE = 0.001
    settings.SECUREFLOW_PROMOTION_MIN_AP = 0.3
    assert PromotionRule.from_settings() == PromotionRule(0.02, 0.001, 0.3)


def test_beat_schedule_follows_the_configured_interval():
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import django; django.setup(); from django.conf import settings; "
        "e = settings.CELERY_BEAT_SCHEDULE.get('retrain-models'); "
        "print(e and (e['task'], e['schedule']))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "secureflow.settings.test"}
    for hours, expected in (("6", "('detection.tasks.retrain_models', 21600.0)"), ("0", "None")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, "SECUREFLOW_RETRAIN_SCHEDULE_HOURS": hours},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        assert out.strip().splitlines()[-1] == expected
