"""The trivial view both bench projects serve: the cheapest answer Django gives."""

from django.http import HttpRequest, HttpResponse


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
