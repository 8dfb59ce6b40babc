"""The salon's rules and a stylist's week: what the callers hand in.

:class:`Policy` holds the salon-wide rules, :class:`StylistSchedule` one
stylist's hours, time off and busy time, and :class:`Refusal` says why a start
cannot be booked.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from chairtime.booking.availability.days import MIDNIGHT, check_day, wall_spans
from chairtime.booking.availability.spans import ZERO, Span, Spans, as_utc, utc_spans


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
        if self.min_notice < ZERO:
            # A negative notice would offer starts that check_start refuses as past.
            raise ValueError(f"min_notice must not be negative, got {self.min_notice!r}")
        if self.horizon_days < 0:
            raise ValueError(f"horizon_days must not be negative, got {self.horizon_days!r}")
        special = checked_special_hours(self.special_hours, "special_hours")
        closures = frozenset(self.closures) | {day for day, intervals in special.items() if not intervals}
        for day in closures:
            check_day(day, "closures")
        # Frozen dataclass: __post_init__ may only normalise through object.__setattr__.
        object.__setattr__(self, "closures", closures)
        object.__setattr__(self, "special_hours", special)

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)


@dataclass(frozen=True)
class StylistSchedule:
    """One stylist's weekly working hours, time off and busy time.

    ``weekly_hours`` maps a weekday (0 = Monday .. 6 = Sunday) to local half-open
    ``[start, end)`` wall-clock intervals; gaps between intervals are breaks, a
    missing weekday is a day off. An end of ``time(0)`` means midnight at the end
    of the day. Intervals may come in any order; each one is its own grid (see
    :func:`free_starts`).

    ``special_hours`` maps a local date to the intervals that replace that date's
    weekly hours (same shape; empty: not working that day).

    ``time_off`` and ``bookings`` are aware, half-open ``[start, end)`` instants.
    ``bookings`` are the stylist's *busy* spans: whole appointments, or, for a
    service with processing time, its working phases and buffers (the stylist is
    free while a colour develops).

    The sequences are copied into tuples when the schedule is built, so later
    changes to the caller's lists cannot desynchronise it.

    Raises ValueError for naive datetimes, timezone-aware working hours, weekdays
    outside 0..6 and spans or intervals whose end is not after their start.
    """

    stylist_id: int
    weekly_hours: Mapping[int, Sequence[tuple[time, time]]]
    time_off: Sequence[Span] = ()
    bookings: Sequence[Span] = ()
    # The stylist's special hours: local date -> intervals that replace the weekly
    # hours of that date (an extra Sunday shift, a late evening); none: a day off.
    special_hours: Mapping[date, Sequence[tuple[time, time]]] = field(default_factory=dict)
    # Derived once, here, so that queries can bisect instead of scanning.
    hours_by_weekday: Mapping[int, tuple[tuple[time, time], ...]] = field(
        init=False, repr=False, compare=False
    )
    time_off_spans: Spans = field(init=False, repr=False, compare=False)
    busy_spans: Spans = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hours = {
            _checked_weekday(weekday): checked_intervals(f"day {weekday}", intervals)
            for weekday, intervals in self.weekly_hours.items()
        }
        object.__setattr__(self, "special_hours", checked_special_hours(self.special_hours, "special_hours"))
        time_off = tuple(self.time_off)
        bookings = tuple(self.bookings)
        object.__setattr__(self, "weekly_hours", MappingProxyType(hours))
        object.__setattr__(self, "time_off", time_off)
        object.__setattr__(self, "bookings", bookings)
        # Sorted by wall-clock start so that results never depend on input order.
        object.__setattr__(
            self, "hours_by_weekday", MappingProxyType({wd: tuple(sorted(iv)) for wd, iv in hours.items()})
        )
        object.__setattr__(self, "time_off_spans", Spans.merge(utc_spans(time_off, "time_off")))
        object.__setattr__(self, "busy_spans", Spans.merge(utc_spans(bookings, "bookings")))


@enum.unique  # two members with the same message would silently become aliases
class Refusal(enum.Enum):
    """Why a start time cannot be booked; the value is the customer-facing message.

    Members are listed in the order the checks apply them; a later one got
    further, so it is the more useful to hear when several apply.
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
    RESOURCE_BUSY = (
        "The equipment this service needs (a basin, a colour station, ...) is all in use at that time. "
        "Please choose another time."
    )

    @property
    def message(self) -> str:
        """The message to show the customer."""
        return self.value


def local_today(policy: Policy, now: datetime) -> date:
    """The salon's local date at the instant ``now`` (which may be in any zone).

    Late in the local evening UTC is already tomorrow: the salon's calendar, not
    UTC's, decides what "today" is.
    """
    return as_utc(now, "now").astimezone(policy.time_zone).date()


def bookable_dates(policy: Policy, now: datetime) -> list[date]:
    """The local dates customers may book at ``now``, ascending: local today
    through today + ``horizon_days`` (inclusive), without closures.

    A listed date may still have no free start; see :func:`free_starts`.
    """
    today = local_today(policy, now)
    # Date arithmetic is calendar arithmetic; no time zone is involved here.
    days = (today + timedelta(days=offset) for offset in range(policy.horizon_days + 1))
    return [day for day in days if day not in policy.closures]


def check_timing(policy: Policy, start: datetime, now: datetime) -> Refusal | None:
    """The refusals that depend only on when ``start`` is, not on anybody's
    schedule: IN_THE_PAST, TOO_SOON or BEYOND_HORIZON, else None.

    Callers use it to turn away absurd dates (year 1 or 9999) before reading
    any schedule for them; :func:`check_start` applies the same checks first.
    """
    return timing_refusal(policy, as_utc(start, "start"), as_utc(now, "now"))


def timing_refusal(policy: Policy, start_utc: datetime, now_utc: datetime) -> Refusal | None:
    if start_utc < now_utc:
        return Refusal.IN_THE_PAST
    if start_utc < now_utc + policy.min_notice:
        return Refusal.TOO_SOON
    # start >= now, so its local date is never before local today.
    tz = policy.time_zone
    if start_utc.astimezone(tz).date() > now_utc.astimezone(tz).date() + timedelta(days=policy.horizon_days):
        return Refusal.BEYOND_HORIZON
    return None


def is_bookable_day(policy: Policy, day: date, now_utc: datetime) -> bool:
    today = now_utc.astimezone(policy.time_zone).date()
    return today <= day <= today + timedelta(days=policy.horizon_days) and day not in policy.closures


def working_spans(schedule: StylistSchedule, policy: Policy, day: date) -> list[Span]:
    """The stylist's working intervals on local ``day`` as UTC ``[start, end)``:
    their special hours of that date if they have any, else their weekly hours,
    each cut to the salon's special hours of that date if it has any. A cut
    interval keeps its own grid, anchored where it now begins."""
    tz = policy.time_zone
    intervals = schedule.special_hours.get(day)
    if intervals is None:
        intervals = schedule.hours_by_weekday.get(day.weekday(), ())
    spans = wall_spans(day, intervals, tz)
    salon = policy.special_hours.get(day)
    if salon is not None:
        opening = wall_spans(day, salon, tz)
        spans = [
            (max(start, open_), min(end, close))
            for start, end in spans
            for open_, close in opening
            if max(start, open_) < min(end, close)
        ]
    return spans


def checked_intervals(where: str, intervals: Sequence[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    checked = []
    for start, end in intervals:
        for bound in (start, end):
            if not isinstance(bound, time):
                raise TypeError(f"working hours must be datetime.time values, got {bound!r}")
            if bound.tzinfo is not None:
                raise ValueError(f"working hours are local wall times and must be naive, got {bound!r}")
        if end != MIDNIGHT and end <= start:
            raise ValueError(f"a working interval must end after it starts, got {start} to {end} on {where}")
        checked.append((start, end))
    return tuple(checked)


def checked_special_hours(
    special: Mapping[date, Sequence[tuple[time, time]]], name: str
) -> Mapping[date, tuple[tuple[time, time], ...]]:
    checked = {}
    for day, intervals in special.items():
        check_day(day, name)
        # Sorted by wall-clock start so that results never depend on input order.
        checked[day] = tuple(sorted(checked_intervals(day.isoformat(), intervals)))
    return MappingProxyType(checked)


def _checked_weekday(weekday: int) -> int:
    if weekday not in range(7):
        raise ValueError(f"weekdays run from 0 (Monday) to 6 (Sunday), got {weekday!r}")
    return weekday
