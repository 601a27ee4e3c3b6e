"""Training runs as a Celery task in a real worker process (Redis broker, PostgreSQL)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from detection.models import ModelVersion
from detection.tasks import train_models
from secureflow.celery import app
from tests.conftest import require, wait_for
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_trains_and_activates_model_versions(redis_broker, celery_worker_factory, tmp_path):
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    bank = generate_demo_bank(
        customers=220, days=50, seed=5, end=timezone.localdate() + timedelta(days=1)
    )
    bulk_load_frame(bank.transactions)
    broker = redis_broker
    with app.connection_for_write(broker) as conn:
        worker = celery_worker_factory(broker, SECUREFLOW_MODEL_DIR=str(tmp_path / "models"))
        train_models.apply_async(kwargs={"seed": 3, "ae_epochs": 2}, connection=conn)
    wait_for(
        lambda: ModelVersion.objects.filter(is_active=True).count() == 3,
        timeout=600,
        interval=1.0,
        worker=worker,
    )
    kinds = set(ModelVersion.objects.filter(is_active=True).values_list("kind", flat=True))
    assert kinds == {"isolation_forest", "autoencoder", "supervised"}
    assert all(
        path.startswith(str(tmp_path))
        for path in ModelVersion.objects.values_list("artifact_path", flat=True)
    )
