from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from chairtime.ops import health
from chairtime.ops.logging import redact_path

access_logger = logging.getLogger("chairtime.access")

PROBES: dict[str, Callable[[], HttpResponse]] = {
    "/healthz": health.liveness,
    "/readyz": health.readiness,
}


class HealthCheckMiddleware:
    """Answer the probes before anything else runs.

    Kubernetes and the ALB probe the pod IP, which is not in ALLOWED_HOSTS; these
    answers never call ``request.get_host()`` so they cannot fail with a 400, and
    they skip sessions, CSRF and the access log.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe()
        return self.get_response(request)


def loggable_path(request: HttpRequest) -> str:
    """The request path with secrets (customer manage tokens) taken out, by their
    place and shape: a path that does not resolve (a slash missing, a suffix
    added, a 404, 301 or 405) has no resolver match to say where its token is."""
    return redact_path(request.path)


class AccessLogMiddleware:
    """One JSON log line per request; never the query string or the body, which
    can hold customers' names, e-mail addresses, phone numbers and tokens."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        access_logger.info(
            "request",
            extra={
                "method": request.method,
                "path": loggable_path(request),
                "status": response.status_code,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return response
