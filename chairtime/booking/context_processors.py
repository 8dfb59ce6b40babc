from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from chairtime.booking.models import Salon


def salon(request: HttpRequest) -> dict:
    return {"salon": SimpleLazyObject(Salon.cached)}
