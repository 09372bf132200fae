"""GET /healthz: 200 {"status": "ok"} when the database, Redis and at least one Celery
worker answer, else 503 {"status": "degraded"}.

The probe is public (load balancers call it without credentials), so that is all it tells
the world. The parts (database, redis, and how many workers answered) are added for a caller
on this machine (a loopback address, not through a proxy: the launchers and the test
harness wait on the worker count) and for a signed-in staff user.
"""

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


LOOPBACK = ("127.0.0.1", "::1")
# A request a proxy forwarded reaches us from a loopback address too, for anyone outside.
FORWARDED = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP")


def _shows_details(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    local = request.META.get("REMOTE_ADDR") in LOOPBACK
    return local and not any(name in request.META for name in FORWARDED)


def healthz(request: HttpRequest) -> JsonResponse:
    database, broker = _database(), _redis()
    workers = _workers() if broker == "ok" else 0
    ok = database == "ok" and broker == "ok" and workers > 0
    body = {"status": "ok" if ok else "degraded"}
    if _shows_details(request):
        body.update(database=database, redis=broker, workers=workers)
    return JsonResponse(body, status=200 if ok else 503)
