"""Fixtures shared by the whole suite: users in roles, API clients, real services."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from secureflow.core import roles
from secureflow.core.api_keys import api_key_create

ROOT = Path(__file__).resolve().parent.parent


def require(available: bool, reason: str) -> None:
    """Skip when a real service is missing, or fail when the run requires services (CI)."""
    if available:
        return
    if os.environ.get("SECUREFLOW_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> Iterator[None]:
    """Each test starts and ends with empty in-process caches of tokens, alert audiences,
    model version sets, the scoring engine and rate-limit leases: a test's rolled-back rows
    change what they hold without any signal (a model version gone within the engine's 5 s
    check), which a running server never sees."""
    from alerts.audience import alert_audience_forget
    from detection.scoring.loader import reset_engine
    from detection.scoring.version_sets import clear_version_set_cache
    from secureflow.core.authentication import token_cache_clear
    from secureflow.core.throttles import leases

    def forget() -> None:
        alert_audience_forget()
        token_cache_clear()
        reset_engine()
        clear_version_set_cache()
        leases.clear()

    forget()
    yield
    forget()


@pytest.fixture
def eager_celery():
    """Tasks run in this process as soon as they are enqueued (retries immediately too);
    tests with a worker process use celery_worker_factory instead."""
    from secureflow.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


@pytest.fixture
def make_user(db, django_user_model):
    def _make(username: str = "ivy", role: str | None = roles.INVESTIGATOR, **extra):
        from django.contrib.auth.models import Group

        roles.ensure_role_groups()
        user = django_user_model.objects.create_user(
            username=username, password="pw-" + username + "-123!", **extra
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return _make


@pytest.fixture
def token_client(make_user):
    """Make an API client for a new user in a role (each has its own token, so its own
    rate-limit counters)."""

    def _make(username: str, role: str | None = "Investigator") -> APIClient:
        user = make_user(username, role)
        client = APIClient()
        key = api_key_create(user=user, name="tests").key
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return _make


@pytest.fixture
def refused_model(db, tmp_path):
    """An active isolation forest whose artifact is gone (as after a lost volume):
    scoring goes on without it."""
    from detection.features.spec import FEATURE_SPEC_HASH
    from detection.models import ModelVersion

    return ModelVersion.objects.create(
        kind="isolation_forest",
        version=1,
        artifact_path=str(tmp_path / "isolation_forest-gone"),
        feature_spec_hash=FEATURE_SPEC_HASH,
        is_active=True,
    )


@pytest.fixture
def investigator(make_user):
    return make_user("ivy", roles.INVESTIGATOR)


@pytest.fixture
def admin_user_sf(make_user):
    return make_user("ada", roles.ADMIN, is_staff=True)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def investigator_api(investigator) -> APIClient:
    client = APIClient()
    key = api_key_create(user=investigator, name="tests").key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture(scope="session", autouse=True)
def _test_database_released(django_db_setup, django_db_blocker) -> Iterator[None]:
    """At the end of the run, end the test database's other sessions before it is dropped:
    those of the server and worker processes the tests start (some are killed on purpose)
    can outlive their process by a moment, and the drop would then fail and leave the
    database behind."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture
def postgres_required(db) -> None:
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL does not point at PostgreSQL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    parsed = urlparse(url) if url else None
    require(
        bool(parsed) and port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379),
        "REDIS_URL is not set or Redis is not reachable",
    )
    return url


def _delete_run_keys(url: str) -> None:
    import redis

    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
    assert prefix, "tests on Redis need a per-run key prefix (secureflow.settings.test)"
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def redis_broker(redis_url) -> Iterator[str]:
    """A Redis broker for a worker process: this test run's keys only, empty before and after.

    Test runs side by side share the Redis server; each has its own key prefix (set in the
    test settings and inherited by the workers it starts).
    """
    _delete_run_keys(redis_url)
    yield redis_url
    _delete_run_keys(redis_url)


def database_url_for_subprocess() -> str:
    """The URL of the database the tests are using right now (the test database)."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or ""
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{params['NAME']}"


class WorkerProcess:
    def __init__(self, broker_url: str, var_dir: Path, extra_env: dict[str, str] | None = None):
        self.broker_url = broker_url
        self.var_dir = var_dir
        self.extra_env = extra_env or {}
        self.log_path = var_dir / "worker.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "secureflow.settings.test",
            "DATABASE_URL": database_url_for_subprocess(),
            "CELERY_BROKER_URL": self.broker_url,
            "SECUREFLOW_VAR_DIR": str(self.var_dir),
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            **self.extra_env,
        }
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "secureflow",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_for(
    predicate, *, timeout: float = 60.0, interval: float = 0.2, worker: WorkerProcess | None = None
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if worker and worker.proc and worker.proc.poll() is not None:
            raise AssertionError(f"worker exited early:\n{worker.log()[-4000:]}")
        time.sleep(interval)
    raise AssertionError(
        "condition not met in time" + (f"; worker log:\n{worker.log()[-4000:]}" if worker else "")
    )


@pytest.fixture
def celery_worker_factory(tmp_path) -> Iterator:
    workers: list[WorkerProcess] = []

    def _start(broker_url: str, **extra_env: str) -> WorkerProcess:
        worker = WorkerProcess(broker_url, tmp_path / f"worker{len(workers)}", extra_env).start()
        workers.append(worker)
        return worker

    yield _start
    for worker in workers:
        worker.stop()


CHROMIUM = Path(os.environ.get("SECUREFLOW_CHROMIUM", "/usr/bin/chromium"))
# Chromium flags for a closed network: no background calls to outside hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch) -> Iterator:
    """Debian's Chromium driven by Playwright (never a downloaded browser), one per test.

    Playwright's sync API keeps an event loop running in the test thread while it is open;
    the test prepares and checks data through the ORM between browser steps, so Django's
    async-safety check is lifted for this test only.
    """
    require(CHROMIUM.exists(), f"Chromium not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A page of a fresh browser context on the live server; JavaScript errors and what the
    Content-Security-Policy refused fail the test."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # what the Content-Security-Policy refused (a script, style or image the page needs)
    pg.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the pages: {errors}"
