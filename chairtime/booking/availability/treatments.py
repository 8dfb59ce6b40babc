"""How a stylist does a service: phases, processing time and buffers.

A service is a sequence of :class:`Phase` s. In a working phase the stylist is
busy with the client; in a *processing* phase (colour developing) the client
waits and the stylist is free for someone else. A phase may hold one unit of
each of some resources (a basin, a colour station) for its own minutes only.
Buffers are minutes before and after the service in which the stylist is busy
(set-up, clean-up) but the client is not there: the client sees the service's
own start and end, the stylist's next start moves.

A :class:`Treatment` is one stylist's version of a service (a senior's cut is
45 minutes, a junior's 60): the engine never needs to know which service it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from chairtime.booking.availability.spans import ZERO

Offset = tuple[timedelta, timedelta]  # [start, end) relative to the client's start


@dataclass(frozen=True, slots=True)
class Phase:
    """One step of a service. ``resources`` are the ids of the resources of which
    the phase holds one unit each, for its own duration."""

    duration: timedelta
    processing: bool = False
    resources: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.duration <= ZERO:
            raise ValueError(f"a phase must last, got {self.duration!r}")
        # One unit of each: naming a resource twice would not hold two.
        object.__setattr__(self, "resources", tuple(sorted(set(self.resources))))


@dataclass(frozen=True, slots=True)
class Treatment:
    """A service as one stylist does it: its phases, in order, and buffers.

    The first and the last phase are working phases: a service begins and ends
    with the stylist at work (a colour is applied, then rinsed).
    """

    phases: tuple[Phase, ...]
    buffer_before: timedelta = ZERO
    buffer_after: timedelta = ZERO

    def __post_init__(self) -> None:
        phases = tuple(self.phases)
        if not phases:
            raise ValueError("a treatment needs at least one phase")
        if phases[0].processing or phases[-1].processing:
            raise ValueError("a treatment must begin and end with a working phase, not processing time")
        if self.buffer_before < ZERO or self.buffer_after < ZERO:
            raise ValueError("buffers must not be negative")
        object.__setattr__(self, "phases", phases)

    @classmethod
    def simple(cls, duration: timedelta) -> Treatment:
        """One working phase of ``duration``, no buffers, no resources: the
        service as Chairtime knew it before phases."""
        return cls((Phase(duration),))

    @property
    def duration(self) -> timedelta:
        """The client's time: from the first phase's start to the last one's end."""
        return sum((phase.duration for phase in self.phases), ZERO)


@dataclass(frozen=True, slots=True)
class Shape:
    """A treatment laid out around the client's start (offset 0), with or without
    its buffers: what a placement holds, relative to its start."""

    before: timedelta  # the stylist is occupied from -before ...
    duration: timedelta
    after: timedelta  # ... to duration + after
    busy: tuple[Offset, ...]  # the stylist's busy spans, merged, in order
    holds: tuple[tuple[int, timedelta, timedelta], ...]  # (resource id, start, end)


@lru_cache(maxsize=4096)
def shape(treatment: Treatment, keep_before: bool = True, keep_after: bool = True) -> Shape:
    """The :class:`Shape` of ``treatment``; a buffer not kept is left out (the
    same stylist does two services of one visit back to back: no clean-up and
    set-up between them)."""
    before = treatment.buffer_before if keep_before else ZERO
    after = treatment.buffer_after if keep_after else ZERO
    spans: list[Offset] = [(-before, ZERO)] if before else []
    holds = []
    offset = ZERO
    for phase in treatment.phases:
        end = offset + phase.duration
        if not phase.processing:
            spans.append((offset, end))
        holds.extend((resource, offset, end) for resource in phase.resources)
        offset = end
    if after:
        spans.append((offset, offset + after))
    busy: list[Offset] = []
    for start, end in spans:  # already in order: merge the touching ones
        if busy and start <= busy[-1][1]:
            busy[-1] = (busy[-1][0], max(busy[-1][1], end))
        else:
            busy.append((start, end))
    return Shape(before, offset, after, tuple(busy), tuple(holds))
