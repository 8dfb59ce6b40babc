"""The app's URLs and /bench/trivial, the cheapest response Django can give
through the full middleware stack: the trivial view's throughput."""

from django.urls import include, path

from bench.views import trivial
from chairtime.urls import handler400, handler403, handler404, handler500  # noqa: F401

urlpatterns = [
    path("bench/trivial", trivial),
    path("", include("chairtime.urls")),
]
