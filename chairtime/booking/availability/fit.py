"""Whether time already booked still fits its stylist's schedule.

A booking is checked when it is made (:mod:`visits`). When staff change the
schedule afterwards (time off, a closure, special hours, weekly hours), the
appointments already booked are checked again with the same rule, so that none
is left standing outside its stylist's hours without anyone saying so
(``chairtime/booking/schedule_changes.py``).

The rule is the engine's: the span the appointment occupies, its buffers
included, lies inside one of the stylist's working intervals of its local day
(special hours and the salon's special hours applied), the day is not a closure,
and no time off overlaps it. Other bookings do not matter here: they were
checked against this one when they were made.
"""

from __future__ import annotations

from datetime import datetime

from chairtime.booking.availability.rules import Policy, Refusal, StylistSchedule, working_spans
from chairtime.booking.availability.spans import as_utc


def misfit(schedule: StylistSchedule, policy: Policy, start: datetime, end: datetime) -> Refusal | None:
    """Why an appointment occupying ``[start, end)`` (buffers included) no longer
    fits ``schedule``: CLOSED, OUTSIDE_HOURS or TIME_OFF; None when it fits.

    Its day is the local date of ``start``, as when it was booked."""
    start_utc, end_utc = as_utc(start, "start"), as_utc(end, "end")
    if end_utc <= start_utc:
        raise ValueError("end must be after start")
    day = start_utc.astimezone(policy.time_zone).date()
    if day in policy.closures:
        return Refusal.CLOSED
    if not any(
        open_ <= start_utc and end_utc <= close for open_, close in working_spans(schedule, policy, day)
    ):
        return Refusal.OUTSIDE_HOURS
    if schedule.time_off_spans.overlaps(start_utc, end_utc):
        return Refusal.TIME_OFF
    return None
