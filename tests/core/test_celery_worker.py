"""A real Celery worker process consumes the broker and writes to the database."""

import pytest

from secureflow.celery import app
from secureflow.core.models import WorkerHeartbeat
from secureflow.core.tasks import worker_heartbeat
from tests.conftest import require, wait_for


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_worker_on_redis_runs_task_that_writes_database(redis_broker, celery_worker_factory):
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    broker = redis_broker
    with app.connection_for_write(broker) as conn:
        worker = celery_worker_factory(broker)
        worker_heartbeat.apply_async(connection=conn)
    beat = wait_for(lambda: WorkerHeartbeat.objects.first(), timeout=90, worker=worker)
    assert beat.hostname.startswith("test-")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_worker_on_embedded_filesystem_broker(celery_worker_factory, tmp_path):
    worker = celery_worker_factory("filesystem://")
    queue = worker.var_dir / "broker" / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(worker.var_dir / "broker" / "control"),
    }
    with app.connection_for_write("filesystem://", transport_options=options) as conn:
        worker_heartbeat.apply_async(connection=conn)
    beat = wait_for(lambda: WorkerHeartbeat.objects.first(), timeout=90, worker=worker)
    assert beat.hostname.startswith("test-")
