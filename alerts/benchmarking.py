"""Alert delivery latency: from the commit of a scoring decision to the SMTP server
receiving the alert e-mail, through a real Celery worker process.

The benchmark starts an SMTP server (aiosmtpd) on 127.0.0.1 and a worker process on the
configured broker and database, creates a subscriber, submits transactions through the
real-time scoring service (the API's path) that the rules block (more than two transfers
within 30 seconds from one account), and times each alert. Run it against a database and a
broker of its own: other subscriptions in the database would be alerted too, and another
worker on the same broker could take its messages.
"""

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

ROOT = Path(settings.BASE_DIR)


@dataclass(frozen=True)
class AlertBenchmarkConfig:
    count: int = 200
    interval: float = 0.05  # seconds between submissions
    accounts: int = 5
    concurrency: int = 2  # worker processes
    timeout: float = 180.0  # for every alert to arrive
    keep: bool = False  # keep the benchmark's rows


@dataclass
class AlertBenchmarkResult:
    count: int
    received: int
    latency_ms: dict[str, float]
    submit_ms: dict[str, float]
    statuses: dict[str, int]
    database: str
    broker: str
    models: str
    worker_concurrency: int
    interval_s: float
    wall_s: float
    target_p95_ms: float = 2000.0
    notes: list[str] = field(default_factory=list)

    @property
    def target_met(self) -> bool:
        return self.received == self.count and self.latency_ms.get("p95", 1e12) < self.target_p95_ms

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "target_met": self.target_met}


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return round(ordered[index], 2)

    return {
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


# -- SMTP server ---------------------------------------------------------------------------
class _Inbox:
    """Receive time of each alert, by the transaction id in its X-SecureFlow-Transaction."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.time()
        for line in envelope.content.split(b"\r\n"):
            if not line:
                break  # end of the headers
            if line.lower().startswith(b"x-secureflow-transaction:"):
                txn_id = line.split(b":", 1)[1].strip().decode()
                with self.lock:
                    self.received.setdefault(txn_id, now)
        return "250 Message accepted"

    def get(self, txn_id: str) -> float | None:
        with self.lock:
            return self.received.get(txn_id)

    def count(self, ids: set[str]) -> int:
        with self.lock:
            return len(ids & self.received.keys())


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- worker --------------------------------------------------------------------------------
def database_url() -> str:
    """The URL of the database this process uses (for the worker process)."""
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    user = params.get("USER") or ""
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{params['NAME']}"


def broker_environment() -> dict[str, str]:
    """What the worker needs to read the broker this process publishes to."""
    from secureflow.celery import app

    url = app.conf.broker_url
    env = {"CELERY_BROKER_URL": url}
    if url.startswith("filesystem"):
        queue = (app.conf.broker_transport_options or {}).get("data_folder_in")
        if queue:  # settings put the folders under SECUREFLOW_VAR_DIR/broker/
            env["SECUREFLOW_VAR_DIR"] = str(Path(queue).parent.parent)
    return env


def start_worker(*, smtp_port: int, concurrency: int, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get(
            "DJANGO_SETTINGS_MODULE", "secureflow.settings.local"
        ),
        "DATABASE_URL": database_url(),
        "SECUREFLOW_VAR_DIR": str(settings.VAR_DIR),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        **broker_environment(),
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": "False",
        "EMAIL_USE_SSL": "False",
        "SECUREFLOW_ALERT_EMAIL_BACKEND": "email",
    }
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "secureflow",
            "worker",
            "--loglevel",
            "WARNING",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"bench-alerts-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


# -- data ----------------------------------------------------------------------------------
@dataclass
class _BenchData:
    run: str
    user_id: int
    customer_id: int
    accounts: list[str]
    subscription_id: int


def _create_data(config: AlertBenchmarkConfig) -> _BenchData:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from alerts.services import alert_subscription_create
    from secureflow.core import roles
    from transactions.models import Customer

    run = uuid.uuid4().hex[:8]
    roles.ensure_role_groups()
    user = get_user_model().objects.create_user(
        username=f"bench-alerts-{run}", email=f"bench-{run}@alerts.test"
    )
    user.groups.add(Group.objects.get(name=roles.INVESTIGATOR))
    customer = Customer.objects.create(external_id=f"BENCH-ALERTS-{run}", name="Benchmark")
    subscription = alert_subscription_create(
        user=user, channel="email", destination=user.email, min_risk=0.90
    )
    accounts = [f"BENCH-{run}-{i}" for i in range(config.accounts)]
    return _BenchData(run, user.pk, customer.pk, accounts, subscription.pk)


def _delete_data(data: _BenchData) -> str:
    """Remove the benchmark's rows (alerts, cases and scores go with their transactions)."""
    from django.contrib.auth import get_user_model
    from django.db.models import ProtectedError

    from transactions.models import Account, Counterparty, Customer, Transaction

    try:
        with transaction.atomic():
            Transaction.objects.filter(account__customer_id=data.customer_id).delete()
            Account.objects.filter(customer_id=data.customer_id).delete()
            Customer.objects.filter(pk=data.customer_id).delete()
            Counterparty.objects.filter(identifier=f"BENCH-PAYEE-{data.run}").delete()
            get_user_model().objects.filter(pk=data.user_id).delete()
    except ProtectedError as exc:
        return f"benchmark rows of run {data.run} were kept: {exc}"
    return ""


def _submit(
    data: _BenchData, *, external_id: str, account: str, amount: str, committed: dict
) -> float:
    """Submit one transaction through the real-time service; returns the seconds it took.
    The commit time is taken by the first on-commit hook, before alerts are enqueued."""
    from transactions.api.serializers import TransactionSubmitSerializer
    from transactions.services import transaction_submit

    serializer = TransactionSubmitSerializer(
        data={
            "id": external_id,
            "timestamp": timezone.now().isoformat(),
            "account": account,
            "customer": f"BENCH-ALERTS-{data.run}",
            "counterparty": f"BENCH-PAYEE-{data.run}",
            "counterparty_country": "NG",
            "amount": amount,
            "transfer_type": "S",
            "country": "NG",
        }
    )
    serializer.is_valid(raise_exception=True)
    started = time.perf_counter()
    with transaction.atomic():
        # Registered first, so it runs first after the commit (before alerts are enqueued).
        transaction.on_commit(lambda: committed.__setitem__(external_id, time.time()))
        transaction_submit(data=serializer.validated_data, user=None)
    return time.perf_counter() - started


def _open_window(data: _BenchData, account: str) -> None:
    for i in range(2):
        _submit(
            data, external_id=f"{account}-open-{i}", account=account, amount="120.00", committed={}
        )


def _wait(predicate: Callable[[], bool], *, timeout: float, worker: subprocess.Popen) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if worker.poll() is not None:
            return False
        time.sleep(0.05)
    return predicate()


def models_in_use() -> str:
    from detection.scoring.loader import active_versions

    kinds = sorted({kind for _, kind, _ in active_versions()})
    return ", ".join(kinds) if kinds else "none (rules only)"


def run_alert_benchmark(
    config: AlertBenchmarkConfig, *, log: Callable[[str], None] = print
) -> AlertBenchmarkResult:
    from aiosmtpd.controller import Controller

    from alerts.models import AlertDelivery

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    inbox = _Inbox()
    port = _free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    log_dir = Path(tempfile.mkdtemp(prefix="benchmark-alerts-"))
    worker = start_worker(
        smtp_port=port, concurrency=config.concurrency, log_path=log_dir / "worker.log"
    )
    data = _create_data(config)
    committed: dict[str, float | None] = {}
    notes: list[str] = []
    try:
        # The rate limit protects people from floods; the benchmark measures latency.
        with override_settings(SECUREFLOW_ALERT_RATE_LIMIT=0):
            # More than two transfers from one account within 30 seconds are blocked by the
            # rules (with or without trained models): two transfers open each account's
            # window, every later one in the window is blocked and alerted.
            warmup_account = f"BENCH-{data.run}-warmup"
            _open_window(data, warmup_account)
            warmup = f"{data.run}-warmup"
            _submit(data, external_id=warmup, account=warmup_account, amount="950.00", committed={})
            log(f"Waiting for the worker (log: {log_dir / 'worker.log'}) ...")
            if not _wait(lambda: inbox.get(warmup) is not None, timeout=180, worker=worker):
                raise RuntimeError(
                    "the warm-up alert never reached the SMTP server; worker log:\n"
                    + (log_dir / "worker.log").read_text(errors="replace")[-3000:]
                )
            for account in data.accounts:
                _open_window(data, account)
            ids: list[str] = []
            submit_seconds: list[float] = []
            started = time.perf_counter()
            for i in range(config.count):
                external_id = f"{data.run}-{i}"
                account = data.accounts[i % len(data.accounts)]
                submit_seconds.append(
                    _submit(
                        data,
                        external_id=external_id,
                        account=account,
                        amount=f"{900 + i % 50}.00",
                        committed=committed,
                    )
                )
                ids.append(external_id)
                pause = config.interval - (time.perf_counter() - started - i * config.interval)
                if pause > 0:
                    time.sleep(min(pause, config.interval))
            wanted = set(ids)
            _wait(lambda: inbox.count(wanted) == len(wanted), timeout=config.timeout, worker=worker)
            wall = time.perf_counter() - started
            # The server has the e-mail a moment before the worker records it as sent.
            _wait(
                lambda: (
                    not AlertDelivery.objects.filter(
                        transaction__external_id__in=ids, status__in=["queued", "sending"]
                    ).exists()
                ),
                timeout=30,
                worker=worker,
            )
        latencies = [
            (inbox.get(i) - committed[i]) * 1000
            for i in ids
            if inbox.get(i) is not None and committed.get(i) is not None
        ]
        statuses: dict[str, int] = {}
        for status in AlertDelivery.objects.filter(transaction__external_id__in=ids).values_list(
            "status", flat=True
        ):
            statuses[status] = statuses.get(status, 0) + 1
        alerts_raised = sum(statuses.values())
        if alerts_raised < len(ids):
            notes.append(f"{len(ids) - alerts_raised} transaction(s) raised no alert")
    finally:
        stop_worker(worker)
        smtp.stop()
        if not config.keep:
            problem = _delete_data(data)
            if problem:
                notes.append(problem)
    backend = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    from secureflow.celery import app

    return AlertBenchmarkResult(
        count=config.count,
        received=len(latencies),
        latency_ms=percentiles(latencies),
        submit_ms=percentiles([s * 1000 for s in submit_seconds]),
        statuses=statuses,
        database=backend,
        broker=app.conf.broker_url.split(":", 1)[0],
        models=models_in_use(),
        worker_concurrency=config.concurrency,
        interval_s=config.interval,
        wall_s=round(wall, 2),
        notes=notes,
    )


def format_result(result: AlertBenchmarkResult) -> str:
    lat, sub = result.latency_ms, result.submit_ms
    lines = [
        "Alert delivery: scoring commit -> SMTP server received (real worker process)",
        f"  database {result.database}, broker {result.broker}, models {result.models}, "
        f"worker concurrency {result.worker_concurrency}, one transaction every "
        f"{result.interval_s * 1000:.0f} ms",
        f"  alerts received   {result.received} / {result.count} in {result.wall_s:.1f} s",
    ]
    if lat:
        lines.append(
            f"  latency           p50 {lat['p50']:.1f} ms   p95 {lat['p95']:.1f} ms   "
            f"p99 {lat['p99']:.1f} ms   max {lat['max']:.1f} ms   mean {lat['mean']:.1f} ms"
        )
    if sub:
        lines.append(
            f"  submit + score    p50 {sub['p50']:.1f} ms   p95 {sub['p95']:.1f} ms "
            "(in this process, alerts raised in the same transaction)"
        )
    lines.append(f"  delivery statuses {result.statuses}")
    verdict = "met" if result.target_met else "NOT met"
    lines.append(f"  target p95 < {result.target_p95_ms:.0f} ms: {verdict}")
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)
