"""A promotion reaches a scoring process that is already running (another OS process,
the same database): its engine reloads at the next check of the active versions."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from detection.model_training import models_train
from detection.retraining.promotion import model_versions_promote, model_versions_roll_back
from detection.scoring.loader import CHECK_SECONDS, reset_engine
from tests.conftest import ROOT, database_url_for_subprocess, wait_for
from transactions.bulk_load import bulk_load_frame
from transactions.demo_data import generate_demo_bank

WATCHER = """
import sys, time
import django
django.setup()
from detection.scoring.loader import get_engine
last = None
deadline = time.monotonic() + 180
while time.monotonic() < deadline:
    ids = get_engine().model_version_ids  # the check live scoring does on every call
    if ids != last:
        with open(sys.argv[1], "a") as out:
            out.write(",".join(map(str, ids)) + "\\n")
        last = ids
    time.sleep(0.05)
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_running_scoring_process_picks_up_promotion_and_roll_back(tmp_path, settings):
    settings.SECUREFLOW_MODEL_DIR = tmp_path / "models"
    reset_engine()
    end = timezone.localdate() + timedelta(days=1)
    bulk_load_frame(generate_demo_bank(customers=60, days=20, seed=4, end=end).transactions)
    quick = {"kinds": ["isolation_forest"], "if_n_estimators": 10}
    (first,) = models_train(seed=1, train_options=quick)
    (second,) = models_train(seed=2, activate=False, train_options=quick)

    seen = tmp_path / "seen.txt"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "secureflow.settings.test",
        "DATABASE_URL": database_url_for_subprocess(),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
    }
    watcher = subprocess.Popen(
        [sys.executable, "-c", WATCHER, str(seen)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def lines() -> list[str]:
        if watcher.poll() is not None:
            raise AssertionError(watcher.stderr.read().decode()[-3000:])
        return seen.read_text().split() if seen.exists() else []

    try:
        wait_for(lambda: lines() and lines()[-1] == str(first.pk), timeout=60)
        model_versions_promote(versions=[second], reason="live check")
        wait_for(lambda: lines()[-1] == str(second.pk), timeout=CHECK_SECONDS * 4)
        model_versions_roll_back(reason="live check")
        wait_for(lambda: lines()[-1] == str(first.pk), timeout=CHECK_SECONDS * 4)
    finally:
        watcher.kill()
        watcher.wait(timeout=30)
        reset_engine()
    assert lines_seen(seen) == [str(first.pk), str(second.pk), str(first.pk)]


def lines_seen(path) -> list[str]:
    return path.read_text().split()
