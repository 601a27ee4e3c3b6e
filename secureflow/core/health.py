"""Health of the pieces SecureFlow needs: database and Celery broker."""

import time
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


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


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = check_database()
    broker = check_broker()
    ok = database["ok"] and broker["ok"]
    worker = last_worker_heartbeat() if database["ok"] else {"seen": False}
    return JsonResponse(
        {
            "status": "ok" if ok else "unavailable",
            "database": database,
            "broker": broker,
            "worker": worker,
        },
        status=200 if ok else 503,
    )
