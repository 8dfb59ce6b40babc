"""One service of one plain length with one of some stylists: the questions
Chairtime asked before phases, answered by the visit search (a visit of one item
whose treatments are one working phase each), so both can never disagree."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from chairtime.booking.availability.days import check_day
from chairtime.booking.availability.rules import Policy, Refusal, StylistSchedule
from chairtime.booking.availability.spans import ZERO, as_utc
from chairtime.booking.availability.treatments import Treatment
from chairtime.booking.availability.visits import (
    Plan,
    VisitItem,
    first_free_visit_starts,
    free_visit_starts,
    plan_visit,
)


def free_starts(
    schedule: StylistSchedule, policy: Policy, day: date, duration: timedelta, now: datetime
) -> list[datetime]:
    """Every start time on local ``day`` at which the stylist can take a service of
    ``duration``, ascending, as aware datetimes in ``policy.time_zone``.

    A start is offered when:

    * the whole service ``[start, start + duration)`` lies inside one working
      interval of that day (a service may not straddle a break, or two adjacent
      intervals);
    * it overlaps no booking and no time off (half-open: back to back is fine);
    * ``start >= now + policy.min_notice``;
    * ``day`` is between local today and today + ``horizon_days`` and is not a
      closure.

    Starts lie on a grid anchored at each working interval's start and stepping
    ``slot_minutes`` in absolute time, so a stylist starting at 09:15 offers
    09:15, 09:45, ... and a night interval over a clock change offers every real
    instant on the grid: 01:00, 01:30, 03:00 PDT when the clocks spring forward;
    01:00 PDT, 01:30 PDT, 01:00 PST, 01:30 PST when they fall back.

    On the fall-back night two returned values can differ only in ``fold`` and
    then compare equal with ``==`` (see the package docstring): convert to UTC
    before comparing, de-duplicating or using them as keys, or use
    :func:`check_start` to test a given start.

    Raises ValueError when ``now`` is naive or ``duration`` is not positive.
    """
    tz = policy.time_zone
    return [start.astimezone(tz) for start in free_starts_any([schedule], policy, day, duration, now)]


def free_starts_any(
    schedules: Sequence[StylistSchedule], policy: Policy, day: date, duration: timedelta, now: datetime
) -> dict[datetime, list[int]]:
    """The starts on local ``day`` at which at least one of ``schedules`` is free
    (see :func:`free_starts`), each mapped to the ids of the stylists free then, in
    the order of ``schedules``. Keys are in ascending order.

    Keys show the salon's local wall time and UTC offset, but their ``tzinfo`` is
    a fixed-offset ``datetime.timezone`` (named like the local zone, e.g. "PDT"),
    not the ``ZoneInfo``: a ``ZoneInfo`` key cannot tell 01:00 PDT from 01:00 PST
    on the fall-back night (they are equal and hash alike), so one would overwrite
    the other. Fixed-offset keys compare, hash and sort by instant.
    ``key.astimezone(policy.time_zone)`` gives the zoned datetime back.

    Raises ValueError when ``now`` is naive or ``duration`` is not positive.
    """
    check_day(day, "day")
    as_utc(now, "now")
    item = _item(schedules, duration)
    return free_visit_starts(_by_id(schedules), policy, day, [item], now)


def first_free_starts(
    schedules: Sequence[StylistSchedule], policy: Policy, duration: timedelta, now: datetime, limit: int
) -> list[tuple[datetime, list[int]]]:
    """The first ``limit`` starts from ``now`` on at which at least one of
    ``schedules`` is free, across the bookable days in order: what
    :func:`free_starts_any` gives day after day, without asking day by day.
    Each start (a key as in :func:`free_starts_any`) comes with the ids of the
    stylists free then."""
    item = _item(schedules, duration)
    return first_free_visit_starts(_by_id(schedules), policy, [item], now, limit)


def check_start(
    schedule: StylistSchedule, policy: Policy, start: datetime, duration: timedelta, now: datetime
) -> Refusal | None:
    """Whether the stylist can take a service of ``duration`` at ``start``.

    Returns None exactly when ``start`` (any aware datetime; compared as an
    instant) is among ``free_starts`` for the local day of ``start``. Otherwise
    returns the first reason that applies, in this order: IN_THE_PAST, TOO_SOON,
    BEYOND_HORIZON, CLOSED, OUTSIDE_HOURS (the whole service must fit one working
    interval), OFF_GRID, TIME_OFF, TAKEN.

    Raises ValueError when ``start`` or ``now`` is naive or ``duration`` is not
    positive.
    """
    item = _item([schedule], duration)
    result = plan_visit({schedule.stylist_id: schedule}, policy, start, [item], now)
    return None if isinstance(result, Plan) else result


def _item(schedules: Sequence[StylistSchedule], duration: timedelta) -> VisitItem:
    if duration <= ZERO:
        raise ValueError(f"duration must be positive, got {duration!r}")
    treatment = Treatment.simple(duration)
    return VisitItem(tuple((schedule.stylist_id, treatment) for schedule in schedules))


def _by_id(schedules: Sequence[StylistSchedule]) -> dict[int, StylistSchedule]:
    return {schedule.stylist_id: schedule for schedule in schedules}
