"""The app's URLs and /bench/trivial, the cheapest response Django can give
through the full middleware stack: the bench's throughput ceiling."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from chairtime.urls import handler400, handler403, handler404, handler500  # noqa: F401


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/trivial", trivial),
    path("", include("chairtime.urls")),
]
