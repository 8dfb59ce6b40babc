from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from chairtime.booking.models import Salon


class SalonTimeZoneMiddleware:
    """Show and read datetimes in the salon's own zone (pages and back office);
    the database keeps UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            zone = Salon.current_time_zone()
        except DatabaseError:
            # The database is down: let the view run and fail where the error
            # handling turns it into a friendly 503 page; an exception raised here
            # would become a bare 500 instead.
            zone = timezone.get_default_timezone()
        with timezone.override(zone):
            return self.get_response(request)
