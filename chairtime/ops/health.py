"""Liveness and readiness.

``/healthz`` touches nothing: it says the process can answer HTTP, so Kubernetes
restarts a pod only when the pod itself is wedged, never because a shared
dependency is down (restarting every pod would not bring the database back).
``/readyz`` asks the relational database, which every page needs; DynamoDB is
reported but never fails readiness, because pages work without announcements.
"""

from __future__ import annotations

import json
import logging
import time

from django.core.cache import cache
from django.db import DatabaseError, connections
from django.http import HttpResponse

logger = logging.getLogger("chairtime.ops")


def _json(payload: dict, status: int) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def liveness() -> HttpResponse:
    return _json({"status": "ok"}, 200)


def database_status() -> dict:
    started = time.monotonic()
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as e:
        # Drop the broken connection so the next probe reconnects from scratch:
        # when the database comes back, the pod becomes ready without a restart.
        connection.close()
        logger.warning("readiness: database unavailable", extra={"error": str(e)[:200]})
        return {"status": "error", "detail": type(e).__name__}
    return {"status": "ok", "latency_ms": round((time.monotonic() - started) * 1000, 1)}


# Probes come every few seconds from every kubelet and the load balancer; DynamoDB's
# status is only informative, so one look per interval is enough and keeps a slow
# DynamoDB from stretching every probe towards its timeout.
DYNAMODB_STATUS_CACHE_SECONDS = 10
DYNAMODB_STATUS_CACHE_KEY = "chairtime:readyz:dynamodb"


def dynamodb_status() -> dict:
    from chairtime.announcements.store import get_store

    status = cache.get(DYNAMODB_STATUS_CACHE_KEY)
    if status is None:
        status = get_store().health()
        cache.set(DYNAMODB_STATUS_CACHE_KEY, status, DYNAMODB_STATUS_CACHE_SECONDS)
    return status


def readiness() -> HttpResponse:
    database = database_status()
    dynamodb = dynamodb_status()
    ready = database["status"] == "ok"
    return _json(
        {"status": "ok" if ready else "error", "database": database, "dynamodb": dynamodb},
        200 if ready else 503,
    )
