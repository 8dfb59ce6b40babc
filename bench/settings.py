"""The production settings plus one URL: a trivial view served by the same
gunicorn process as the app, so that the bench can compare each endpoint's
throughput with Django's own ceiling on this machine."""

from chairtime.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

# The bench is one client address hammering the API on purpose; it measures the
# booking path, not the per-address rate limiter (the driver raises the limits
# through BOOKING_RATE_LIMIT/CANCEL_RATE_LIMIT). Its counters live in each
# process, which is what django_ratelimit.E003 objects to with DEBUG off.
SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "django_ratelimit.E003"]
