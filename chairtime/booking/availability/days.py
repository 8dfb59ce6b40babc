"""Local days and wall-clock times of the salon, turned into UTC instants."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import cast
from zoneinfo import ZoneInfo

from chairtime.booking.availability.spans import Span

ONE_DAY = timedelta(days=1)
# As the *end* of a working interval, 00:00 means the midnight that ends the day:
# it is the only way to say "until midnight" with a ``datetime.time``.
MIDNIGHT = time(0)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which local ``day`` begins and the next local day begins.

    The day is ``[start, end)``; it lasts 23 or 25 hours on daylight-saving days.
    Use these bounds, never UTC dates or ``start + 24h``, to select the day's
    bookings.
    """
    check_day(day, "day")
    # In zones that change clocks at midnight, local 00:00 may not exist (the day
    # then begins at 01:00) or may happen twice. fold=0 reads a missing time with
    # the offset before the jump, which lands exactly on the first instant of the
    # day, and picks the first of two; either way: the day's first instant.
    return wall_to_utc(day, MIDNIGHT, tz), wall_to_utc(day + ONE_DAY, MIDNIGHT, tz)


def wall_spans(day: date, intervals: Iterable[tuple[time, time]], tz: ZoneInfo) -> list[Span]:
    """Local wall-clock intervals of ``day`` as UTC ``[start, end)``, in order."""
    spans = []
    for start, end in intervals:
        start_utc = wall_to_utc(day, start, tz)
        end_utc = wall_to_utc(day + ONE_DAY, MIDNIGHT, tz) if end == MIDNIGHT else wall_to_utc(day, end, tz)
        # A bound inside the spring-forward gap moves later (see wall_to_utc),
        # which can leave a short interval empty, or even reversed, on that day.
        if start_utc < end_utc:
            spans.append((start_utc, end_utc))
    return spans


def wall_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
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


def fixed_offset_local(instant: datetime, tz: ZoneInfo) -> datetime:
    """``instant`` as a local wall time in ``tz`` with a fixed-offset tzinfo."""
    local = instant.astimezone(tz)
    # astimezone() into a zone always yields an offset; cast() only informs the type checker.
    offset = cast(timedelta, local.utcoffset())
    return local.replace(tzinfo=_fixed_zone(offset, local.tzname() or ""), fold=0)


def check_day(day: date, name: str) -> None:
    # datetime is a subclass of date but never equals one: `datetime in closures`
    # would silently be False.
    if not isinstance(day, date) or isinstance(day, datetime):
        raise TypeError(f"{name} must be a datetime.date, got {type(day).__name__}")
