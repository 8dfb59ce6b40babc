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


def readiness() -> HttpResponse:
    from chairtime.announcements.store import get_store

    database = database_status()
    dynamodb = get_store().health()
    ready = database["status"] == "ok"
    return _json(
        {"status": "ok" if ready else "error", "database": database, "dynamodb": dynamodb},
        200 if ready else 503,
    )
