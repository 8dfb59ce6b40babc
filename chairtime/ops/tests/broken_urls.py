"""A URL pattern whose view fails, for the 5xx metrics test (ROOT_URLCONF there)."""

from django.urls import include, path


def broken(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("broken/", broken, name="broken"),
    path("", include("chairtime.urls")),
]
