"""Working time, the denominator of utilisation. Pure: the schedules and the
policy are handed in (``chairtime.booking.availability``'s own types), so the
hours counted here are exactly those the booking engine offers.

A stylist's working time on a day is their working intervals (special hours,
the salon's special hours and closures applied: ``working_spans``) less the
time off that overlaps them. Counted in real elapsed time: a 09:00-17:00 day on
which the clocks change is still eight hours, and an interval that runs across
the skipped or repeated hour is what it really lasts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from chairtime.booking.availability.rules import Policy, StylistSchedule, working_spans

ZERO = timedelta(0)


def working_time(schedule: StylistSchedule, policy: Policy, days: Iterable[date]) -> timedelta:
    """How long ``schedule``'s stylist works on ``days``, time off and closures taken out."""
    total = ZERO
    off = schedule.time_off_spans
    for day in days:
        if day in policy.closures:
            continue
        for start, end in working_spans(schedule, policy, day):
            total += (end - start) - _overlap(off.starts, off.ends, start, end)
    return total


def _overlap(starts, ends, start, end) -> timedelta:
    """How much of ``[start, end)`` the disjoint, sorted spans cover."""
    covered = ZERO
    for s, e in zip(starts, ends, strict=True):
        if e <= start:
            continue
        if s >= end:
            break
        covered += min(e, end) - max(s, start)
    return covered
