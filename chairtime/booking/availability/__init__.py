"""The booking rules: which start times can be offered for a service or a visit.

This module is pure: it knows nothing about Django, the database or the clock.
Callers hand it plain data (a :class:`Policy`, one :class:`StylistSchedule` per
stylist) and the current instant ``now``, and get plain data back. That keeps the
rules fast to test exhaustively, including the daylight-saving days on which
booking code usually goes wrong.

Time model
----------
* Working hours are *local wall-clock times* of the salon (``Policy.time_zone``)
  and stay so on daylight-saving days: 09:00-17:00 means 09:00-17:00 local on the
  day the clocks change, too.
* Everything else (``now``, bookings, time off, the returned start times) is an
  *instant*: an aware ``datetime``, whatever zone it happens to be expressed in.
* Internally every instant is converted to UTC before it is compared, subtracted
  or added to. Two reasons, both easy to trip over:

  - ``aware + timedelta`` keeps the ``tzinfo`` and adds to the *wall clock*:
    01:30 PDT + 1 hour in ``ZoneInfo("America/Los_Angeles")`` gives 02:30 PST on
    the fall-back night, two real hours later. In UTC, wall clock and elapsed time
    are the same thing, so the arithmetic is absolute.
  - Two datetimes sharing one ``ZoneInfo`` compare and hash by wall clock,
    ignoring ``fold``: on the fall-back night 01:00 PDT == 01:00 PST is True, and a
    set keeps only one of them. Across zones, ``==`` is False whenever one side is
    an ambiguous local time, even for the same instant (PEP 495). UTC datetimes
    have neither problem.

* A local date becomes instants through :func:`day_bounds`; a local day lasts 23
  or 25 hours when the clocks change, so never assume 24.

Inside
------
* ``rules``: what callers hand in (:class:`Policy`, :class:`StylistSchedule`)
  and :class:`Refusal`; a stylist's working spans of a day.
* ``treatments``: a service as one stylist does it: phases, processing time,
  buffers (:class:`Phase`, :class:`Treatment`).
* ``resources``: units of basins and colour stations and their holds.
* ``visits``: the one search, for visits of one or several services
  (:func:`free_visit_starts`, :func:`plan_visit`).
* ``single``: the one-service, one-length questions, asked of that search.
* ``fit``: whether time already booked still fits a changed schedule.
* ``days`` and ``spans``: local days to UTC instants; sorted spans.

Complexity: a :class:`StylistSchedule` sorts and merges its bookings and time off
once, when it is built (O(B log B)). Each query then costs O(S log B) for S
candidate start times, however long the booking history handed in, so one
schedule built for a whole booking horizon can be queried day by day.
"""

from chairtime.booking.availability.days import day_bounds
from chairtime.booking.availability.fit import misfit
from chairtime.booking.availability.resources import NO_RESOURCES, Resources
from chairtime.booking.availability.rules import (
    Policy,
    Refusal,
    StylistSchedule,
    bookable_dates,
    check_timing,
    local_today,
)
from chairtime.booking.availability.single import check_start, first_free_starts, free_starts, free_starts_any
from chairtime.booking.availability.treatments import Phase, Treatment
from chairtime.booking.availability.visits import (
    Placement,
    Plan,
    VisitItem,
    first_free_visit_starts,
    free_visit_starts,
    plan_visit,
)

__all__ = [
    "NO_RESOURCES",
    "Phase",
    "Placement",
    "Plan",
    "Policy",
    "Refusal",
    "Resources",
    "StylistSchedule",
    "Treatment",
    "VisitItem",
    "bookable_dates",
    "check_start",
    "check_timing",
    "day_bounds",
    "first_free_starts",
    "first_free_visit_starts",
    "free_starts",
    "free_starts_any",
    "free_visit_starts",
    "local_today",
    "misfit",
    "plan_visit",
]
