"""Visits: one or several services back to back, each with its own stylist.

A visit's items run in the order given: the second starts when the first ends
(the client's end, not the stylist's clean-up). Each item may be done by any of
its options, a stylist with their own :class:`Treatment` (a named stylist is an
item with one option). A visit start is offered when some choice of stylists
fits everything at once:

* each stylist's occupied span (buffers included) lies inside one of their
  working intervals of the visit's day, and overlaps none of their time off;
* each of their busy spans (working phases, buffers) overlaps none of their
  existing busy time, nor their other items of this visit;
* each phase finds a free unit of every resource it needs (no two phases of
  a visit overlap in time, so they never compete for one);
* the visit's start lies on the salon's grid of the first stylist's interval.

A stylist who does two consecutive items needs no clean-up and set-up between
them: the first item's buffer after and the second's buffer before are not busy
time: the stylist stays with the same client. Hours and time off are still
judged on each item's whole span, buffers included, so a plan never depends on
which stylist the *next* item gets.

The same search answers "which starts are free?" (:func:`free_visit_starts`)
and "can this start be booked, and how?" (:func:`plan_visit`), so what is
offered is exactly what can be booked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from chairtime.booking.availability.days import check_day, fixed_offset_local
from chairtime.booking.availability.resources import NO_RESOURCES, Resources
from chairtime.booking.availability.rules import (
    Policy,
    Refusal,
    StylistSchedule,
    bookable_dates,
    is_bookable_day,
    timing_refusal,
    working_spans,
)
from chairtime.booking.availability.spans import ZERO, Span, as_utc, overlaps_any
from chairtime.booking.availability.treatments import Treatment, shape

_REFUSAL_ORDER = {refusal: order for order, refusal in enumerate(Refusal)}


@dataclass(frozen=True)
class VisitItem:
    """One service of a visit: who may do it, each with their own treatment, in
    the order to try them (the booking service puts the least busy first)."""

    options: tuple[tuple[int, Treatment], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))


@dataclass(frozen=True, slots=True)
class Placement:
    """One item as placed: its stylist, the client's start and end (UTC), the
    stylist's busy spans (buffers included) and the resource units it holds."""

    stylist_id: int
    start: datetime
    end: datetime
    busy: tuple[Span, ...]
    units: tuple[tuple[int, datetime, datetime], ...]  # (unit id, start, end)


@dataclass(frozen=True, slots=True)
class Plan:
    """A bookable visit: one placement per item, in order."""

    placements: tuple[Placement, ...]

    @property
    def start(self) -> datetime:
        return self.placements[0].start

    @property
    def end(self) -> datetime:
        return self.placements[-1].end


def free_visit_starts(
    schedules: Mapping[int, StylistSchedule],
    policy: Policy,
    day: date,
    items: Sequence[VisitItem],
    now: datetime,
    resources: Resources = NO_RESOURCES,
) -> dict[datetime, list[int]]:
    """The visit starts on local ``day`` for which a plan exists, ascending, each
    with the ids of the stylists who can take the first item then (in the order
    of its options). ``schedules`` holds every option's stylist.

    Keys show the salon's local wall time and UTC offset with a fixed-offset
    tzinfo: see :func:`free_starts_any` for why not the ``ZoneInfo``.
    """
    check_day(day, "day")
    _check_items(items)
    now_utc = as_utc(now, "now")
    if not is_bookable_day(policy, day, now_utc):
        return {}
    search = _Search(schedules, policy, day, items, resources)
    earliest = now_utc + policy.min_notice
    step = policy.step
    tz = policy.time_zone
    found: dict[datetime, list[int]] = defaultdict(list)  # UTC keys: safe to hash
    for stylist_id, treatment in items[0].options:
        layout = shape(treatment)
        schedule = schedules[stylist_id]
        # The common question, one service needing no resource, is answered
        # here, inline: it is most of what the booking pages ask.
        alone = len(items) == 1 and not layout.holds
        before, length, busy = layout.before, layout.duration + layout.after, layout.busy
        time_off, taken = schedule.time_off_spans, schedule.busy_spans
        starts: set[datetime] = set()  # intervals may overlap and yield the same instant
        for interval_start, interval_end in search.working(stylist_id):
            first = max(earliest, interval_start + before)
            last = interval_end - length  # the latest start that still fits
            # Jump straight to the first grid point at or after `first`:
            # ceil((first - interval_start) / step) steps, in absolute time.
            candidate = interval_start + -((interval_start - first) // step) * step
            while candidate <= last:
                if alone:
                    if not (
                        time_off.overlaps(candidate - before, candidate + length)
                        or any(taken.overlaps(candidate + s, candidate + e) for s, e in busy)
                    ):
                        starts.add(candidate)
                elif candidate not in starts and search.completes(stylist_id, treatment, candidate):
                    starts.add(candidate)
                # Absolute steps: across a clock change the grid keeps its real-time
                # rhythm (01:30 PST is followed by 03:00 PDT, 30 minutes later).
                candidate += step
        for start in starts:
            found[start].append(stylist_id)
    # Only in zones with a clock change near midnight could a grid point fall on
    # another local date; plan_visit would judge it by that date, so drop it.
    return {
        fixed_offset_local(start, tz): found[start]
        for start in sorted(found)
        if start.astimezone(tz).date() == day
    }


def first_free_visit_starts(
    schedules: Mapping[int, StylistSchedule],
    policy: Policy,
    items: Sequence[VisitItem],
    now: datetime,
    limit: int,
    resources: Resources = NO_RESOURCES,
) -> list[tuple[datetime, list[int]]]:
    """The first ``limit`` visit starts from ``now`` on, across the bookable days
    in order ("first available"), as :func:`free_visit_starts` gives them."""
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit!r}")
    found: list[tuple[datetime, list[int]]] = []
    for day in bookable_dates(policy, now):
        found.extend(free_visit_starts(schedules, policy, day, items, now, resources).items())
        if len(found) >= limit:
            break
    return found[:limit]


def plan_visit(
    schedules: Mapping[int, StylistSchedule],
    policy: Policy,
    start: datetime,
    items: Sequence[VisitItem],
    now: datetime,
    resources: Resources = NO_RESOURCES,
) -> Plan | Refusal:
    """A plan for the visit at ``start``, or why there is none.

    Options are tried in order, so the plan uses the first stylists (in each
    item's order) with which everything fits. A plan exists exactly when
    ``start`` is among :func:`free_visit_starts` of its local day. The refusal is
    the most specific reason met (:class:`Refusal` lists them from the least to
    the most specific): a customer hears "taken" rather than "outside hours"
    when one stylist works then but is busy.
    """
    _check_items(items)
    start_utc = as_utc(start, "start")
    now_utc = as_utc(now, "now")
    timing = timing_refusal(policy, start_utc, now_utc)
    if timing is not None:
        return timing
    day = start_utc.astimezone(policy.time_zone).date()
    if day in policy.closures:
        return Refusal.CLOSED
    search = _Search(schedules, policy, day, items, resources)
    for stylist_id, treatment in items[0].options:
        plan = search.plan(stylist_id, treatment, start_utc)
        if plan is not None:
            return plan
    return search.refusal or Refusal.OUTSIDE_HOURS


# --- the search -------------------------------------------------------------------


@dataclass(slots=True)
class _Step:
    """An item placed on the path being tried, with what it was placed from."""

    placement: Placement
    treatment: Treatment
    keep_before: bool


class _Search:
    """Places a visit's items one after another, backtracking over stylists."""

    def __init__(
        self,
        schedules: Mapping[int, StylistSchedule],
        policy: Policy,
        day: date,
        items: Sequence[VisitItem],
        resources: Resources,
    ) -> None:
        self.schedules = schedules
        self.policy = policy
        self.day = day
        self.items = items
        self.resources = resources
        self.refusal: Refusal | None = None
        self._working: dict[int, list[Span]] = {}

    def working(self, stylist_id: int) -> list[Span]:
        spans = self._working.get(stylist_id)
        if spans is None:
            spans = self._working[stylist_id] = working_spans(
                self.schedules[stylist_id], self.policy, self.day
            )
        return spans

    def completes(self, stylist_id: int, treatment: Treatment, start: datetime) -> bool:
        """Whether a plan starts with ``stylist_id`` at ``start``, an instant on
        their grid whose occupied span fits their hours (free_visit_starts)."""
        first = self._place(stylist_id, treatment, start, [], keep_before=True, on_grid=False)
        return first is not None and self._complete([first]) is not None

    def plan(self, stylist_id: int, treatment: Treatment, start: datetime) -> Plan | None:
        first = self._place(stylist_id, treatment, start, [], keep_before=True, on_grid=True)
        if first is None:
            return None
        path = self._complete([first])
        return None if path is None else Plan(tuple(step.placement for step in path))

    def _complete(self, path: list[_Step]) -> list[_Step] | None:
        if len(path) == len(self.items):
            return path
        previous = path[-1]
        start = previous.placement.end
        for stylist_id, treatment in self.items[len(path)].options:
            before = path
            same = stylist_id == previous.placement.stylist_id
            if same:  # no clean-up and set-up between two services of one client
                before = [*path[:-1], self._without_after(previous)]
            step = self._place(stylist_id, treatment, start, before, keep_before=not same, on_grid=False)
            if step is not None:
                done = self._complete([*before, step])
                if done is not None:
                    return done
        return None

    def _without_after(self, step: _Step) -> _Step:
        layout = shape(step.treatment, step.keep_before, keep_after=False)
        placement = step.placement
        busy = tuple((placement.start + s, placement.start + e) for s, e in layout.busy)
        return _Step(
            Placement(placement.stylist_id, placement.start, placement.end, busy, placement.units),
            step.treatment,
            step.keep_before,
        )

    def _place(
        self,
        stylist_id: int,
        treatment: Treatment,
        start: datetime,
        path: list[_Step],
        *,
        keep_before: bool,
        on_grid: bool,
    ) -> _Step | None:
        """``treatment`` by ``stylist_id`` from ``start``, next to the items of
        ``path``; None (and the reason noted) when it does not fit."""
        schedule = self.schedules[stylist_id]
        # Hours and time off are judged on the whole treatment, buffers included,
        # even where a buffer is not busy time (see the module docstring).
        whole = shape(treatment)
        occupied_start = start - whole.before
        occupied_end = start + whole.duration + whole.after
        layout = shape(treatment, keep_before)
        fitting = [
            interval_start
            for interval_start, interval_end in self.working(stylist_id)
            if interval_start <= occupied_start and occupied_end <= interval_end
        ]
        if not fitting:
            return self._refuse(Refusal.OUTSIDE_HOURS)
        if on_grid:
            # On the grid of any interval the visit fits in, measured in absolute
            # time from that interval's start, exactly as free_visit_starts steps it.
            step = self.policy.step
            if all((start - interval_start) % step != ZERO for interval_start in fitting):
                return self._refuse(Refusal.OFF_GRID)
        if schedule.time_off_spans.overlaps(occupied_start, occupied_end):
            return self._refuse(Refusal.TIME_OFF)
        busy = tuple((start + s, start + e) for s, e in layout.busy)
        mine = [
            span for step in path if step.placement.stylist_id == stylist_id for span in step.placement.busy
        ]
        for busy_start, busy_end in busy:
            if schedule.busy_spans.overlaps(busy_start, busy_end) or overlaps_any(mine, busy_start, busy_end):
                return self._refuse(Refusal.TAKEN)
        units: list[tuple[int, datetime, datetime]] = []
        for resource, hold_start, hold_end in layout.holds:
            unit = self.resources.free_unit(resource, start + hold_start, start + hold_end)
            if unit is None:
                return self._refuse(Refusal.RESOURCE_BUSY)
            units.append((unit, start + hold_start, start + hold_end))
        placement = Placement(stylist_id, start, start + layout.duration, busy, tuple(units))
        return _Step(placement, treatment, keep_before)

    def _refuse(self, refusal: Refusal) -> None:
        if self.refusal is None or _REFUSAL_ORDER[refusal] > _REFUSAL_ORDER[self.refusal]:
            self.refusal = refusal
        return None


def _check_items(items: Sequence[VisitItem]) -> None:
    if not items:
        raise ValueError("a visit needs at least one item")
