"""The booking rules: which start times a stylist can offer for a service.

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

Complexity: a :class:`StylistSchedule` sorts and merges its bookings and time off
once, when it is built (O(B log B)). Each query then costs O(S log B) for S
candidate start times, however long the booking history handed in, so one
schedule built for a whole booking horizon can be queried day by day.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from operator import itemgetter
from types import MappingProxyType
from typing import cast
from zoneinfo import ZoneInfo

__all__ = [
    "Policy",
    "Refusal",
    "StylistSchedule",
    "bookable_dates",
    "check_start",
    "check_timing",
    "day_bounds",
    "first_free_starts",
    "free_starts",
    "free_starts_any",
    "local_today",
]

_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)
# As the *end* of a working interval, 00:00 means the midnight that ends the day:
# it is the only way to say "until midnight" with a ``datetime.time``.
_MIDNIGHT = time(0)


@dataclass(frozen=True)
class Policy:
    """The salon-wide booking rules.

    ``closures`` accepts any iterable of local dates and is stored as a frozenset.
    """

    time_zone: ZoneInfo
    slot_minutes: int
    min_notice: timedelta
    horizon_days: int
    closures: frozenset[date] = frozenset()
    # Salon-wide special hours: local date -> the salon's opening intervals that
    # day, which limit every stylist's hours (24 December: 09:00-15:00). No
    # intervals means closed: a closure is the special day with no hours.
    special_hours: Mapping[date, Sequence[tuple[time, time]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.slot_minutes <= 0:
            raise ValueError(f"slot_minutes must be positive, got {self.slot_minutes!r}")
        if self.min_notice < _ZERO:
            # A negative notice would offer starts that check_start refuses as past.
            raise ValueError(f"min_notice must not be negative, got {self.min_notice!r}")
        if self.horizon_days < 0:
            raise ValueError(f"horizon_days must not be negative, got {self.horizon_days!r}")
        special = _checked_special_hours(self.special_hours, "special_hours")
        closures = frozenset(self.closures) | {day for day, intervals in special.items() if not intervals}
        for day in closures:
            _check_day(day, "closures")
        # Frozen dataclass: __post_init__ may only normalise through object.__setattr__.
        object.__setattr__(self, "closures", closures)
        object.__setattr__(self, "special_hours", special)


@dataclass(frozen=True)
class StylistSchedule:
    """One stylist's weekly working hours, time off and confirmed appointments.

    ``weekly_hours`` maps a weekday (0 = Monday .. 6 = Sunday) to local half-open
    ``[start, end)`` wall-clock intervals; gaps between intervals are breaks, a
    missing weekday is a day off. An end of ``time(0)`` means midnight at the end
    of the day. Intervals may come in any order; each one is its own grid (see
    :func:`free_starts`).

    ``special_hours`` maps a local date to the intervals that replace that date's
    weekly hours (same shape; empty: not working that day).

    ``time_off`` and ``bookings`` are aware, half-open ``[start, end)`` instants.

    The sequences are copied into tuples when the schedule is built, so later
    changes to the caller's lists cannot desynchronise it.

    Raises ValueError for naive datetimes, timezone-aware working hours, weekdays
    outside 0..6 and spans or intervals whose end is not after their start.
    """

    stylist_id: int
    weekly_hours: Mapping[int, Sequence[tuple[time, time]]]
    time_off: Sequence[tuple[datetime, datetime]] = ()
    bookings: Sequence[tuple[datetime, datetime]] = ()
    # The stylist's special hours: local date -> intervals that replace the weekly
    # hours of that date (an extra Sunday shift, a late evening); none: a day off.
    special_hours: Mapping[date, Sequence[tuple[time, time]]] = field(default_factory=dict)
    # Derived once, here, so that queries can bisect instead of scanning.
    _hours: Mapping[int, tuple[tuple[time, time], ...]] = field(init=False, repr=False, compare=False)
    _time_off_spans: _Spans = field(init=False, repr=False, compare=False)
    _booking_spans: _Spans = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hours = {
            _checked_weekday(weekday): _checked_intervals(f"day {weekday}", intervals)
            for weekday, intervals in self.weekly_hours.items()
        }
        object.__setattr__(self, "special_hours", _checked_special_hours(self.special_hours, "special_hours"))
        time_off = tuple(self.time_off)
        bookings = tuple(self.bookings)
        object.__setattr__(self, "weekly_hours", MappingProxyType(hours))
        object.__setattr__(self, "time_off", time_off)
        object.__setattr__(self, "bookings", bookings)
        # Sorted by wall-clock start so that results never depend on input order.
        object.__setattr__(
            self, "_hours", MappingProxyType({wd: tuple(sorted(iv)) for wd, iv in hours.items()})
        )
        object.__setattr__(self, "_time_off_spans", _Spans.merge(_utc_spans(time_off, "time_off")))
        object.__setattr__(self, "_booking_spans", _Spans.merge(_utc_spans(bookings, "bookings")))


@enum.unique  # two members with the same message would silently become aliases
class Refusal(enum.Enum):
    """Why a start time cannot be booked; the value is the customer-facing message.

    Members are listed in the order :func:`check_start` checks them.
    """

    IN_THE_PAST = "That time has already passed. Please choose a later time."
    TOO_SOON = "That time is too soon to book online. Please choose a later time."
    BEYOND_HORIZON = "That date is too far ahead to book yet. Please choose an earlier date."
    CLOSED = "The salon is closed on that day. Please choose another day."
    OUTSIDE_HOURS = (
        "Your stylist isn't working for the whole of this service at that time. Please choose another time."
    )
    OFF_GRID = "Appointments can't start at that time. Please choose one of the times offered."
    TIME_OFF = "Your stylist is away at that time. Please choose another time."
    TAKEN = "That time has just been taken. Please choose another time."

    @property
    def message(self) -> str:
        """The message to show the customer."""
        return self.value


def local_today(policy: Policy, now: datetime) -> date:
    """The salon's local date at the instant ``now`` (which may be in any zone).

    Late in the local evening UTC is already tomorrow: the salon's calendar, not
    UTC's, decides what "today" is.
    """
    return _as_utc(now, "now").astimezone(policy.time_zone).date()


def bookable_dates(policy: Policy, now: datetime) -> list[date]:
    """The local dates customers may book at ``now``, ascending: local today
    through today + ``horizon_days`` (inclusive), without closures.

    A listed date may still have no free start; see :func:`free_starts`.
    """
    today = local_today(policy, now)
    # Date arithmetic is calendar arithmetic; no time zone is involved here.
    days = (today + timedelta(days=offset) for offset in range(policy.horizon_days + 1))
    return [day for day in days if day not in policy.closures]


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which local ``day`` begins and the next local day begins.

    The day is ``[start, end)``; it lasts 23 or 25 hours on daylight-saving days.
    Use these bounds, never UTC dates or ``start + 24h``, to select the day's
    bookings.
    """
    _check_day(day, "day")
    # In zones that change clocks at midnight, local 00:00 may not exist (the day
    # then begins at 01:00) or may happen twice. fold=0 reads a missing time with
    # the offset before the jump, which lands exactly on the first instant of the
    # day, and picks the first of two; either way: the day's first instant.
    return _wall_to_utc(day, _MIDNIGHT, tz), _wall_to_utc(day + _ONE_DAY, _MIDNIGHT, tz)


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
    then compare equal with ``==`` (see the module docstring): convert to UTC
    before comparing, de-duplicating or using them as keys, or use
    :func:`check_start` to test a given start.

    Raises ValueError when ``now`` is naive or ``duration`` is not positive.
    """
    _check_day(day, "day")
    _check_duration(duration)
    now_utc = _as_utc(now, "now")
    tz = policy.time_zone
    return [start.astimezone(tz) for start in _free_instants(schedule, policy, day, duration, now_utc)]


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
    _check_day(day, "day")
    _check_duration(duration)
    now_utc = _as_utc(now, "now")
    free: dict[datetime, list[int]] = {}  # UTC keys: safe to hash
    for schedule in schedules:
        for start in _free_instants(schedule, policy, day, duration, now_utc):
            free.setdefault(start, []).append(schedule.stylist_id)
    return {_fixed_offset_local(start, policy.time_zone): free[start] for start in sorted(free)}


def first_free_starts(
    schedules: Sequence[StylistSchedule], policy: Policy, duration: timedelta, now: datetime, limit: int
) -> list[tuple[datetime, list[int]]]:
    """The first ``limit`` starts from ``now`` on at which at least one of
    ``schedules`` is free, across the bookable days in order: what
    :func:`free_starts_any` gives day after day, without asking day by day.
    Each start (a key as in :func:`free_starts_any`) comes with the ids of the
    stylists free then."""
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit!r}")
    found: list[tuple[datetime, list[int]]] = []
    for day in bookable_dates(policy, now):
        found.extend(free_starts_any(schedules, policy, day, duration, now).items())
        if len(found) >= limit:
            break
    return found[:limit]


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
    _check_duration(duration)
    start_utc = _as_utc(start, "start")
    now_utc = _as_utc(now, "now")
    tz = policy.time_zone

    timing = _timing_refusal(policy, start_utc, now_utc)
    if timing is not None:
        return timing
    day = start_utc.astimezone(tz).date()
    if day in policy.closures:
        return Refusal.CLOSED

    end_utc = start_utc + duration
    fitting = [
        interval_start
        for interval_start, interval_end in _working_spans(schedule, policy, day)
        if interval_start <= start_utc and end_utc <= interval_end
    ]
    if not fitting:
        return Refusal.OUTSIDE_HOURS
    step = _step(policy)
    # On the grid of any interval the service fits in, measured in absolute time
    # from that interval's start, exactly as free_starts steps it.
    if all((start_utc - interval_start) % step != _ZERO for interval_start in fitting):
        return Refusal.OFF_GRID
    if schedule._time_off_spans.overlaps(start_utc, end_utc):
        return Refusal.TIME_OFF
    if schedule._booking_spans.overlaps(start_utc, end_utc):
        return Refusal.TAKEN
    return None


def check_timing(policy: Policy, start: datetime, now: datetime) -> Refusal | None:
    """The refusals that depend only on when ``start`` is, not on anybody's
    schedule: IN_THE_PAST, TOO_SOON or BEYOND_HORIZON, else None.

    Callers use it to turn away absurd dates (year 1 or 9999) before reading
    any schedule for them; :func:`check_start` applies the same checks first.
    """
    return _timing_refusal(policy, _as_utc(start, "start"), _as_utc(now, "now"))


# --- internals ------------------------------------------------------------------


def _timing_refusal(policy: Policy, start_utc: datetime, now_utc: datetime) -> Refusal | None:
    if start_utc < now_utc:
        return Refusal.IN_THE_PAST
    if start_utc < now_utc + policy.min_notice:
        return Refusal.TOO_SOON
    # start >= now, so its local date is never before local today.
    tz = policy.time_zone
    if start_utc.astimezone(tz).date() > now_utc.astimezone(tz).date() + timedelta(days=policy.horizon_days):
        return Refusal.BEYOND_HORIZON
    return None


@dataclass(frozen=True, slots=True)
class _Spans:
    """Sorted, disjoint, half-open UTC spans answering "does [a, b) overlap any?"
    in O(log n)."""

    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]

    @classmethod
    def merge(cls, spans: Iterable[tuple[datetime, datetime]]) -> _Spans:
        starts: list[datetime] = []
        ends: list[datetime] = []
        # Sorting on the start alone is enough for the merge and runs in linear
        # time when the caller already ordered the spans (ORDER BY start).
        for start, end in sorted(spans, key=itemgetter(0)):
            # Overlapping or touching spans merge: for half-open overlap tests the
            # union behaves exactly like its parts.
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        return cls(tuple(starts), tuple(ends))

    def overlaps(self, start: datetime, end: datetime) -> bool:
        # Disjoint and sorted by start means the ends are sorted too: find the
        # first span that ends after `start`; [start, end) overlaps a span iff it
        # overlaps that one, i.e. iff that span begins before `end`.
        index = bisect_right(self.ends, start)
        return index < len(self.starts) and self.starts[index] < end


def _free_instants(
    schedule: StylistSchedule, policy: Policy, day: date, duration: timedelta, now_utc: datetime
) -> list[datetime]:
    """free_starts as sorted UTC instants; arguments already validated."""
    tz = policy.time_zone
    today = now_utc.astimezone(tz).date()
    if not today <= day <= today + timedelta(days=policy.horizon_days) or day in policy.closures:
        return []
    # In UTC, adding a timedelta adds elapsed time; in a ZoneInfo it would add
    # wall-clock time and be an hour off across a clock change.
    earliest = now_utc + policy.min_notice
    step = _step(policy)
    found: set[datetime] = set()  # intervals may overlap and yield the same instant
    for interval_start, interval_end in _working_spans(schedule, policy, day):
        last = interval_end - duration  # the latest start whose service still fits
        # Jump straight to the first grid point at or after `earliest` instead of
        # walking there: ceil((earliest - interval_start) / step) steps.
        steps = -((interval_start - earliest) // step) if earliest > interval_start else 0
        candidate = interval_start + steps * step
        while candidate <= last:
            end = candidate + duration
            if not (
                schedule._time_off_spans.overlaps(candidate, end)
                or schedule._booking_spans.overlaps(candidate, end)
            ):
                found.add(candidate)
            # Absolute steps: across a clock change the grid keeps its real-time
            # rhythm (01:30 PST is followed by 03:00 PDT, 30 minutes later).
            candidate += step
    # Only in zones with a clock change near midnight could a grid point fall on
    # another local date; check_start would judge it by that date, so drop it.
    return sorted(start for start in found if start.astimezone(tz).date() == day)


def _working_spans(schedule: StylistSchedule, policy: Policy, day: date) -> list[tuple[datetime, datetime]]:
    """The stylist's working intervals on local ``day`` as UTC ``[start, end)``:
    their special hours of that date if they have any, else their weekly hours,
    each cut to the salon's special hours of that date if it has any. A cut
    interval keeps its own grid, anchored where it now begins."""
    tz = policy.time_zone
    intervals = schedule.special_hours.get(day)
    if intervals is None:
        intervals = schedule._hours.get(day.weekday(), ())
    spans = _wall_spans(day, intervals, tz)
    salon = policy.special_hours.get(day)
    if salon is not None:
        opening = _wall_spans(day, salon, tz)
        spans = [
            (max(start, open_), min(end, close))
            for start, end in spans
            for open_, close in opening
            if max(start, open_) < min(end, close)
        ]
    return spans


def _wall_spans(
    day: date, intervals: Iterable[tuple[time, time]], tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """Local wall-clock intervals of ``day`` as UTC ``[start, end)``, in order."""
    spans = []
    for start, end in intervals:
        start_utc = _wall_to_utc(day, start, tz)
        end_utc = (
            _wall_to_utc(day + _ONE_DAY, _MIDNIGHT, tz) if end == _MIDNIGHT else _wall_to_utc(day, end, tz)
        )
        # A bound inside the spring-forward gap moves later (see _wall_to_utc),
        # which can leave a short interval empty, or even reversed, on that day.
        if start_utc < end_utc:
            spans.append((start_utc, end_utc))
    return spans


def _wall_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local wall time ``wall`` on ``day`` in ``tz``.

    Local times are read with fold=0 (PEP 495), whatever fold ``wall`` carries:

    * a time that happens twice (the fall-back hour) is its first occurrence: an
      interval from 01:00 on 2027-11-07 in Los Angeles starts at 01:00 PDT and so
      includes both 01:00-02:00 hours;
    * a time that never happens (the spring-forward gap) is read with the offset
      in force before the jump, so it lands *after* the gap, shifted by the gap's
      length: 02:00 on 2027-03-14 in Los Angeles is 03:00 PDT, when the clocks
      jump; 02:30 is 03:30 PDT.
    """
    return datetime.combine(day, wall.replace(fold=0), tzinfo=tz).astimezone(UTC)


@lru_cache(maxsize=64)
def _fixed_zone(offset: timedelta, name: str) -> timezone:
    # One shared object per offset: datetimes with the identical tzinfo compare
    # on their (here unambiguous) wall clock, which is cheaper.
    return timezone(offset, name)


def _fixed_offset_local(instant: datetime, tz: ZoneInfo) -> datetime:
    """``instant`` as a local wall time in ``tz`` with a fixed-offset tzinfo."""
    local = instant.astimezone(tz)
    # astimezone() into a zone always yields an offset; cast() only informs the type checker.
    offset = cast(timedelta, local.utcoffset())
    return local.replace(tzinfo=_fixed_zone(offset, local.tzname() or ""), fold=0)


def _as_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is UTC:  # what the ORM hands over; worth the shortcut for long histories
        return value
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _utc_spans(spans: Iterable[tuple[datetime, datetime]], name: str) -> list[tuple[datetime, datetime]]:
    utc_spans = []
    for start, end in spans:
        start_utc, end_utc = _as_utc(start, f"{name} start"), _as_utc(end, f"{name} end")
        if end_utc <= start_utc:
            raise ValueError(f"{name} must end after they start, got {start!r} to {end!r}")
        utc_spans.append((start_utc, end_utc))
    return utc_spans


def _checked_weekday(weekday: int) -> int:
    if weekday not in range(7):
        raise ValueError(f"weekdays run from 0 (Monday) to 6 (Sunday), got {weekday!r}")
    return weekday


def _checked_intervals(where: str, intervals: Sequence[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    checked = []
    for start, end in intervals:
        for bound in (start, end):
            if not isinstance(bound, time):
                raise TypeError(f"working hours must be datetime.time values, got {bound!r}")
            if bound.tzinfo is not None:
                raise ValueError(f"working hours are local wall times and must be naive, got {bound!r}")
        if end != _MIDNIGHT and end <= start:
            raise ValueError(f"a working interval must end after it starts, got {start} to {end} on {where}")
        checked.append((start, end))
    return tuple(checked)


def _checked_special_hours(
    special: Mapping[date, Sequence[tuple[time, time]]], name: str
) -> Mapping[date, tuple[tuple[time, time], ...]]:
    checked = {}
    for day, intervals in special.items():
        _check_day(day, name)
        # Sorted by wall-clock start so that results never depend on input order.
        checked[day] = tuple(sorted(_checked_intervals(day.isoformat(), intervals)))
    return MappingProxyType(checked)


def _check_day(day: date, name: str) -> None:
    # datetime is a subclass of date but never equals one: `datetime in closures`
    # would silently be False.
    if not isinstance(day, date) or isinstance(day, datetime):
        raise TypeError(f"{name} must be a datetime.date, got {type(day).__name__}")


def _check_duration(duration: timedelta) -> None:
    if duration <= _ZERO:
        raise ValueError(f"duration must be positive, got {duration!r}")


def _step(policy: Policy) -> timedelta:
    return timedelta(minutes=policy.slot_minutes)
