"""GET /healthz: the state of the database, Redis and the number of live Celery workers."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def _redis() -> str:
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def _workers() -> int:
    from evolab.taskqueue import app

    try:
        return len(app.control.ping(timeout=1.0) or [])
    except Exception:
        return 0


def healthz(request: HttpRequest) -> JsonResponse:
    database, broker = _database(), _redis()
    workers = _workers() if broker == "ok" else 0
    ok = database == "ok" and broker == "ok" and workers > 0
    body = {
        "status": "ok" if ok else "degraded",
        "database": database,
        "redis": broker,
        "workers": workers,
    }
    return JsonResponse(body, status=200 if ok else 503)
