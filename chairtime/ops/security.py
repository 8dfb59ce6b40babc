"""Who the client is, and how often it may book or cancel (docs/security.md).

Client IP: behind the ALB, ``REMOTE_ADDR`` is the load balancer. Each proxy
*appends* the address it received the request from to ``X-Forwarded-For``, so
only the entries our own proxies added can be trusted: with
``TRUSTED_PROXY_COUNT = N`` the client is the N-th entry from the right.
Anything further left was written by the client and is ignored. The rate
limiter and django-axes both use ``client_ip``, so a spoofed header can neither
dodge a limit nor lock somebody else out.

Rate limits count in a shared cache (Redis in production, so every pod adds to
the same counter). When Redis cannot be reached, ``FailSoftRedisCache`` keeps
counting in the pod's own memory instead of failing the request: a cache
outage must not stop customers booking. The limit then holds per pod, not
across pods, until Redis is back.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext_lazy
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from chairtime.ops.middleware import loggable_path

logger = logging.getLogger("chairtime.security")

API_PREFIX = "/api/"
RATE_LIMITED_MESSAGE = gettext_lazy(
    "Too many requests from your network in a short time. Please wait a minute and try again."
)


# --- client IP ----------------------------------------------------------------------


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The address of the client, as our own TRUSTED_PROXY_COUNT proxies saw it.

    0 proxies: the socket peer (``REMOTE_ADDR``). N proxies: the N-th entry from
    the right of ``X-Forwarded-For``. A request with fewer entries than that did
    not come through all our proxies (a probe, or a call inside the cluster),
    so its socket peer is the best answer we have.
    """
    cached = getattr(request, "_chairtime_client_ip", None)
    if cached is not None:
        return cached
    remote = request.META.get("REMOTE_ADDR", "") or ""
    address = _valid_ip(remote) or remote
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        # Several X-Forwarded-For headers arrive joined with ", " in one META value.
        entries = [e for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
        if len(entries) >= hops:
            address = _valid_ip(entries[-hops]) or address
    request._chairtime_client_ip = address  # type: ignore[attr-defined]
    return address


def ratelimit_key(group: str, request: HttpRequest) -> str:
    """django-ratelimit's key: one counter per client address."""
    return client_ip(request)


# --- the rate-limit cache -------------------------------------------------------------


class FailSoftRedisCache(RedisCache):
    """Django's RedisCache that falls back to this process's memory while Redis
    is unreachable, instead of raising into the view.

    After a failure it does not try Redis again for ``RETRY_SECONDS``, so an
    unreachable server costs one connect timeout per pod every few seconds,
    not one per request. Only for counters that may be approximate: a value
    written during the outage stays in the pod that wrote it.
    """

    RETRY_SECONDS = 5.0

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._local = LocMemCache(f"chairtime-failsoft-{id(self)}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self._redis_retry_at = 0.0

    def _either(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() >= self._redis_retry_at:
            try:
                return getattr(super(), operation)(*args, **kwargs)
            except (RedisError, OSError) as e:
                self._redis_retry_at = time.monotonic() + self.RETRY_SECONDS
                logger.warning(
                    "rate limit cache unreachable; counting per process",
                    extra={"error": type(e).__name__, "retry_seconds": self.RETRY_SECONDS},
                )
        return getattr(self._local, operation)(*args, **kwargs)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("add", key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return self._either("get", key, default, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._either("set", key, value, timeout, version)

    def incr(self, key, delta=1, version=None):
        return self._either("incr", key, delta, version)

    def delete(self, key, version=None):
        return self._either("delete", key, version)


# --- rate limiting ---------------------------------------------------------------------


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    """429 with Retry-After: JSON for the API, a page for people."""
    response: HttpResponse
    if request.path_info.startswith(API_PREFIX):
        response = JsonResponse({"detail": str(RATE_LIMITED_MESSAGE), "code": "rate_limited"}, status=429)
    else:
        body = loader.render_to_string("errors/429.html", {"message": RATE_LIMITED_MESSAGE}, request=request)
        response = HttpResponse(body, status=429)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


View = Callable[..., HttpResponse]


def rate_limit(group: str, rate_setting: str) -> Callable[[View], View]:
    """Limit POSTs to a view to ``settings.<rate_setting>`` ("10/m") per client IP.

    ``group`` names the counter: views sharing a group share the limit (the
    booking page and the booking API are one "book" limit). Works on Django
    views and, through ``ninja.decorators.decorate_view``, on API operations.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            usage = get_usage(
                request,
                group=group,
                key=ratelimit_key,
                rate=getattr(settings, rate_setting),
                method="POST",
                increment=True,
            )
            if usage is not None and usage["should_limit"]:
                logger.warning(
                    "rate limited", extra={"group": group, "path": loggable_path(request), "status": 429}
                )
                return too_many_requests(request, max(1, int(usage["time_left"])))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
