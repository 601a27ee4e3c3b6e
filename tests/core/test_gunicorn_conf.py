"""The web server's worker start: models warmed up, the loaded objects frozen for the GC,
and a quick shutdown that a second signal cannot deadlock."""

import gc
import os
import signal

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


@pytest.fixture
def own_quit_handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGQUIT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


class FakeWorker:
    """A worker whose quick shutdown is interrupted by the next signal, as Ctrl-C does:
    SIGINT from the terminal, then SIGQUIT from the arbiter."""

    def __init__(self) -> None:
        self.quits: list[int] = []

    def handle_quit(self, sig: int, frame: object) -> None:
        self.quits.append(sig)
        if len(self.quits) == 1:
            os.kill(os.getpid(), signal.SIGQUIT)  # arrives inside this handler


def test_a_second_signal_during_the_quick_shutdown_is_ignored(
    monkeypatch, own_quit_handlers, unfrozen
):
    monkeypatch.setattr("detection.scoring.service.scoring_warm_up", lambda: None)
    worker = FakeWorker()
    gunicorn_conf.post_worker_init(worker=worker)

    os.kill(os.getpid(), signal.SIGINT)

    assert worker.quits == [signal.SIGINT]
