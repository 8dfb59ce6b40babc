"""availability.misfit: whether time already booked still fits a changed schedule.

Pure: no database, no clock. The properties tie it to the engine: whatever
plan_visit places fits the schedule it was placed in, and stops fitting exactly
when time off, a closure or shorter hours come over it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chairtime.booking.availability import Plan, Policy, Refusal, StylistSchedule, misfit, plan_visit
from chairtime.booking.tests.test_visits import LA, LONDON, LONG_AGO, World, _search, worlds

MONDAY = date(2027, 6, 14)
FALL_BACK = date(2027, 11, 7)  # Los Angeles: 02:00 PDT -> 01:00 PST


def at(day: date, hhmm: str, fold: int = 0, tz=LA) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=tz).replace(fold=fold)


def policy(**changes) -> Policy:
    return Policy(
        **{"time_zone": LA, "slot_minutes": 15, "min_notice": timedelta(0), "horizon_days": 400, **changes}
    )


def schedule(*spans: tuple[str, str], weekday: int = MONDAY.weekday(), **changes) -> StylistSchedule:
    return StylistSchedule(
        stylist_id=1,
        weekly_hours={weekday: [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in spans]},
        **changes,
    )


NINE_TO_FIVE = schedule(("09:00", "17:00"))


def test_an_appointment_inside_the_hours_fits() -> None:
    assert misfit(NINE_TO_FIVE, policy(), at(MONDAY, "09:00"), at(MONDAY, "17:00")) is None


@pytest.mark.parametrize(("start", "end"), [("08:45", "09:30"), ("16:30", "17:15"), ("08:00", "18:00")])
def test_an_appointment_reaching_past_the_hours_does_not(start: str, end: str) -> None:
    assert misfit(NINE_TO_FIVE, policy(), at(MONDAY, start), at(MONDAY, end)) is Refusal.OUTSIDE_HOURS


def test_an_appointment_across_a_break_does_not_fit() -> None:
    split = schedule(("09:00", "12:00"), ("13:00", "17:00"))
    assert misfit(split, policy(), at(MONDAY, "11:30"), at(MONDAY, "13:30")) is Refusal.OUTSIDE_HOURS
    assert misfit(split, policy(), at(MONDAY, "13:00"), at(MONDAY, "13:30")) is None


def test_a_closure_comes_first() -> None:
    closed = policy(closures=frozenset({MONDAY}))
    assert misfit(NINE_TO_FIVE, closed, at(MONDAY, "10:00"), at(MONDAY, "11:00")) is Refusal.CLOSED


def test_the_salons_special_hours_cut_every_stylists_day() -> None:
    short_day = policy(special_hours={MONDAY: [(time(9), time(15))]})
    assert misfit(NINE_TO_FIVE, short_day, at(MONDAY, "14:00"), at(MONDAY, "15:00")) is None
    assert misfit(NINE_TO_FIVE, short_day, at(MONDAY, "14:30"), at(MONDAY, "15:30")) is Refusal.OUTSIDE_HOURS


def test_a_stylists_special_hours_replace_the_weekly_ones() -> None:
    late = dataclasses.replace(NINE_TO_FIVE, special_hours={MONDAY: [(time(12), time(21))]})
    assert misfit(late, policy(), at(MONDAY, "19:00"), at(MONDAY, "20:00")) is None
    assert misfit(late, policy(), at(MONDAY, "10:00"), at(MONDAY, "11:00")) is Refusal.OUTSIDE_HOURS


def test_time_off_over_any_minute_of_it() -> None:
    away = dataclasses.replace(NINE_TO_FIVE, time_off=[(at(MONDAY, "10:59"), at(MONDAY, "12:00"))])
    assert misfit(away, policy(), at(MONDAY, "10:00"), at(MONDAY, "11:00")) is Refusal.TIME_OFF
    assert misfit(away, policy(), at(MONDAY, "09:00"), at(MONDAY, "10:59")) is None


def test_the_second_one_oclock_of_the_fall_back_night_is_judged_in_real_time() -> None:
    night = schedule(("00:00", "01:30"), weekday=FALL_BACK.weekday())
    # 01:00-01:30 PDT fits; 01:00-01:30 PST, an hour later, is outside 00:00-01:30 (which ends at
    # the first 01:30, PDT) since wall-clock hours end at their first occurrence.
    assert misfit(night, policy(), at(FALL_BACK, "01:00"), at(FALL_BACK, "01:30")) is None
    assert (
        misfit(night, policy(), at(FALL_BACK, "01:00", fold=1), at(FALL_BACK, "01:30", fold=1))
        is Refusal.OUTSIDE_HOURS
    )


def test_it_compares_instants_in_any_zone() -> None:
    london = at(MONDAY, "17:00", tz=LONDON)  # 09:00 in Los Angeles
    assert misfit(NINE_TO_FIVE, policy(), london, london + timedelta(hours=1)) is None
    assert misfit(NINE_TO_FIVE, policy(), london - timedelta(minutes=1), london) is Refusal.OUTSIDE_HOURS


def test_it_refuses_an_empty_or_naive_span() -> None:
    with pytest.raises(ValueError, match="end must be after start"):
        misfit(NINE_TO_FIVE, policy(), at(MONDAY, "10:00"), at(MONDAY, "10:00"))
    with pytest.raises(ValueError):
        misfit(NINE_TO_FIVE, policy(), datetime(2027, 6, 14, 10), datetime(2027, 6, 14, 11))


# --- Properties: the same rule as the engine's -------------------------------------


def _occupied(world: World, plan: Plan) -> list[tuple[int, datetime, datetime]]:
    """Each placement's stylist and span, its buffers included (what hours judge)."""
    spans = []
    for item, placement in zip(world.items, plan.placements, strict=True):
        treatment = dict(item.options)[placement.stylist_id]
        spans.append(
            (
                placement.stylist_id,
                placement.start - treatment.buffer_before,
                placement.end + treatment.buffer_after,
            )
        )
    return spans


def _plans(world: World, data) -> tuple[Policy, Plan] | None:
    pol, resources = _search(world)
    day_start = datetime.combine(world.day, time(0), tzinfo=world.tz).astimezone(UTC)
    start = day_start + timedelta(minutes=15) * data.draw(st.integers(0, 95))
    plan = plan_visit(world.schedules, pol, start, world.items, LONG_AGO, resources)
    return (pol, plan) if isinstance(plan, Plan) else None


@settings(max_examples=150, deadline=None)
@given(worlds(), st.data())
def test_what_the_engine_places_fits_the_schedule_it_was_placed_in(world: World, data) -> None:
    planned = _plans(world, data)
    if planned is None:
        return
    pol, plan = planned
    for stylist_id, start, end in _occupied(world, plan):
        assert misfit(world.schedules[stylist_id], pol, start, end) is None


@settings(max_examples=150, deadline=None)
@given(worlds(), st.data())
def test_time_off_a_closure_or_shorter_hours_over_it_make_it_misfit(world: World, data) -> None:
    planned = _plans(world, data)
    if planned is None:
        return
    pol, plan = planned
    stylist_id, start, end = data.draw(st.sampled_from(_occupied(world, plan)))
    schedule = world.schedules[stylist_id]
    minute = start + timedelta(minutes=data.draw(st.integers(0, (end - start) // timedelta(minutes=1) - 1)))

    away = dataclasses.replace(
        schedule, time_off=[*schedule.time_off, (minute, minute + timedelta(minutes=1))]
    )
    assert misfit(away, pol, start, end) is Refusal.TIME_OFF

    day = start.astimezone(world.tz).date()
    assert misfit(schedule, dataclasses.replace(pol, closures=frozenset({day})), start, end) is Refusal.CLOSED

    # The salon closes at the minute inside it (wall clock): it no longer fits.
    local = minute.astimezone(world.tz)
    if local.date() == day and local.time() != time(0):
        shorter = dataclasses.replace(pol, special_hours={day: [(time(0), local.time().replace(second=0))]})
        assert misfit(schedule, shorter, start, end) is Refusal.OUTSIDE_HOURS
