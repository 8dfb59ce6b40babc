from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Callable

import csp.middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django_guid.context import guid

from chairtime.ops import booking_metrics, health, metrics
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


REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_META = "HTTP_X_REQUEST_ID"
# A caller's id is echoed in the response and written to every log line of the
# request: only a short, plain one is taken (a UUID, a trace id), else a new one.
_ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    """Tag the request, its log lines and its response with a request id: the
    caller's ``X-Request-ID`` (the ALB's, another service's), or a new one.

    What django-guid's middleware did with our settings, at a tenth of its cost
    (it built the request's whole header dict, resolved the full path twice and
    read its settings on every request). The id lives in django-guid's context
    variable, which the ``request_id`` log filter reads.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.META.get(_REQUEST_ID_META, "")
        request_id = given if _ACCEPTED_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request.correlation_id = request_id  # type: ignore[attr-defined]
        token = guid.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            guid.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        response["Access-Control-Expose-Headers"] = REQUEST_ID_HEADER
        return response


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
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        access_logger.info(
            "request",
            extra={
                "method": request.method,
                "path": loggable_path(request),
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        if metrics.enabled():
            route = metric_route(request)
            metrics.request_done(
                route=route,
                method=metric_method(request),
                status=response.status_code,
                latency_ms=duration_ms,
            )
            code = booking_metrics.refusal_code(route, response)
            if code is not None:
                metrics.booking_refused(code=code, route=route)
        return response


# Methods a metric dimension names; anything else a client sends is "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def metric_route(request: HttpRequest) -> str:
    """The name of the URL pattern that served ``request`` (``booking:manage``), never
    its path, which can hold a manage token; ``unmatched`` when none did, ``static``
    for a static file, ``admin`` for any admin page."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return metrics.STATIC if request.path.startswith(settings.STATIC_URL) else metrics.UNMATCHED
    if match.namespaces and match.namespaces[0] == "admin":
        return metrics.ADMIN
    return match.view_name


def metric_method(request: HttpRequest) -> str:
    return request.method if request.method in _METHODS else "other"


# --- Content-Security-Policy ---------------------------------------------------------

# What django-csp's decorators set on a response that wants a policy of its own.
_PER_RESPONSE_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


@functools.cache
def _settings_policies() -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """(header, value, exemption attribute, excluded path prefixes) for the
    enforced and the report-only policy, as the settings define them."""
    policies = []
    for header, setting, exempt in (
        (HEADER, "CONTENT_SECURITY_POLICY", "_csp_exempt"),
        (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro"),
    ):
        value = build_policy(report_only=header == HEADER_REPORT_ONLY)
        if value:
            prefixes = tuple((getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ())
            policies.append((header, value, exempt, prefixes))
    return tuple(policies)


@receiver(setting_changed)
def _forget_policies(*, setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _settings_policies.cache_clear()


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware, with the settings' policy built once per process
    instead of twice per response (enforced and report-only, each from the
    settings dict through copies and joins: a sixth of a trivial request).

    A response that asks for its own policy (django-csp's ``csp_update`` /
    ``csp_replace`` / ``csp_override`` decorators) or a request that used a
    nonce goes through django-csp's own code, unchanged; so do Django's debug
    404 and 500 pages, which it leaves without a policy when DEBUG is on.
    """

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if isinstance(getattr(request, "_csp_nonce", None), str) or any(
            getattr(response, name, None) is not None for name in _PER_RESPONSE_POLICY
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        for header, value, exempt, prefixes in _settings_policies():
            if (
                header not in response
                and getattr(response, exempt, False) is False
                and not (prefixes and request.path_info.startswith(prefixes))
            ):
                response[header] = value
        # As django-csp does: a nonce asked for after the header is written is an error.
        request.csp_nonce = csp.middleware.CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
