"""A few seconds' memory of the availability API's answers, per process.

Many customers look at the same service, stylist and day within the same seconds;
each answer costs one database query plus the request parsing and JSON rendering
of django-ninja (about 1.1 ms of CPU in-process, four times Django's cheapest
view; docs/performance.md). Answering a repeat of the same question from memory
costs about as much as that cheapest view.

How stale an answer can be:
- in this process, never staler than the last booking, cancellation or
  configuration change made here: each one forgets every answer as soon as it
  commits (not before: an answer computed from the tables before the commit would
  be kept), and an answer being computed meanwhile is not kept;
- made by another process (another gunicorn worker, another pod), at most
  ``AVAILABILITY_CACHE_SECONDS`` (default 2 s; 0 switches the cache off).
A stale answer can only offer a time that was taken in those seconds, which any
answer can do a moment after it was given: the booking service decides on the
locked rows and refuses such a booking with a 409 ("That time has just been
taken"). The minimum notice likewise moves on by at most that long.

Only 200 answers to GETs are kept, keyed by path and the query parameters (sorted,
so their order does not matter); at most MAX_ENTRIES, dropped all at once when full.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse

from chairtime.booking.models import Appointment

MAX_ENTRIES = 4096

_lock = threading.Lock()
_generation = 0
# key -> (expires at (monotonic), content type, body) of a 200
_entries: dict[str, tuple[float, str, bytes]] = {}


def invalidate(**_signal_kwargs: object) -> None:
    """Stop serving every answer given so far (in this process)."""
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


def micro_cache(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve a GET from the answers of the last AVAILABILITY_CACHE_SECONDS."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        seconds = settings.AVAILABILITY_CACHE_SECONDS
        if seconds <= 0 or request.method != "GET":
            return view(request, *args, **kwargs)
        key = request.path + "?" + "&".join(sorted(request.META.get("QUERY_STRING", "").split("&")))
        generation = _generation
        entry = _entries.get(key)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return HttpResponse(entry[2], content_type=entry[1])

        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming:
            with _lock:
                # A booking that landed while this answer was computed has moved
                # the generation on: keep nothing that may predate it.
                if generation == _generation:
                    if len(_entries) >= MAX_ENTRIES:
                        _entries.clear()
                    _entries[key] = (now + seconds, response["Content-Type"], response.content)
        return response

    return wrapper


def invalidate_on_commit(*, using: str | None = None, **_signal_kwargs: object) -> None:
    """invalidate() once the current transaction commits (at once outside one;
    never if it rolls back)."""
    transaction.on_commit(invalidate, using=using)


# A new appointment, a cancellation (a save) or a deletion changes what is free;
# so does any configuration change the read paths' snapshot sees (catalog.clear).
post_save.connect(invalidate_on_commit, sender=Appointment, dispatch_uid="microcache-appointment-save")
post_delete.connect(invalidate_on_commit, sender=Appointment, dispatch_uid="microcache-appointment-delete")
