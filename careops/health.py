"""Liveness and readiness.

/health answers 200 while the process serves, touching nothing else. /health/ready reports the
database, the broker and the worker heartbeat; it answers 503, naming the failing part, when a
check listed in HEALTH_REQUIRED_CHECKS fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from careops.models import WorkerHeartbeat

log = structlog.get_logger(__name__)


def check_database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return None


def check_broker() -> str | None:
    url = settings.CELERY_BROKER_URL
    with Connection(url, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        if url.startswith("redis"):
            conn.default_channel.client.ping()
    return None


def check_worker() -> str | None:
    heartbeat = WorkerHeartbeat.latest()
    if heartbeat is None:
        return "No worker has reported in."
    age = (timezone.now() - heartbeat.seen_at).total_seconds()
    if age > settings.HEALTH_WORKER_MAX_AGE:
        return f"Last worker heartbeat {int(age)} s ago ({heartbeat.hostname})."
    return None


CHECKS: dict[str, Callable[[], str | None]] = {
    "database": check_database,
    "broker": check_broker,
    "worker": check_worker,
}


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    required = set(settings.HEALTH_REQUIRED_CHECKS)
    results, failing = {}, []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            problem = check()
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        result = {
            "ok": problem is None,
            "required": name in required,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if problem:
            result["error"] = problem
            if name in required:
                failing.append(name)
        results[name] = result
    if failing:
        log.warning("readiness_failed", failing=failing)
    body = {"status": "fail" if failing else "ok", "failing": failing, "checks": results}
    return JsonResponse(body, status=503 if failing else 200)
