"""The Celery application. Workers: `celery -A secureflow worker`."""

import os

from celery import Celery
from celery.signals import worker_ready

# A deployment that forgets DJANGO_SETTINGS_MODULE gets the production settings (which
# refuse to start without a secret key and hosts), never the debug-mode local ones;
# `make run` (scripts/run.sh) asks for the local settings itself.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secureflow.settings.production")

app = Celery("secureflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _ensure_filesystem_broker_dirs(sender: Celery, **kwargs: object) -> None:
    """The embedded filesystem broker needs its folders before the first message."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


@worker_ready.connect
def _first_heartbeat(sender: object, **kwargs: object) -> None:
    """A heartbeat through the queue as soon as the worker consumes, so that the health
    check and the dashboard see it at once, not at beat's first tick (every 30 s)."""
    app.send_task("secureflow.core.tasks.worker_heartbeat")
