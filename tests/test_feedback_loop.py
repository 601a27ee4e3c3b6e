"""The whole loop of the product on PostgreSQL + Redis + a real Celery worker: a transaction is
flagged, the alert e-mail reaches an SMTP server, an investigator rejects the case, the label
is stored, retraining produces a challenger, the comparison is recorded, and the promotion
follows the rule."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from alerts.models import AlertDelivery
from alerts.services import alert_subscription_create
from cases.models import Case, FeedbackLabel
from detection.model_training import models_train
from detection.models import (
    ModelVersion,
    RetrainingDecision,
    RetrainingRun,
    RetrainingStatus,
    RetrainingTrigger,
)
from detection.retraining.promotion import PromotionRule, promotion_decision
from detection.retraining.service import retraining_run_create
from detection.tasks import retrain_models
from secureflow.celery import app
from tests.alerts.conftest import smtp_server  # noqa: F401 - fixture
from tests.conftest import require, wait_for
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank
from transactions.models import Transaction


def post(api, external_id: str, amount: str, when: datetime) -> dict:
    response = api.post(
        "/api/v1/transactions/",
        {
            "id": external_id,
            "timestamp": when.isoformat(),
            "account": "AE-LOOP-1",
            "customer": "C-LOOP",
            "counterparty": "NEW-PAYEE-LOOP",
            "counterparty_country": "NG",
            "amount": amount,
            "transfer_type": "S",
            "country": "NG",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_flag_alert_decide_label_retrain_promote(
    investigator,
    investigator_api,
    admin_user_sf,
    smtp_server,  # noqa: F811
    redis_broker,
    celery_worker_factory,
    tmp_path,
    settings,
):
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    end = timezone.localdate() + timedelta(days=1)
    bulk_load_frame(generate_demo_bank(customers=300, days=60, seed=11, end=end).transactions)
    # the champion in production: an isolation forest of the first ten days only
    first = Transaction.objects.order_by("occurred_at").first().occurred_at
    champion = models_train(
        until=first + timedelta(days=10),
        seed=1,
        train_options={"kinds": ["isolation_forest"], "if_n_estimators": 30},
    )
    worker = celery_worker_factory(
        redis_broker,
        SECUREFLOW_MODEL_DIR=str(tmp_path / "models"),
        OMP_NUM_THREADS="1",
        **smtp_server.env(),
    )
    alert_subscription_create(user=investigator, channel="email", destination="ivy@bank.test")

    # 1. Three overseas transfers in thirty seconds: the third is blocked.
    now = datetime.now(UTC).replace(microsecond=0)
    post(investigator_api, "LOOP-1", "700.00", now)
    post(investigator_api, "LOOP-2", "800.00", now + timedelta(seconds=5))
    blocked = post(investigator_api, "LOOP-3", "42000.00", now + timedelta(seconds=10))
    assert blocked["outcome"] == "block", blocked
    case = Case.objects.get(transaction__external_id="LOOP-3")

    # 2. The alert e-mail reaches the SMTP server through the worker.
    mail = wait_for(
        lambda: [m for m in smtp_server.messages if "LOOP-3" in m.body],
        timeout=120,
        worker=worker,
    )[0]
    assert mail.rcpt_tos == ["ivy@bank.test"]
    assert "42,000.00" in mail.subject
    assert wait_for(
        lambda: AlertDelivery.objects.filter(transaction=case.transaction, status="sent").exists(),
        timeout=30,
        worker=worker,
    )

    # 3. The investigator rejects the case on its page: confirmed fraud.
    browser = Client()
    browser.force_login(investigator)
    response = browser.post(
        reverse("cases:action", args=[case.pk]),
        {"action": "reject", "note": "Customer never made it.", "version": case.version},
    )
    assert response.status_code == 302, response.content[:500]
    case.refresh_from_db()
    assert case.status == "closed" and case.resolution == "fraud"

    # 4. The decision is stored as a label for retraining.
    label = FeedbackLabel.objects.get(transaction=case.transaction)
    assert label.is_fraud and label.source == "case_decision"

    # 5. Retraining in the worker: a challenger, both measured on the same holdout.
    run = retraining_run_create(trigger=RetrainingTrigger.ADMIN, requested_by=admin_user_sf)
    options = {
        "holdout_days": 21,
        "ae_epochs": 1,
        "seed": 3,
        "train_options": {"supervised_params": {"max_iter": 60}, "min_fraud": 20},
    }
    with app.connection_for_write(redis_broker) as conn:
        retrain_models.apply_async(kwargs={"run_id": run.pk, "options": options}, connection=conn)

    def finished() -> bool:
        run.refresh_from_db()
        return run.status in (RetrainingStatus.FINISHED, RetrainingStatus.FAILED)

    wait_for(finished, timeout=900, interval=1.0, worker=worker)
    assert run.status == RetrainingStatus.FINISHED, run.error
    challengers = set(run.challenger_versions.values_list("id", flat=True))
    assert challengers and not challengers & {v.pk for v in champion}
    assert run.champion_metrics["holdout_digest"] == run.challenger_metrics["holdout_digest"]
    assert run.champion_metrics["transactions"] == run.challenger_metrics["transactions"] > 0

    # 6. The promotion follows the rule, on the recorded metrics.
    expected = promotion_decision(
        champion=run.champion_metrics, challenger=run.challenger_metrics, rule=PromotionRule()
    )
    assert run.reason == expected.reason
    active = set(ModelVersion.objects.filter(is_active=True).values_list("id", flat=True))
    if expected.promote:
        assert run.decision == RetrainingDecision.PROMOTED and active == challengers
    else:
        assert run.decision == RetrainingDecision.KEPT
        assert active == {v.pk for v in champion}
    assert RetrainingRun.objects.count() == 1
