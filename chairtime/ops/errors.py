"""Friendly error pages: a sentence a customer can act on, never a stack trace.

The 400, 403 and 404 pages are rendered with the request, so they carry the
salon's name and announcements like every other page; if that fails (the
database may be why we are here), they fall back to the plain rendering the 500
and 503 pages always use: no context processors, hence no database, no session
and no DynamoDB.

A failure to reach the relational database is a 503 with Retry-After, not a
500: it is nothing the request did wrong and will pass. ``DatabaseUnavailable-
Middleware`` answers it for views; ``server_error`` recognises it when it
escapes from a middleware (the salon time zone, the session) instead.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils import translation
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import requires_csrf_token

from chairtime.ops.middleware import loggable_path

logger = logging.getLogger("chairtime.ops")

# The errors a database that is down, restarting, failing over or unreachable
# raises. OperationalError also covers transient lock timeouts and deadlocks:
# "try again in a moment" is the right answer to those, too.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30
# The JSON API (chairtime.booking.api) answers in its own error format.
API_PREFIX = "/api/"
UNAVAILABLE_MESSAGE = gettext_lazy("Online booking is briefly unavailable. Please try again in a minute.")


def _language(request: HttpRequest | None) -> str:
    """The reader's language from the request alone (the switch's cookie, else
    Accept-Language): the failure may have come before LocaleMiddleware chose it."""
    if request is None:
        return translation.get_language() or "en"
    return translation.get_language_from_request(request)


def _plain(template_name: str, status: int, request: HttpRequest | None = None) -> HttpResponse:
    """Render without the request: touches neither the database nor the session."""
    with translation.override(_language(request)):
        return HttpResponse(loader.render_to_string(template_name, {"plain": True}), status=status)


def _friendly(request: HttpRequest, template_name: str, status: int) -> HttpResponse:
    try:
        return HttpResponse(loader.render_to_string(template_name, {}, request=request), status=status)
    except Exception:
        logger.warning("error page rendered without context", exc_info=True)
        return _plain(template_name, status, request)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _friendly(request, "errors/400.html", 400)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _friendly(request, "errors/403.html", 403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _friendly(request, "errors/404.html", 404)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while it handles the exception, so it is still current.
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_UNAVAILABLE):
        # Raised before any view ran (the salon's time zone, the session): the
        # middleware never saw it. Same answer, same single log line.
        log_database_unavailable(request, error)
        response = database_unavailable(request)
        response._has_been_logged = True  # type: ignore[attr-defined]  # no ERROR + traceback too
        return response
    return _plain("errors/500.html", 500, request)


def log_database_unavailable(request: HttpRequest, error: BaseException) -> None:
    logger.warning(
        "database unavailable",
        extra={"error": type(error).__name__, "detail": str(error)[:200], "path": loggable_path(request)},
    )


def database_unavailable(request: HttpRequest | None = None) -> HttpResponse:
    """503 with Retry-After: a page for people, JSON for the API."""
    response: HttpResponse
    if request is not None and request.path_info.startswith(API_PREFIX):
        with translation.override(_language(request)):
            detail = str(UNAVAILABLE_MESSAGE)
        response = JsonResponse({"detail": detail, "code": "unavailable"}, status=503)
    else:
        response = _plain("errors/503.html", 503, request)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
