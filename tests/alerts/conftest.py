"""Real protocol peers on 127.0.0.1 for the alert channels: an SMTP server (aiosmtpd) and an
HTTP server (SMS gateway, Twilio-shaped API, webhook receiver), plus scoring helpers."""

import email
import email.policy
import json
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from detection.models import TransactionScore
from detection.signals import transaction_scored
from transactions.models import Account, Customer, Transaction


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- SMTP ------------------------------------------------------------------------------------
@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    received_at: float

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()


class _SmtpHandler:
    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, time.time())
            )
        return "250 Message accepted for delivery"


@dataclass
class SmtpPeer:
    host: str
    port: int
    handler: _SmtpHandler

    @property
    def messages(self) -> list[ReceivedMail]:
        with self.handler.lock:
            return list(self.handler.messages)

    def env(self) -> dict[str, str]:
        """Environment for a worker process that should send to this server."""
        return {
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": str(self.port),
        }


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = _SmtpHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpPeer("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """This process sends e-mail alerts to the test SMTP server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "SecureFlow <alerts@bank.test>"
    return smtp_server


# -- HTTP ------------------------------------------------------------------------------------
@dataclass
class ReceivedRequest:
    path: str
    headers: "email.message.Message"  # case-insensitive lookup, names as sent
    body: bytes
    received_at: float
    status: int

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class HttpPeer:
    """A real HTTP server. `plan(path, 500, 500)` makes the next two POSTs to `path` answer
    500; afterwards (or without a plan) the path's default status answers."""

    host: str
    port: int
    requests: list[ReceivedRequest] = field(default_factory=list)
    plans: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    defaults: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def plan(self, path: str, *statuses: int) -> None:
        with self.lock:
            self.plans[path].extend(statuses)

    def always(self, path: str, status: int) -> None:
        with self.lock:
            self.defaults[path] = status

    def to(self, path: str) -> list[ReceivedRequest]:
        with self.lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    def next_status(self, path: str) -> int:
        with self.lock:
            queue = self.plans.get(path)
            if queue:
                return queue.popleft()
            return self.defaults.get(path, 201 if path.endswith("Messages.json") else 200)


def _make_handler(peer: HttpPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            path = self.path.split("?")[0]
            status = peer.next_status(path)
            with peer.lock:
                peer.requests.append(ReceivedRequest(path, self.headers, body, time.time(), status))
                number = len(peer.requests)
            if status < 400:
                reply = {"id": f"gw-{number}", "sid": f"SM{number:032d}", "status": "queued"}
            else:
                reply = {"code": 20500 if status >= 500 else 21211, "message": f"error {status}"}
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def http_server():
    peer = HttpPeer("127.0.0.1", 0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(peer))
    peer.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fast_retries(settings):
    settings.SECUREFLOW_ALERT_RETRY_BASE_SECONDS = 0.01
    settings.SECUREFLOW_ALERT_RETRY_MAX_SECONDS = 0.05
    settings.SECUREFLOW_ALERT_MAX_ATTEMPTS = 3
    return settings


# -- broker for worker processes ------------------------------------------------------------
@pytest.fixture
def worker_broker(request, tmp_path):
    """(broker URL, extra worker environment) shared by this process and its worker."""
    from django.db import connection

    from secureflow.celery import app

    if settings.CELERY_BROKER_URL.startswith("redis"):
        request.getfixturevalue("postgres_required")
        yield request.getfixturevalue("redis_broker"), {}
        return
    # The embedded broker, in folders of this test only (no other run can take the messages).
    var_dir = tmp_path / "worker-var"
    broker = var_dir / "broker"
    options = {
        "data_folder_in": str(broker / "queue"),
        "data_folder_out": str(broker / "queue"),
        "processed_folder": str(broker / "processed"),
        "control_folder": str(broker / "control"),
        "store_processed": False,
    }
    for folder in ("queue", "processed", "control"):
        (broker / folder).mkdir(parents=True, exist_ok=True)
    previous = app.conf.broker_transport_options
    _publish_with(app, options, close_current=False)
    assert connection.vendor in {"sqlite", "postgresql"}
    try:
        yield "filesystem://", {"SECUREFLOW_VAR_DIR": str(var_dir)}
    finally:
        _publish_with(app, previous, close_current=True)


def _publish_with(app, transport_options: dict, *, close_current: bool) -> None:
    """Make this process publish with other broker transport options: drop the connection
    and producer pools Celery holds, so the next publish takes the ones for these options.

    Kombu keeps one pool per connection settings for the whole process, and Celery's
    pools are those: the run's own pool must stay open for the tests after this one, so
    only this test's pool (its folders are used by no one else) is closed."""
    if close_current and app._pool is not None:
        app._pool.force_close_all()
    app.conf.broker_transport_options = transport_options
    app._pool = None
    app.amqp._producer_pool = None


# -- bank and scores --------------------------------------------------------------------------
@pytest.fixture
def account(db):
    customer = Customer.objects.create(external_id="CUST-9", name="Mariam Haddad")
    return Account.objects.create(customer=customer, number="AE-0009-1234")


_counter = {"n": 0}


def make_scored(
    account: Account,
    *,
    risk: float,
    outcome: str = "review",
    amount: str = "48000.00",
    transfer_type: str = "S",
    reasons: list[str] | None = None,
    external_id: str | None = None,
    signal: bool = True,
) -> TransactionScore:
    """A stored decision, saved and announced the way the scoring service does it (signal
    inside the transaction)."""
    _counter["n"] += 1
    with transaction.atomic():
        txn = Transaction.objects.create(
            external_id=external_id or f"TXN-{_counter['n']:05d}",
            account=account,
            amount=Decimal(amount),
            currency="AED",
            transfer_type=transfer_type,
            country="NG",
            occurred_at=timezone.now() - timedelta(seconds=5),
        )
        score = TransactionScore.objects.create(
            transaction=txn,
            risk_score=risk,
            outcome=outcome,
            reasons=reasons
            if reasons is not None
            else [
                "Amount AED 48,000.00 is 9.3× this account's average",
                "First transfer to Nigeria from this account",
                "3 transfers in 30 seconds; limit is 2",
                "A fourth reason that is not shown",
            ],
            rule_hits=[{"code": "velocity_30s", "severity": "block"}],
        )
        if signal:
            transaction_scored.send(sender=TransactionScore, score=score)
    return score
