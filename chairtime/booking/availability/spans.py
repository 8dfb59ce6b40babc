"""Instants and spans of instants: everything here is UTC.

In UTC, wall clock and elapsed time are the same thing, so adding a duration is
absolute, and two instants compare and hash by the instant (see the package
docstring for why zoned datetimes do neither reliably).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter

Span = tuple[datetime, datetime]

ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Spans:
    """Sorted, disjoint, half-open UTC spans answering "does [a, b) overlap any?"
    in O(log n)."""

    starts: tuple[datetime, ...]
    ends: tuple[datetime, ...]

    @classmethod
    def merge(cls, spans: Iterable[Span]) -> Spans:
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

    def __len__(self) -> int:
        return len(self.starts)


def as_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is UTC:  # what the ORM hands over; worth the shortcut for long histories
        return value
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def utc_spans(spans: Iterable[Span], name: str) -> list[Span]:
    checked = []
    for start, end in spans:
        start_utc, end_utc = as_utc(start, f"{name} start"), as_utc(end, f"{name} end")
        if end_utc <= start_utc:
            raise ValueError(f"{name} must end after they start, got {start!r} to {end!r}")
        checked.append((start_utc, end_utc))
    return checked


def overlaps_any(spans: Iterable[Span], start: datetime, end: datetime) -> bool:
    """Whether [start, end) overlaps one of a few unsorted ``spans`` (linear)."""
    return any(s < end and start < e for s, e in spans)
