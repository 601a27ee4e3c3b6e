"""Helpers of the browser tests (the `browser` and `page` fixtures live in tests/conftest.py).

Screenshots of every page visited land in test-artifacts/ at the top of the repository.
"""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts"


def screenshot(pg, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path


def htmx_settled(pg) -> None:
    """Wait until htmx has no request in flight and has settled every swap: an element
    swapped in (a filter form sent out of band, say) answers events only once htmx has
    processed it, a few milliseconds after its content shows."""
    pg.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def log_in(pg, username: str, password: str) -> None:
    pg.goto("/accounts/login/")
    pg.get_by_label("Username").fill(username)
    pg.get_by_label("Password").fill(password)
    pg.get_by_role("button", name=re.compile("log in", re.I)).click()
    pg.wait_for_url(lambda url: "/accounts/login/" not in url)


@pytest.fixture
def trained_bank(transactional_db, tmp_path, settings):
    """A small demo bank ending today, with trained model versions active."""
    from detection.model_training import models_train
    from detection.scoring.loader import reset_engine
    from transactions.bulk_load import bulk_load_frame
    from transactions.demo_data import generate_demo_bank

    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    bank = generate_demo_bank(
        customers=150, days=40, seed=11, end=timezone.localdate() + timedelta(days=1)
    )
    bulk_load_frame(bank.transactions)
    models_train(seed=3, ae_epochs=2)
    reset_engine()
    yield bank
    reset_engine()


@pytest.fixture
def worker_for_live_server(celery_worker_factory, settings):
    """A real Celery worker process consuming the broker the live server enqueues to."""
    broker = settings.CELERY_BROKER_URL
    if broker.startswith("redis"):
        return celery_worker_factory(
            broker, SECUREFLOW_MODEL_DIR=str(settings.SECUREFLOW_MODEL_DIR)
        )
    return celery_worker_factory(
        broker,
        SECUREFLOW_VAR_DIR=str(settings.VAR_DIR),
        SECUREFLOW_MODEL_DIR=str(settings.SECUREFLOW_MODEL_DIR),
    )
