"""A real Celery worker process consumes the broker and writes to the database: its own
heartbeat when it starts, then one sent from outside."""

import pytest

from secureflow.celery import app
from secureflow.core.models import WorkerHeartbeat
from secureflow.core.tasks import worker_heartbeat
from tests.conftest import require, wait_for


def _heartbeats_then_one_sent(worker, send) -> None:
    first = wait_for(lambda: WorkerHeartbeat.objects.first(), timeout=90, worker=worker)
    assert first.hostname.startswith("test-")  # sent by the worker itself when ready

    send()

    later = wait_for(
        lambda: WorkerHeartbeat.objects.filter(seen_at__gt=first.seen_at).first(),
        timeout=90,
        worker=worker,
    )
    assert later.hostname == first.hostname


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_worker_on_redis_runs_task_that_writes_database(redis_broker, celery_worker_factory):
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")
    worker = celery_worker_factory(redis_broker)

    def send() -> None:
        with app.connection_for_write(redis_broker) as conn:
            worker_heartbeat.apply_async(connection=conn)

    _heartbeats_then_one_sent(worker, send)


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

    def send() -> None:
        with app.connection_for_write("filesystem://", transport_options=options) as conn:
            worker_heartbeat.apply_async(connection=conn)

    _heartbeats_then_one_sent(worker, send)
