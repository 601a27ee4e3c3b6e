"""The web server's worker start: models warmed up, the loaded objects frozen for the GC."""

import gc

import pytest

from secureflow import gunicorn_conf


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_worker_start_warms_up_then_freezes_what_it_loaded(monkeypatch, unfrozen):
    calls = []
    monkeypatch.setattr(
        "detection.scoring.service.scoring_warm_up",
        lambda: calls.append(gc.get_freeze_count()),
    )
    assert gc.get_freeze_count() == 0

    gunicorn_conf.post_worker_init(worker=None)

    assert calls == [0]  # warmed up before the freeze
    assert gc.get_freeze_count() > 0


def test_worker_start_freezes_even_when_the_warm_up_fails(monkeypatch, unfrozen):
    def failing() -> None:
        raise RuntimeError("no models")

    monkeypatch.setattr("detection.scoring.service.scoring_warm_up", failing)

    gunicorn_conf.post_worker_init(worker=None)

    assert gc.get_freeze_count() > 0
