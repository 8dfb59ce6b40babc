"""The bare project's only URL: the same trivial view as bench/urls.py."""

from django.urls import path

from bench.views import trivial

urlpatterns = [path("bench/trivial", trivial)]
