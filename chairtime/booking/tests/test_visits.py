"""The booking rules for phases, processing time, buffers, stylists' own
treatments, resources and visits of several services (availability.visits).

Pure: no database, no clock. The properties at the end compare the search with a
brute-force reading of the rules that counts busy minutes, an independent model.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chairtime.booking.availability import (
    Phase,
    Plan,
    Policy,
    Refusal,
    Resources,
    StylistSchedule,
    Treatment,
    VisitItem,
    day_bounds,
    first_free_visit_starts,
    free_visit_starts,
    plan_visit,
)

LA = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
MONDAY = date(2027, 6, 14)
FALL_BACK = date(2027, 11, 7)  # Los Angeles: a 25-hour day
SPRING_FORWARD = date(2027, 3, 14)  # Los Angeles: a 23-hour day
LONG_AGO = datetime(2027, 1, 1, tzinfo=UTC)
STATION, BASIN = 1, 2
NONE = Resources()


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def at(hhmm: str, day: date = MONDAY, tz: ZoneInfo = LA) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=tz).astimezone(UTC)


def policy(slot: int = 15, tz: ZoneInfo = LA) -> Policy:
    return Policy(time_zone=tz, slot_minutes=slot, min_notice=timedelta(0), horizon_days=400)


def stylist(stylist_id: int, hours: str = "09:00-17:00", bookings=(), time_off=()) -> StylistSchedule:
    start, end = (time.fromisoformat(t) for t in hours.split("-"))
    return StylistSchedule(
        stylist_id=stylist_id,
        weekly_hours={wd: [(start, end)] for wd in range(7)},
        bookings=tuple(bookings),
        time_off=tuple(time_off),
    )


def colour(buffer_after: int = 0) -> Treatment:
    """45 min application at the colour station, 30 min processing, 15 min rinse
    at a basin."""
    return Treatment(
        (
            Phase(minutes(45), resources=(STATION,)),
            Phase(minutes(30), processing=True),
            Phase(minutes(15), resources=(BASIN,)),
        ),
        buffer_after=minutes(buffer_after),
    )


CUT = Treatment.simple(minutes(30))


def clock(starts) -> list[str]:
    return [start.strftime("%H:%M") for start in starts]


def offered(schedules, items, resources=NONE, day=MONDAY, slot=15) -> list[str]:
    by_id = {s.stylist_id: s for s in schedules}
    return clock(free_visit_starts(by_id, policy(slot), day, items, LONG_AGO, resources))


def plan(schedules, items, start, resources=NONE, slot=15) -> Plan | Refusal:
    by_id = {s.stylist_id: s for s in schedules}
    return plan_visit(by_id, policy(slot), start, items, LONG_AGO, resources)


def colour_booked_at_ten() -> StylistSchedule:
    """Ana, whose 10:00 colour leaves her free during its processing."""
    return stylist(1, bookings=[(at("10:00"), at("10:45")), (at("11:15"), at("11:30"))])


# --- processing time ------------------------------------------------------------------


def test_a_cut_fits_in_a_colours_processing_gap() -> None:
    free = offered([colour_booked_at_ten()], [VisitItem([(1, CUT)])])

    assert "10:45" in free  # 10:45-11:15: while the colour develops
    assert "10:30" not in free and "11:00" not in free


def test_a_colour_holds_its_stylist_only_in_its_working_phases() -> None:
    result = plan(
        [stylist(1)], [VisitItem([(1, colour())])], at("10:00"), Resources({STATION: {1: []}, BASIN: {1: []}})
    )

    assert isinstance(result, Plan)
    (placement,) = result.placements
    assert (placement.start, placement.end) == (at("10:00"), at("11:30"))
    assert placement.busy == ((at("10:00"), at("10:45")), (at("11:15"), at("11:30")))


def test_a_treatment_must_begin_and_end_with_work() -> None:
    with pytest.raises(ValueError, match="working phase"):
        Treatment((Phase(minutes(10), processing=True), Phase(minutes(10))))
    with pytest.raises(ValueError, match="working phase"):
        Treatment((Phase(minutes(10)), Phase(minutes(10), processing=True)))


# --- buffers --------------------------------------------------------------------------


def test_a_buffer_after_moves_the_stylists_next_start_not_the_clients_end() -> None:
    cleanup = Treatment.simple(minutes(30))
    cleanup = Treatment(cleanup.phases, buffer_after=minutes(15))
    busy = stylist(1, bookings=[(at("09:00"), at("09:45"))])  # a 30 min cut and its 15 min clean-up

    assert offered([busy], [VisitItem([(1, cleanup)])])[:2] == ["09:45", "10:00"]
    result = plan([stylist(1)], [VisitItem([(1, cleanup)])], at("09:00"))
    assert isinstance(result, Plan)
    assert result.end == at("09:30")  # the client's end
    assert result.placements[0].busy == ((at("09:00"), at("09:45")),)


def test_buffers_are_working_time_and_must_fit_the_hours() -> None:
    setup = Treatment((Phase(minutes(30)),), buffer_before=minutes(10), buffer_after=minutes(10))

    free = offered([stylist(1, "09:00-11:00")], [VisitItem([(1, setup)])])

    # 09:00 would need set-up from 08:50; 10:30 clean-up until 11:10.
    assert free == ["09:15", "09:30", "09:45", "10:00", "10:15"]
    assert plan([stylist(1, "09:00-11:00")], [VisitItem([(1, setup)])], at("09:00")) is Refusal.OUTSIDE_HOURS


# --- stylists' own treatments -----------------------------------------------------------


def test_any_stylist_is_offered_in_each_stylists_own_duration() -> None:
    senior = Treatment.simple(minutes(45))
    junior = Treatment.simple(minutes(60))
    item = VisitItem([(1, senior), (2, junior)])
    schedules = [stylist(1, "09:00-10:00"), stylist(2, "09:00-10:00")]

    free = free_visit_starts({s.stylist_id: s for s in schedules}, policy(), MONDAY, [item], LONG_AGO)

    # 09:15 fits the senior's 45 minutes only.
    assert {start.strftime("%H:%M"): ids for start, ids in free.items()} == {"09:00": [1, 2], "09:15": [1]}


# --- resources ----------------------------------------------------------------------------


def test_one_colour_station_is_shared_by_every_stylist() -> None:
    # Ana's 10:00 colour holds the station 10:00-10:45 and a basin 11:15-11:30.
    resources = Resources({STATION: {7: [(at("10:00"), at("10:45"))]}, BASIN: {8: [], 9: []}})
    ben = [stylist(2)]

    assert plan(ben, [VisitItem([(2, colour())])], at("10:30"), resources) is Refusal.RESOURCE_BUSY
    result = plan(ben, [VisitItem([(2, colour())])], at("10:45"), resources)
    assert isinstance(result, Plan)
    assert result.placements[0].units == ((7, at("10:45"), at("11:30")), (8, at("12:00"), at("12:15")))


def test_a_phase_takes_any_free_unit_and_none_when_all_are_held() -> None:
    wash = Treatment((Phase(minutes(30), resources=(BASIN,)),))
    one_held = Resources({BASIN: {8: [(at("10:00"), at("10:30"))], 9: []}})
    both_held = Resources({BASIN: {8: [(at("10:00"), at("10:30"))], 9: [(at("10:15"), at("10:45"))]}})

    result = plan([stylist(1)], [VisitItem([(1, wash)])], at("10:00"), one_held)
    assert isinstance(result, Plan) and result.placements[0].units == ((9, at("10:00"), at("10:30")),)
    assert plan([stylist(1)], [VisitItem([(1, wash)])], at("10:00"), both_held) is Refusal.RESOURCE_BUSY
    assert "10:00" not in offered([stylist(1)], [VisitItem([(1, wash)])], both_held)


def test_a_resource_without_units_is_never_free() -> None:
    wash = Treatment((Phase(minutes(30), resources=(BASIN,)),))

    assert offered([stylist(1)], [VisitItem([(1, wash)])], Resources()) == []


# --- visits ---------------------------------------------------------------------------------


def test_a_visits_services_run_back_to_back_with_their_own_stylists() -> None:
    units = Resources({STATION: {7: []}, BASIN: {8: []}})
    ana, ben = stylist(1), stylist(2, bookings=[(at("11:30"), at("12:00"))])
    items = [VisitItem([(1, colour())]), VisitItem([(2, CUT), (1, CUT)])]

    result = plan([ana, ben], items, at("10:00"), units)

    assert isinstance(result, Plan)
    colour_, cut = result.placements
    assert (colour_.stylist_id, cut.stylist_id) == (1, 1)  # Ben is busy at 11:30
    assert (cut.start, cut.end) == (at("11:30"), at("12:00"))
    assert result.end == at("12:00")


def test_a_visit_is_refused_as_a_whole_when_its_second_service_cannot_fit() -> None:
    units = Resources({STATION: {7: []}, BASIN: {8: []}})
    ben = stylist(2, bookings=[(at("11:30"), at("12:00"))])
    items = [VisitItem([(1, colour())]), VisitItem([(2, CUT)])]

    assert plan([stylist(1), ben], items, at("10:00"), units) is Refusal.TAKEN
    assert "10:00" not in offered([stylist(1), ben], items, units)
    assert "10:30" in offered([stylist(1), ben], items, units)


def test_one_stylist_doing_two_services_of_a_visit_needs_no_clean_up_between_them() -> None:
    items = [VisitItem([(1, colour(buffer_after=15))]), VisitItem([(1, CUT)])]
    units = Resources({STATION: {7: []}, BASIN: {8: []}})

    result = plan([stylist(1)], items, at("10:00"), units)

    assert isinstance(result, Plan)
    first, second = result.placements
    assert first.busy[-1] == (at("11:15"), at("11:30"))  # no clean-up after the rinse
    assert (second.start, second.end) == (at("11:30"), at("12:00"))


def test_a_visit_cannot_hold_one_unit_twice() -> None:
    wash = Treatment((Phase(minutes(30), resources=(BASIN,)),))
    items = [VisitItem([(1, wash)]), VisitItem([(2, wash)])]
    result = plan([stylist(1), stylist(2)], items, at("10:00"), Resources({BASIN: {8: []}}))

    # Back to back, so one basin does: 10:00-10:30, then 10:30-11:00.
    assert isinstance(result, Plan)
    assert [p.units for p in result.placements] == [
        ((8, at("10:00"), at("10:30")),),
        ((8, at("10:30"), at("11:00")),),
    ]


def test_first_free_visit_starts_walk_the_days() -> None:
    ana = stylist(1, "09:00-10:00")
    found = first_free_visit_starts({1: ana}, policy(slot=30), [VisitItem([(1, CUT)])], at("09:10"), 3)

    assert [start.isoformat() for start, _ in found] == [
        "2027-06-14T09:30:00-07:00",
        "2027-06-15T09:00:00-07:00",
        "2027-06-15T09:30:00-07:00",
    ]


# --- properties against a brute-force reading of the rules --------------------------------


@dataclass
class World:
    tz: ZoneInfo
    day: date
    slot: int
    schedules: dict[int, StylistSchedule]
    resources: dict[int, dict[int, list]]
    items: list[VisitItem]


DAYS = [(LA, MONDAY), (LA, FALL_BACK), (LA, SPRING_FORWARD), (LONDON, date(2027, 10, 31))]


@st.composite
def phases(draw: st.DrawFn) -> Treatment:
    def phase(processing: bool = False) -> Phase:
        return Phase(
            minutes(draw(st.sampled_from([10, 15, 30, 45]))),
            processing,
            tuple(draw(st.lists(st.sampled_from([1, 2]), max_size=2))) if not processing else (),
        )

    middle = [phase(processing=draw(st.booleans())) for _ in range(draw(st.integers(0, 1)))]
    steps = [phase(), *middle, *([phase()] if middle else [])]
    return Treatment(
        tuple(steps),
        buffer_before=minutes(draw(st.sampled_from([0, 0, 5, 15]))),
        buffer_after=minutes(draw(st.sampled_from([0, 0, 10]))),
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    tz, day = draw(st.sampled_from(DAYS))
    day_start, day_end = day_bounds(day, tz)

    def span() -> tuple[datetime, datetime]:
        start = day_start + minutes(draw(st.integers(0, (day_end - day_start) // minutes(5) - 2)) * 5)
        return start, start + minutes(draw(st.sampled_from([5, 15, 30, 60, 90])))

    schedules = {}
    for stylist_id in (1, 2, 3)[: draw(st.integers(1, 3))]:
        open_ = draw(st.integers(0, 12)) * 60 + draw(st.sampled_from([0, 15, 30]))
        close = min(open_ + draw(st.integers(2, 10)) * 60, 23 * 60 + 45)
        schedules[stylist_id] = StylistSchedule(
            stylist_id=stylist_id,
            weekly_hours={day.weekday(): [(time(open_ // 60, open_ % 60), time(close // 60, close % 60))]},
            bookings=[span() for _ in range(draw(st.integers(0, 4)))],
            time_off=[span() for _ in range(draw(st.integers(0, 1)))],
        )
    resources = {
        resource: {
            resource * 10 + unit: [span() for _ in range(draw(st.integers(0, 3)))]
            for unit in range(draw(st.integers(0, 2)))
        }
        for resource in (1, 2)
    }
    items = []
    for _ in range(draw(st.integers(1, 3))):
        who = draw(st.lists(st.sampled_from(sorted(schedules)), min_size=1, max_size=3, unique=True))
        items.append(VisitItem(tuple((stylist_id, draw(phases())) for stylist_id in who)))
    return World(tz, day, draw(st.sampled_from([15, 30])), schedules, resources, items)


def _minutes(start: datetime, end: datetime) -> set[datetime]:
    count = (end - start) // minutes(1)
    return {start + minutes(n) for n in range(count)}


def _working(world: World, stylist_id: int) -> list[tuple[datetime, datetime]]:
    (opening,) = world.schedules[stylist_id].weekly_hours[world.day.weekday()]
    start = datetime.combine(world.day, opening[0], tzinfo=world.tz).astimezone(UTC)
    end = datetime.combine(world.day, opening[1], tzinfo=world.tz).astimezone(UTC)
    return [(start, end)] if start < end else []


def brute_force_valid(world: World, start: datetime, choice: tuple[int, ...]) -> bool:
    """Whether the visit at ``start`` with these stylists breaks no rule, minute by minute."""
    busy = {sid: set().union(*(_minutes(*b) for b in s.bookings)) for sid, s in world.schedules.items()}
    away = {sid: set().union(*(_minutes(*t) for t in s.time_off)) for sid, s in world.schedules.items()}
    held = {
        unit: set().union(*(_minutes(*h) for h in spans))
        for by_unit in world.resources.values()
        for unit, spans in by_unit.items()
    }
    treatments = [dict(item.options)[sid] for item, sid in zip(world.items, choice, strict=True)]
    first_work = _working(world, choice[0])
    t = start
    for index, (sid, treatment) in enumerate(zip(choice, treatments, strict=True)):
        occupied = (t - treatment.buffer_before, t + treatment.duration + treatment.buffer_after)
        fits = [w for w in _working(world, sid) if w[0] <= occupied[0] and occupied[1] <= w[1]]
        if not fits or _minutes(*occupied) & away[sid]:
            return False
        if index == 0 and not any((t - w[0]) % minutes(world.slot) == timedelta(0) for w in fits):
            return False
        mine: set[datetime] = set()
        if index == 0 or choice[index - 1] != sid:
            mine |= _minutes(t - treatment.buffer_before, t)
        offset = t
        for phase in treatment.phases:
            span = _minutes(offset, offset + phase.duration)
            if not phase.processing:
                mine |= span
            for resource in phase.resources:
                free = [u for u in sorted(world.resources[resource]) if not held[u] & span]
                if not free:
                    return False
                held[free[0]] |= span
            offset += phase.duration
        if index == len(choice) - 1 or choice[index + 1] != sid:
            mine |= _minutes(offset, offset + treatment.buffer_after)
        if mine & busy[sid]:
            return False
        busy[sid] |= mine
        t = offset
    del first_work
    return True


def _candidates(world: World) -> list[datetime]:
    found = set()
    for sid, _ in world.items[0].options:
        for w_start, w_end in _working(world, sid):
            t = w_start
            while t < w_end:
                if t.astimezone(world.tz).date() == world.day:
                    found.add(t)
                t += minutes(world.slot)
    return sorted(found)


def _search(world: World):
    pol = Policy(time_zone=world.tz, slot_minutes=world.slot, min_notice=timedelta(0), horizon_days=400)
    return pol, Resources(world.resources)


@settings(max_examples=120, deadline=None)
@given(worlds())
def test_offered_visit_starts_are_exactly_those_with_a_valid_choice_of_stylists(world: World) -> None:
    pol, resources = _search(world)
    free = free_visit_starts(world.schedules, pol, world.day, world.items, LONG_AGO, resources)
    offered_ = {start.astimezone(UTC): ids for start, ids in free.items()}
    expected = {}
    for start in _candidates(world):
        firsts = [
            sid
            for sid, _ in world.items[0].options
            if any(
                brute_force_valid(world, start, (sid, *rest))
                for rest in itertools.product(*([s for s, _ in item.options] for item in world.items[1:]))
            )
        ]
        if firsts:
            expected[start] = firsts
    assert offered_ == expected


@settings(max_examples=120, deadline=None)
@given(worlds(), st.data())
def test_a_plan_exists_exactly_for_the_offered_starts_and_breaks_no_rule(world: World, data) -> None:
    pol, resources = _search(world)
    free = {
        s.astimezone(UTC)
        for s in free_visit_starts(world.schedules, pol, world.day, world.items, LONG_AGO, resources)
    }
    day_start, day_end = day_bounds(world.day, world.tz)
    start = day_start + minutes(5) * data.draw(st.integers(0, (day_end - day_start) // minutes(5) - 1))
    start = data.draw(st.sampled_from(sorted(free))) if free and data.draw(st.booleans()) else start

    result = plan_visit(world.schedules, pol, start, world.items, LONG_AGO, resources)

    assert isinstance(result, Plan) == (start in free)
    if isinstance(result, Plan):
        choice = tuple(p.stylist_id for p in result.placements)
        assert brute_force_valid(world, start, choice)
        # Nobody in two busy spans at once, no unit held twice at once: with
        # everything already booked, and within the plan.
        spans = [(p.stylist_id, s, e) for p in result.placements for s, e in p.busy]
        spans += [(("unit", u), s, e) for p in result.placements for u, s, e in p.units]
        for (a, s1, e1), (b, s2, e2) in itertools.combinations(spans, 2):
            assert not (a == b and s1 < e2 and s2 < e1)
        for p in result.placements:
            for s, e in p.busy:
                assert not world.schedules[p.stylist_id].busy_spans.overlaps(s, e)


@settings(max_examples=100, deadline=None)
@given(worlds(), st.randoms(use_true_random=False))
def test_offering_does_not_depend_on_the_order_of_the_inputs(world: World, rng: random.Random) -> None:
    pol, resources = _search(world)
    before = free_visit_starts(world.schedules, pol, world.day, world.items, LONG_AGO, resources)
    shuffled = {
        sid: StylistSchedule(
            stylist_id=sid,
            weekly_hours=s.weekly_hours,
            bookings=rng.sample(list(s.bookings), len(s.bookings)),
            time_off=rng.sample(list(s.time_off), len(s.time_off)),
        )
        for sid, s in reversed(list(world.schedules.items()))
    }
    units = {
        r: dict(rng.sample(list(by_unit.items()), len(by_unit))) for r, by_unit in world.resources.items()
    }

    after = free_visit_starts(shuffled, pol, world.day, world.items, LONG_AGO, Resources(units))

    assert after == before
