"""Health of the pieces SecureFlow needs: database and Celery broker, and whether the
active models score.

Anyone may ask (a load balancer sends no credentials): the answer says whether each piece
is up, and the status code says whether SecureFlow can serve. What the pieces are, where
they run and the text of an error (which can name hosts, ports and database users) go to
the log, and to signed-in admins only.

An active model whose artifact this process, or a Celery worker in its last heartbeat,
refused (missing, corrupt, trained on another feature spec) leaves decisions to the other
models and the rules: SecureFlow still serves (200), with `status` "degraded" and
`models.ok` false, so that monitoring sees the loss of detection that a decision alone does
not show."""

import logging
import time
from datetime import timedelta
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from secureflow.core import roles

logger = logging.getLogger("secureflow.health")
# a worker's heartbeat runs every 30 s: its last report counts for two of them and a margin
WORKER_REPORT_SECONDS = 75
# what an anonymous caller is told of each check
_PUBLIC_FIELDS = {
    "database": ("ok",),
    "broker": ("ok",),
    "worker": ("seen", "age_seconds"),
    "models": ("ok",),
}


def check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }


def check_broker() -> dict[str, Any]:
    from secureflow.celery import app

    started = time.perf_counter()
    url = app.conf.broker_url or ""
    transport = url.split("://", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            if transport == "filesystem":
                conn.channel().close()  # opening a channel checks the broker folders
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "ok": True,
        "transport": transport,
        "ms": round((time.perf_counter() - started) * 1000, 2),
    }


def last_worker_heartbeat() -> dict[str, Any]:
    from secureflow.core.models import WorkerHeartbeat

    try:
        beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    except Exception as exc:
        return {"seen": False, "error": f"{type(exc).__name__}: {exc}"}
    if beat is None:
        return {"seen": False}
    return {
        "seen": True,
        "hostname": beat.hostname,
        "age_seconds": round((timezone.now() - beat.seen_at).total_seconds(), 1),
    }


def workers_refused_models() -> dict[str, str]:
    """The active models (kind -> which worker, why) that Celery workers refused in their
    heartbeats of the last WORKER_REPORT_SECONDS."""
    from secureflow.core.models import WorkerHeartbeat

    since = timezone.now() - timedelta(seconds=WORKER_REPORT_SECONDS)
    refused: dict[str, str] = {}
    for hostname, kinds in (
        WorkerHeartbeat.objects.filter(seen_at__gte=since)
        .order_by("hostname")
        .values_list("hostname", "refused_models")
    ):
        for kind, reason in (kinds or {}).items():
            refused.setdefault(kind, f"{hostname}: {reason}")
    return refused


def check_models(*, worker_refused: dict[str, str]) -> dict[str, Any]:
    """The model kinds this process scores with, the active ones it refused, and those the
    workers refused lately (`workers_refused_models`)."""
    from detection.scoring.loader import serving_status

    try:
        status = serving_status()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    refused: dict[str, str] = status["refused"]  # type: ignore[assignment]
    return {
        "ok": not refused and not worker_refused,
        "serving": status["serving"],
        "refused": refused,
        "worker_refused": worker_refused,
    }


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = check_database()
    broker = check_broker()
    ok = database["ok"] and broker["ok"]
    worker = last_worker_heartbeat() if database["ok"] else {"seen": False}
    models = {"ok": False}
    if database["ok"]:
        models = check_models(worker_refused=workers_refused_models())
    checks = {"database": database, "broker": broker, "worker": worker, "models": models}
    for name, check in checks.items():
        if "error" in check:
            logger.warning("Health check %s failed: %s", name, check["error"])
    for where in ("refused", "worker_refused"):
        for kind, reason in models.get(where, {}).items():
            logger.warning(
                "Health check models: active %s model refused%s: %s",
                kind,
                " by the worker" if where == "worker_refused" else "",
                reason,
            )
    if not _signed_in_admin(request, database_ok=database["ok"]):
        checks = {
            name: {key: check[key] for key in _PUBLIC_FIELDS[name] if key in check}
            for name, check in checks.items()
        }
    status = "unavailable" if not ok else "ok" if models["ok"] else "degraded"
    return JsonResponse({"status": status, **checks}, status=200 if ok else 503)


def _signed_in_admin(request: HttpRequest, *, database_ok: bool) -> bool:
    """Whether the caller is a signed-in admin (the session lives in the database: with
    the database down, nobody is)."""
    if not database_ok:
        return False
    try:
        return roles.is_admin(request.user)
    except Exception:  # a session that cannot be read: not signed in
        return False
