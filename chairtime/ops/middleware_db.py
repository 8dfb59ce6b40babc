from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from chairtime.ops.errors import DATABASE_UNAVAILABLE, database_unavailable, log_database_unavailable


class DatabaseUnavailableMiddleware:
    """Answer "back in a moment" (503) when a view cannot reach the database.

    One WARNING line per request and a page that tells customers to retry,
    instead of an exception report per request while the outage lasts, and the
    same answer with DEBUG on. Failures raised before any view runs (in other
    middleware) reach ``chairtime.ops.errors.server_error``, which answers them
    the same way.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        log_database_unavailable(request, exception)
        response = database_unavailable(request)
        # Django's request logger would add an ERROR line for the 503 as well;
        # the warning above is the whole story.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
