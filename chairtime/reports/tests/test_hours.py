"""Working time, the denominator of utilisation: pure, real elapsed time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from chairtime.booking.availability import Policy, StylistSchedule
from chairtime.booking.tests.test_visits import LA
from chairtime.reports.hours import working_time

MONDAY = date(2027, 6, 14)
SPRING_FORWARD = date(2027, 3, 14)  # a Sunday in Los Angeles: 02:00 -> 03:00


def policy(**changes) -> Policy:
    return Policy(
        **{"time_zone": LA, "slot_minutes": 15, "min_notice": timedelta(0), "horizon_days": 400, **changes}
    )


def schedule(**changes) -> StylistSchedule:
    hours = [(time(9), time(12, 30)), (time(13, 30), time(18))]
    return StylistSchedule(stylist_id=1, weekly_hours=dict.fromkeys(range(7), hours), **changes)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=LA)


def test_a_day_is_its_intervals_without_the_break():
    assert working_time(schedule(), policy(), [MONDAY]) == timedelta(hours=8)


def test_days_add_up_and_a_closure_counts_nothing():
    days = [MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)]
    closed = policy(closures=frozenset({days[1]}))
    assert working_time(schedule(), closed, days) == timedelta(hours=16)


def test_time_off_is_taken_out_once_even_when_it_overlaps_itself_and_the_break():
    away = schedule(
        time_off=[
            (at(MONDAY, 12), at(MONDAY, 14)),
            (at(MONDAY, 13), at(MONDAY, 14, 30)),
            (at(MONDAY, 20), at(MONDAY, 21)),
        ]
    )
    # 12:00-12:30 and 13:30-14:30 of work are off: 1.5 hours.
    assert working_time(away, policy(), [MONDAY]) == timedelta(hours=6, minutes=30)


def test_the_salons_special_hours_cut_the_day():
    short = policy(special_hours={MONDAY: [(time(10), time(15))]})
    assert working_time(schedule(), short, [MONDAY]) == timedelta(hours=4)


def test_a_day_the_clocks_spring_forward_counts_real_hours():
    night = StylistSchedule(stylist_id=1, weekly_hours={SPRING_FORWARD.weekday(): [(time(1), time(4))]})
    assert working_time(night, policy(), [SPRING_FORWARD]) == timedelta(hours=2)
