"""gunicorn settings for SecureFlow: `gunicorn -c python:secureflow.gunicorn_conf
secureflow.wsgi:application` (command-line options such as --workers still apply)."""

import gc
import logging
import signal
from typing import Any

logger = logging.getLogger("secureflow.gunicorn")

# gthread, with keep-alive connections spread evenly over the workers
worker_class = "secureflow.gunicorn_worker.BalancedThreadWorker"
keepalive = 30


def post_worker_init(worker: Any) -> None:
    """Load the models and SHAP explainers before the worker takes requests, then move
    everything loaded so far out of the garbage collector's sight.

    A loaded worker holds a few hundred thousand long-lived objects (Django, the models,
    SHAP, TensorFlow); a full collection walks all of them, a pause of 130-330 ms on this
    machine that every request queued at the worker waits out (the API's p99).
    `gc.freeze()` leaves them out of every later collection."""
    if worker is not None:
        quit_once(worker)
    try:
        from detection.scoring.service import scoring_warm_up

        scoring_warm_up()
    except Exception:  # a worker must start even when the models cannot be prepared
        logger.exception("Scoring warm-up failed; the first requests will prepare it")
    finally:
        from django.db import connections

        connections.close_all()
        gc.collect()
        gc.freeze()


def quit_once(worker: Any) -> None:
    """Make the worker's quick shutdown (SIGINT, SIGQUIT) run once, whatever signals follow.

    Ctrl-C in a terminal sends SIGINT to the whole process group: the worker gets it, and
    the arbiter, on its own SIGINT, sends the worker SIGQUIT at once. The second signal
    lands inside the first one's handler, while it holds the thread pool's shutdown lock;
    the handler, called again, waits for that lock forever, and the arbiter kills the
    worker only after its graceful timeout (30 s, "Worker was sent SIGKILL! Perhaps out of
    memory?"). The guard lets the first call finish and ignores the rest."""
    handle = worker.handle_quit
    started = False

    def once(sig: int, frame: Any) -> None:
        nonlocal started
        if started:
            return
        started = True
        handle(sig, frame)

    signal.signal(signal.SIGQUIT, once)
    signal.signal(signal.SIGINT, once)


def child_exit(server: Any, worker: Any) -> None:
    """Free the worker's slot in the connection table (in the arbiter, once the worker's
    process has ended)."""
    slot = getattr(worker, "connection_slot", None)
    if slot is not None:
        from secureflow.gunicorn_worker import CONNECTIONS

        CONNECTIONS.release(slot, worker.pid)
