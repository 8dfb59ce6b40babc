"""Booking outcomes as metrics, measured from outside the booking code.

- Booked: every Appointment inserted, counted once its transaction commits (a
  visit is several appointments; pages, API, front desk and waitlist alike).
- Refused: a booking request answered with the domain's refusal. The API says
  which (the ``code`` of its error body, a BookingError code); the customer pages
  answer every refusal of the time with a 409 and do not say which, so theirs are
  counted under the code ``conflict``.
- Lock conflicts: the database aborted a booking transaction to break a deadlock or
  a lock wait and it was run again (chairtime.booking.transactions logs each retry).
"""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.http import HttpResponse

from chairtime.booking.availability import Refusal
from chairtime.booking.errors import Problem
from chairtime.ops import metrics

# The codes BookingError gives its refusals (BookingError.code): nothing else in an
# error body becomes a dimension value.
REFUSAL_CODES = frozenset(reason.name.lower() for reason in (*Refusal, *Problem))
PAGE_CONFLICT = "conflict"
_REFUSAL_STATUSES = (404, 409, 422)
# The log line chairtime.booking.transactions.run_durable writes before a retry.
LOCK_CONFLICT_MESSAGE = "lock conflict, retrying"


def _appointment_saved(*, created: bool, **kwargs) -> None:
    if created and metrics.enabled():
        transaction.on_commit(lambda: metrics.appointments_booked(1))


def connect() -> None:
    from chairtime.booking.models import Appointment

    post_save.connect(_appointment_saved, sender=Appointment, dispatch_uid="ops-metrics-appointment-booked")


def refusal_code(route: str, response: HttpResponse) -> str | None:
    """The booking refusal ``response`` answers, by its code; None if it is none."""
    if response.status_code not in _REFUSAL_STATUSES:
        return None
    if route.startswith("booking:"):
        return PAGE_CONFLICT if response.status_code == 409 else None
    if not route.startswith("api:") or not response.get("Content-Type", "").startswith("application/json"):
        return None
    try:
        code = json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        return None
    return code if code in REFUSAL_CODES else None


class CountLockConflicts(logging.Filter):
    """On the chairtime.booking logger: a metric for every lock-conflict retry.
    Lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == LOCK_CONFLICT_MESSAGE:
            metrics.lock_conflict(operation=str(record.__dict__.get("operation", "unknown")))
        return True
