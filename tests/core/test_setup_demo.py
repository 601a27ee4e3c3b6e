"""`setup_demo` (run by `make run`) trains models when none is active, and again when the
active ones were trained on an earlier definition of the features (they would be refused
and the demo would score with rules only)."""

import pytest

from detection.features.spec import FEATURE_SPEC_HASH
from detection.models import ModelVersion
from secureflow.core.management.commands import setup_demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def commands_run(monkeypatch) -> list[str]:
    """The commands setup_demo runs (recorded, not run); the demo data is taken as loaded."""
    ran: list[str] = []
    monkeypatch.setattr(setup_demo.Transaction.objects, "exists", lambda: True)
    monkeypatch.setattr(setup_demo.TransactionScore.objects, "exists", lambda: True)
    monkeypatch.setattr(setup_demo, "call_command", lambda name, **kwargs: ran.append(name))
    return ran


def _active(spec_hash: str) -> None:
    ModelVersion.objects.create(
        kind="isolation_forest",
        version=1,
        artifact_path="/nowhere/isolation_forest",
        feature_spec_hash=spec_hash,
        is_active=True,
    )


def _setup_demo() -> None:
    setup_demo.Command().handle(customers=10, days=10, seed=1)


def test_models_are_trained_when_none_is_active(commands_run):
    _setup_demo()
    assert commands_run == ["train_models"]


def test_models_of_the_current_features_are_kept(commands_run):
    _active(FEATURE_SPEC_HASH)
    _setup_demo()
    assert commands_run == []


def test_models_of_an_earlier_feature_definition_are_trained_again(commands_run):
    _active("0" * 64)
    _setup_demo()
    assert commands_run == ["train_models"]
