from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from chairtime.booking.models import Salon


class SalonTimeZoneMiddleware:
    """Show and read datetimes in the salon's own zone (pages and back office);
    the database keeps UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with timezone.override(Salon.current_time_zone()):
            return self.get_response(request)
