"""Fixtures for the transactions tests."""

import pytest

from detection.rules.cache import invalidate_rule_set
from detection.scoring.loader import reset_engine


@pytest.fixture
def batch_settings(settings, tmp_path):
    """Batch files and model artifacts in this test's own folder, no models or cached
    rules left from another test (the batch test modules use it for every test)."""
    settings.SECUREFLOW_BATCH_DIR = tmp_path / "batches"
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    reset_engine()
    invalidate_rule_set()
    yield settings
    reset_engine()
    invalidate_rule_set()
