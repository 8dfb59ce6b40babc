"""Tests for the pure booking rules in chairtime.booking.availability.

No database and no clock: every test passes ``now`` explicitly. Expected start
times on daylight-saving days are written as ISO strings with their UTC offset,
because two datetimes in one ZoneInfo that differ only in ``fold`` compare equal
(01:00 PDT == 01:00 PST on the fall-back night) and would hide exactly the bugs
these tests are for.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chairtime.booking.availability import (
    Policy,
    Refusal,
    StylistSchedule,
    bookable_dates,
    check_start,
    check_timing,
    day_bounds,
    first_free_starts,
    free_starts,
    free_starts_any,
    local_today,
)

LA = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # its clocks move by 30 minutes
TOKYO = ZoneInfo("Asia/Tokyo")  # no DST; a third way to write the same instant

ONE_DAY = timedelta(days=1)
MONDAY = date(2027, 6, 14)  # an ordinary Monday, PDT (UTC-7)
SPRING_FORWARD = date(2027, 3, 14)  # Sunday: 02:00 PST -> 03:00 PDT, a 23-hour day
FALL_BACK = date(2027, 11, 7)  # Sunday: 02:00 PDT -> 01:00 PST, a 25-hour day
ORDINARY_SUNDAY = date(2027, 3, 21)
# A `now` long before every day above, with the default horizon reaching past all of them.
LONG_AGO = datetime(2027, 1, 1, tzinfo=UTC)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def make_policy(**changes: object) -> Policy:
    fields: dict[str, object] = {
        "time_zone": LA,
        "slot_minutes": 30,
        "min_notice": timedelta(0),
        "horizon_days": 400,
    }
    fields.update(changes)
    return Policy(**fields)  # type: ignore[arg-type]


def hours(*spans: str) -> list[tuple[time, time]]:
    """hours("09:00-12:00", "13:00-17:00") -> working intervals."""
    result = []
    for span in spans:
        start, end = span.split("-")
        result.append((time.fromisoformat(start), time.fromisoformat(end)))
    return result


def make_schedule(
    *spans: str,
    weekdays: Sequence[int] = range(7),
    stylist_id: int = 1,
    time_off: Sequence[tuple[datetime, datetime]] = (),
    bookings: Sequence[tuple[datetime, datetime]] = (),
) -> StylistSchedule:
    """A stylist working the same ``spans`` on each of ``weekdays``."""
    return StylistSchedule(
        stylist_id=stylist_id,
        weekly_hours={weekday: hours(*spans) for weekday in weekdays},
        time_off=time_off,
        bookings=bookings,
    )


def at(day: date, hhmm: str, tz: ZoneInfo = LA, fold: int = 0) -> datetime:
    """The aware local datetime ``hhmm`` on ``day`` (fold=1: the second of two)."""
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=tz).replace(fold=fold)


def clock(starts: Sequence[datetime]) -> list[str]:
    return [start.strftime("%H:%M") for start in starts]


def iso(starts: Sequence[datetime]) -> list[str]:
    return [start.isoformat() for start in starts]


def instants(starts: Sequence[datetime]) -> list[datetime]:
    return [start.astimezone(UTC) for start in starts]


def starts(schedule: StylistSchedule, day: date, duration: int = 30, **policy: object) -> list[datetime]:
    now = policy.pop("now", LONG_AGO)
    return free_starts(schedule, make_policy(**policy), day, minutes(duration), now)  # type: ignore[arg-type]


# --- the grid and working intervals ------------------------------------------------


def test_it_offers_starts_on_the_grid_inside_hours() -> None:
    offered = starts(make_schedule("09:00-12:00"), MONDAY, duration=60)

    assert clock(offered) == ["09:00", "09:30", "10:00", "10:30", "11:00"]
    assert all(start.tzinfo is LA for start in offered)
    assert iso(offered)[0] == "2027-06-14T09:00:00-07:00"


def test_the_grid_is_anchored_at_each_working_interval_start() -> None:
    offered = starts(make_schedule("09:15-11:00", "13:10-14:00"), MONDAY, duration=30)

    assert clock(offered) == ["09:15", "09:45", "10:15", "13:10"]


def test_the_grid_step_is_the_slot_not_the_service_length() -> None:
    offered = starts(make_schedule("09:00-11:00"), MONDAY, duration=50, slot_minutes=15)

    assert clock(offered) == ["09:00", "09:15", "09:30", "09:45", "10:00"]


def test_a_service_never_straddles_a_break() -> None:
    offered = starts(make_schedule("09:00-12:00", "13:00-17:00"), MONDAY, duration=90)

    assert clock(offered) == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "13:00",
        "13:30",
        "14:00",
        "14:30",
        "15:00",
        "15:30",
    ]


def test_adjacent_intervals_are_separate_intervals() -> None:
    offered = starts(make_schedule("09:00-12:00", "12:00-14:00"), MONDAY, duration=60)

    assert clock(offered) == ["09:00", "09:30", "10:00", "10:30", "11:00", "12:00", "12:30", "13:00"]


def test_overlapping_intervals_each_keep_their_grid_and_starts_are_not_repeated() -> None:
    schedule = make_schedule("09:00-11:00", "10:15-11:15", "09:00-11:00")

    assert clock(starts(schedule, MONDAY, duration=30)) == [
        "09:00",
        "09:30",
        "10:00",
        "10:15",
        "10:30",
        "10:45",
    ]
    # 10:15 is off the first interval's grid but on the second's.
    assert check_start(schedule, make_policy(), at(MONDAY, "10:15"), minutes(30), LONG_AGO) is None


def test_a_day_off_offers_nothing() -> None:
    weekdays_only = make_schedule("09:00-17:00", weekdays=range(5))

    assert starts(weekdays_only, MONDAY + timedelta(days=5)) == []  # Saturday
    assert starts(weekdays_only, MONDAY) != []


def test_a_service_longer_than_every_interval_offers_nothing() -> None:
    assert starts(make_schedule("09:00-10:00", "11:00-12:00"), MONDAY, duration=61) == []


def test_an_interval_ending_at_midnight_runs_to_the_end_of_the_day() -> None:
    offered = starts(make_schedule("22:00-00:00"), MONDAY, duration=30)

    assert clock(offered) == ["22:00", "22:30", "23:00", "23:30"]


# --- bookings and time off ------------------------------------------------------------


def test_back_to_back_bookings_are_fine() -> None:
    booked = make_schedule("09:00-13:00", bookings=[(at(MONDAY, "10:00"), at(MONDAY, "11:00"))])

    assert clock(starts(booked, MONDAY, duration=60)) == ["09:00", "11:00", "11:30", "12:00"]


def test_a_booking_blocks_services_overlapping_either_of_its_ends() -> None:
    booked = make_schedule("09:00-12:00", bookings=[(at(MONDAY, "10:15"), at(MONDAY, "10:45"))])

    # 10:00-10:30 overlaps the booking's start, 10:30-11:00 its end.
    assert clock(starts(booked, MONDAY, duration=30)) == ["09:00", "09:30", "11:00", "11:30"]


def test_a_booking_inside_a_service_blocks_it() -> None:
    booked = make_schedule("09:00-12:00", bookings=[(at(MONDAY, "10:10"), at(MONDAY, "10:20"))])

    assert clock(starts(booked, MONDAY, duration=60)) == ["09:00", "10:30", "11:00"]


def test_a_short_booking_inside_a_long_one_does_not_shorten_it() -> None:
    booked = make_schedule(
        "09:00-13:00",
        bookings=[(at(MONDAY, "10:00"), at(MONDAY, "10:30")), (at(MONDAY, "09:30"), at(MONDAY, "12:00"))],
    )

    assert clock(starts(booked, MONDAY, duration=30)) == ["09:00", "12:00", "12:30"]


def test_a_single_microsecond_of_overlap_blocks_a_start() -> None:
    booked = make_schedule(
        "09:00-11:00", bookings=[(at(MONDAY, "09:00"), at(MONDAY, "10:00") + timedelta(microseconds=1))]
    )

    assert clock(starts(booked, MONDAY, duration=30)) == ["10:30"]


def test_time_off_spanning_several_days_blocks_each_of_them() -> None:
    away = make_schedule("09:00-17:00", time_off=[(at(MONDAY, "15:00"), at(MONDAY + 2 * ONE_DAY, "11:00"))])

    assert clock(starts(away, MONDAY, duration=60)) == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
        "12:00",
        "12:30",
        "13:00",
        "13:30",
        "14:00",
    ]
    assert starts(away, MONDAY + ONE_DAY, duration=60) == []
    assert clock(starts(away, MONDAY + 2 * ONE_DAY, duration=60))[0] == "11:00"


def test_a_late_evening_booking_blocks_its_own_local_day() -> None:
    # 23:30-00:00 PDT on Monday is 06:30-07:00 UTC on *Tuesday*: bucketing
    # bookings by UTC date would file it under the wrong day and offer 23:30.
    booking = (datetime(2027, 6, 15, 6, 30, tzinfo=UTC), datetime(2027, 6, 15, 7, 0, tzinfo=UTC))
    late = make_schedule("20:00-00:00", bookings=[booking])

    assert clock(starts(late, MONDAY, duration=30)) == [
        "20:00",
        "20:30",
        "21:00",
        "21:30",
        "22:00",
        "22:30",
        "23:00",
    ]
    assert check_start(late, make_policy(), at(MONDAY, "23:30"), minutes(30), LONG_AGO) is Refusal.TAKEN
    # ... and it does not leak into the next local day.
    assert clock(starts(late, MONDAY + ONE_DAY, duration=30))[-1] == "23:30"


def test_the_schedule_is_a_snapshot_of_its_inputs() -> None:
    bookings = [(at(MONDAY, "09:00"), at(MONDAY, "10:00"))]
    schedule = make_schedule("09:00-11:00", bookings=bookings)
    bookings.clear()

    assert clock(starts(schedule, MONDAY, duration=60)) == ["10:00"]
    assert len(schedule.bookings) == 1


def test_results_do_not_depend_on_the_order_of_inputs() -> None:
    intervals = ["13:00-17:00", "09:00-12:00"]
    bookings = [(at(MONDAY, "14:00"), at(MONDAY, "15:00")), (at(MONDAY, "09:30"), at(MONDAY, "10:00"))]
    time_off = [(at(MONDAY, "16:00"), at(MONDAY, "18:00")), (at(MONDAY, "11:00"), at(MONDAY, "11:30"))]
    forwards = make_schedule(*intervals, bookings=bookings, time_off=time_off)
    backwards = make_schedule(*intervals[::-1], bookings=bookings[::-1], time_off=time_off[::-1])

    assert iso(starts(forwards, MONDAY)) == iso(starts(backwards, MONDAY))
    assert clock(starts(forwards, MONDAY)) == [
        "09:00",
        "10:00",
        "10:30",
        "11:30",
        "13:00",
        "13:30",
        "15:00",
        "15:30",
    ]


# --- closures, notice and horizon --------------------------------------------------------


def test_it_offers_nothing_on_a_closure_day() -> None:
    schedule = make_schedule("09:00-17:00")

    assert starts(schedule, MONDAY, closures=frozenset({MONDAY})) == []
    assert starts(schedule, MONDAY + ONE_DAY, closures=frozenset({MONDAY})) != []


def test_bookable_dates_run_from_today_to_the_horizon_without_closures() -> None:
    policy = make_policy(horizon_days=4, closures=frozenset({MONDAY + ONE_DAY, MONDAY + 10 * ONE_DAY}))

    assert bookable_dates(policy, at(MONDAY, "12:00")) == [
        MONDAY,
        MONDAY + 2 * ONE_DAY,
        MONDAY + 3 * ONE_DAY,
        MONDAY + 4 * ONE_DAY,
    ]


def test_min_notice_boundary_is_inclusive() -> None:
    schedule = make_schedule("09:00-12:00")
    now = at(MONDAY, "08:00")

    assert clock(starts(schedule, MONDAY, now=now, min_notice=timedelta(hours=2)))[0] == "10:00"
    just_after = now + timedelta(microseconds=1)
    assert clock(starts(schedule, MONDAY, now=just_after, min_notice=timedelta(hours=2)))[0] == "10:30"


def test_min_notice_counts_real_time_across_the_fall_back_night() -> None:
    # 00:30 PDT + 2 hours of real time is 01:30 PST. Adding to the local wall clock
    # would give 02:30 PST, an hour too late.
    offered = starts(
        make_schedule("01:00-04:00"), FALL_BACK, now=at(FALL_BACK, "00:30"), min_notice=timedelta(hours=2)
    )

    assert iso(offered)[0] == "2027-11-07T01:30:00-08:00"


def test_starts_before_now_are_not_offered_even_without_notice() -> None:
    offered = starts(make_schedule("09:00-12:00"), MONDAY, now=at(MONDAY, "10:10"))

    assert clock(offered) == ["10:30", "11:00", "11:30"]


def test_days_before_today_offer_nothing() -> None:
    assert starts(make_schedule("09:00-17:00"), MONDAY - ONE_DAY, now=at(MONDAY, "08:00")) == []


def test_the_horizon_boundary_is_inclusive() -> None:
    schedule = make_schedule("09:00-17:00")
    now = at(MONDAY, "12:00")

    assert starts(schedule, MONDAY + 3 * ONE_DAY, now=now, horizon_days=3) != []
    assert starts(schedule, MONDAY + 4 * ONE_DAY, now=now, horizon_days=3) == []


def test_the_horizon_counts_local_dates_when_utc_is_already_tomorrow() -> None:
    # 22:00 PDT on Monday is 05:00 UTC on Tuesday; the salon's today is Monday.
    now = at(MONDAY, "22:00")
    policy = make_policy(horizon_days=1)
    schedule = make_schedule("09:00-23:00")

    assert now.astimezone(UTC).date() == MONDAY + ONE_DAY
    assert local_today(policy, now) == MONDAY
    assert local_today(policy, now.astimezone(UTC)) == MONDAY
    assert bookable_dates(policy, now) == [MONDAY, MONDAY + ONE_DAY]
    assert clock(free_starts(schedule, policy, MONDAY, minutes(30), now)) == ["22:00", "22:30"]
    assert free_starts(schedule, policy, MONDAY + ONE_DAY, minutes(30), now) != []
    assert free_starts(schedule, policy, MONDAY + 2 * ONE_DAY, minutes(30), now) == []
    late = at(MONDAY + 2 * ONE_DAY, "09:00")
    assert check_start(schedule, policy, late, minutes(30), now) is Refusal.BEYOND_HORIZON


# --- free_starts_any ---------------------------------------------------------------------


def test_free_starts_any_lists_every_start_with_the_stylists_free_then() -> None:
    policy = make_policy()
    ana = make_schedule("09:00-11:00", stylist_id=7, bookings=[(at(MONDAY, "09:30"), at(MONDAY, "10:00"))])
    bo = make_schedule("10:00-12:00", stylist_id=3)
    off = make_schedule("09:00-17:00", stylist_id=9, weekdays=[5, 6])

    free = free_starts_any([ana, bo, off], policy, MONDAY, minutes(30), LONG_AGO)

    assert [(key.strftime("%H:%M"), ids) for key, ids in free.items()] == [
        ("09:00", [7]),
        ("10:00", [7, 3]),
        ("10:30", [7, 3]),
        ("11:00", [3]),
        ("11:30", [3]),
    ]
    reordered = free_starts_any([bo, off, ana], policy, MONDAY, minutes(30), LONG_AGO)
    assert list(reordered.values())[1] == [3, 7]
    assert free_starts_any([], policy, MONDAY, minutes(30), LONG_AGO) == {}


def test_free_starts_any_keeps_both_one_oclocks_of_the_fall_back_night() -> None:
    free = free_starts_any(
        [make_schedule("01:00-02:00", stylist_id=1), make_schedule("01:00-01:30", stylist_id=2)],
        make_policy(),
        FALL_BACK,
        minutes(30),
        LONG_AGO,
    )

    assert [(key.isoformat(), key.tzname(), ids) for key, ids in free.items()] == [
        ("2027-11-07T01:00:00-07:00", "PDT", [1, 2]),
        ("2027-11-07T01:30:00-07:00", "PDT", [1]),
        ("2027-11-07T01:00:00-08:00", "PST", [1]),
        ("2027-11-07T01:30:00-08:00", "PST", [1]),
    ]
    # Keys compare by instant and convert back to the salon's zone.
    assert at(FALL_BACK, "09:00", UTC) in free
    assert [key.astimezone(LA).fold for key in free] == [0, 0, 1, 1]


# --- check_start -------------------------------------------------------------------------

NOW = at(MONDAY - 3 * ONE_DAY, "12:00")  # the Friday before MONDAY
TUESDAY = MONDAY + ONE_DAY


def refusal_policy() -> Policy:
    return make_policy(min_notice=timedelta(hours=2), horizon_days=14, closures=frozenset({TUESDAY}))


def refusal_schedule() -> StylistSchedule:
    return make_schedule(
        "09:00-12:00",
        "13:00-17:00",
        weekdays=range(5),
        time_off=[(at(MONDAY, "11:00"), at(MONDAY, "12:00"))],
        bookings=[(at(MONDAY, "14:00"), at(MONDAY, "15:00"))],
    )


def check(start: datetime, duration: int = 60, now: datetime = NOW) -> Refusal | None:
    return check_start(refusal_schedule(), refusal_policy(), start, minutes(duration), now)


def test_check_start_accepts_a_free_start() -> None:
    assert check(at(MONDAY, "09:00")) is None
    assert check(at(MONDAY, "15:00")) is None  # right after the booking
    assert check(at(MONDAY, "13:00")) is None  # right after the break and the time off


def test_check_start_refuses_a_start_in_the_past() -> None:
    assert check(NOW - timedelta(microseconds=1)) is Refusal.IN_THE_PAST
    assert check(at(MONDAY, "09:00"), now=at(MONDAY, "09:30")) is Refusal.IN_THE_PAST


def test_check_start_refuses_a_start_without_enough_notice() -> None:
    assert check(NOW) is Refusal.TOO_SOON
    assert check(at(MONDAY, "10:00"), now=at(MONDAY, "08:00") + timedelta(seconds=1)) is Refusal.TOO_SOON
    assert check(at(MONDAY, "10:00"), now=at(MONDAY, "08:00")) is None


def test_check_start_refuses_a_start_beyond_the_horizon() -> None:
    last_day = NOW.date() + timedelta(days=14)  # a Friday

    assert check(at(last_day, "09:00")) is None
    assert check(at(last_day + 3 * ONE_DAY, "09:00")) is Refusal.BEYOND_HORIZON


def test_check_start_refuses_a_closure_day() -> None:
    assert check(at(TUESDAY, "09:00")) is Refusal.CLOSED


def test_check_start_refuses_a_service_outside_working_hours() -> None:
    assert check(at(MONDAY, "08:30")) is Refusal.OUTSIDE_HOURS  # before opening
    assert check(at(MONDAY, "16:30")) is Refusal.OUTSIDE_HOURS  # would end after closing
    assert check(at(MONDAY, "11:30")) is Refusal.OUTSIDE_HOURS  # would run into the break
    assert check(at(MONDAY, "12:00")) is Refusal.OUTSIDE_HOURS  # in the break
    assert check(at(MONDAY + 5 * ONE_DAY, "10:00")) is Refusal.OUTSIDE_HOURS  # a day off


def test_check_start_refuses_a_start_off_the_grid() -> None:
    assert check(at(MONDAY, "09:10")) is Refusal.OFF_GRID
    assert check(at(MONDAY, "09:00") + timedelta(seconds=1)) is Refusal.OFF_GRID


def test_check_start_refuses_time_off() -> None:
    assert check(at(MONDAY, "10:30")) is Refusal.TIME_OFF  # runs into it
    assert check(at(MONDAY, "11:00"), duration=30) is Refusal.TIME_OFF


def test_check_start_refuses_a_taken_start() -> None:
    assert check(at(MONDAY, "14:00")) is Refusal.TAKEN
    assert check(at(MONDAY, "13:30")) is Refusal.TAKEN  # runs into it
    assert check(at(MONDAY, "14:30"), duration=30) is Refusal.TAKEN


def test_check_start_reports_the_first_reason_in_order() -> None:
    policy = make_policy(min_notice=timedelta(hours=2), horizon_days=1, closures=frozenset({MONDAY}))
    # Everything is wrong at once on MONDAY at 03:10: night time, off the grid,
    # time off, taken, closed.
    crowded = make_schedule(
        "09:00-17:00",
        weekdays=[1],
        time_off=[(at(MONDAY, "00:00"), at(MONDAY + ONE_DAY, "00:00"))],
        bookings=[(at(MONDAY, "00:00"), at(MONDAY + ONE_DAY, "00:00"))],
    )
    start = at(MONDAY, "03:10")

    def reason(now: datetime, schedule: StylistSchedule = crowded, when: datetime = start) -> Refusal | None:
        return check_start(schedule, policy, when, minutes(60), now)

    assert reason(now=start + minutes(1)) is Refusal.IN_THE_PAST
    assert reason(now=start - minutes(1)) is Refusal.TOO_SOON
    assert reason(now=start - timedelta(days=2)) is Refusal.BEYOND_HORIZON
    assert reason(now=start - ONE_DAY) is Refusal.CLOSED
    open_policy = dataclasses.replace(policy, closures=frozenset())

    def open_reason(schedule: StylistSchedule, when: datetime) -> Refusal | None:
        return check_start(schedule, open_policy, when, minutes(60), start - ONE_DAY)

    assert open_reason(crowded, start) is Refusal.OUTSIDE_HOURS
    all_day = dataclasses.replace(crowded, weekly_hours={0: hours("00:00-00:00")})
    assert open_reason(all_day, start) is Refusal.OFF_GRID
    assert open_reason(all_day, at(MONDAY, "03:00")) is Refusal.TIME_OFF
    only_booked = dataclasses.replace(all_day, time_off=())
    assert open_reason(only_booked, at(MONDAY, "03:00")) is Refusal.TAKEN
    assert open_reason(dataclasses.replace(only_booked, bookings=()), at(MONDAY, "03:00")) is None


def test_check_start_compares_instants_whatever_the_zone_of_start() -> None:
    start = at(MONDAY, "09:00")

    for same_instant in (
        start.astimezone(UTC),
        start.astimezone(TOKYO),
        start.astimezone(timezone(-minutes(420))),
    ):
        assert check(same_instant) is None
    assert check(at(MONDAY, "09:00", UTC)) is Refusal.OUTSIDE_HOURS  # 02:00 PDT


def test_check_start_agrees_with_free_starts_on_every_minute_of_several_days() -> None:
    policy = make_policy(slot_minutes=20, min_notice=timedelta(minutes=90))
    schedule = make_schedule(
        "00:10-04:00",
        "08:45-12:00",
        "12:30-00:00",
        time_off=[(at(FALL_BACK, "01:15", fold=1), at(FALL_BACK, "01:40", fold=1))],
        bookings=[
            (at(SPRING_FORWARD, "03:00"), at(SPRING_FORWARD, "03:30")),
            (at(FALL_BACK, "01:20"), at(FALL_BACK, "01:50")),
            (at(MONDAY, "09:05"), at(MONDAY, "09:45")),
            (at(MONDAY, "23:30"), at(MONDAY + ONE_DAY, "00:30")),
        ],
    )
    checked = 0
    for day in (MONDAY, SPRING_FORWARD, FALL_BACK):
        now = at(day, "00:20")
        for duration in (minutes(25), minutes(60)):
            offered = set(instants(free_starts(schedule, policy, day, duration, now)))
            assert offered
            day_start, day_end = day_bounds(day, LA)
            probe = day_start
            while probe < day_end:  # every real minute of the day, both 01:00s included
                accepted = check_start(schedule, policy, probe, duration, now) is None
                assert accepted == (probe in offered), probe.astimezone(LA).isoformat()
                checked += 1
                probe += minutes(1)
    assert checked == 2 * (24 + 23 + 25) * 60


# --- daylight saving time -----------------------------------------------------------------


def test_day_hours_stay_local_on_the_spring_forward_day() -> None:
    offered = starts(make_schedule("09:00-17:00"), SPRING_FORWARD)

    assert len(offered) == 16
    assert (iso(offered)[0], iso(offered)[-1]) == ("2027-03-14T09:00:00-07:00", "2027-03-14T16:30:00-07:00")


def test_day_hours_stay_local_on_the_fall_back_day() -> None:
    offered = starts(make_schedule("09:00-17:00"), FALL_BACK)

    assert len(offered) == 16
    assert (iso(offered)[0], iso(offered)[-1]) == ("2027-11-07T09:00:00-08:00", "2027-11-07T16:30:00-08:00")


def test_night_hours_on_the_spring_forward_night_skip_the_missing_hour() -> None:
    offered = starts(make_schedule("01:00-04:00"), SPRING_FORWARD)

    assert iso(offered) == [
        "2027-03-14T01:00:00-08:00",
        "2027-03-14T01:30:00-08:00",
        "2027-03-14T03:00:00-07:00",
        "2027-03-14T03:30:00-07:00",
    ]
    assert clock(starts(make_schedule("01:00-04:00"), ORDINARY_SUNDAY)) == [
        "01:00",
        "01:30",
        "02:00",
        "02:30",
        "03:00",
        "03:30",
    ]


def test_night_hours_on_the_fall_back_night_offer_both_one_oclock_hours() -> None:
    offered = starts(make_schedule("01:00-04:00"), FALL_BACK)

    assert iso(offered) == [
        "2027-11-07T01:00:00-07:00",
        "2027-11-07T01:30:00-07:00",
        "2027-11-07T01:00:00-08:00",
        "2027-11-07T01:30:00-08:00",
        "2027-11-07T02:00:00-08:00",
        "2027-11-07T02:30:00-08:00",
        "2027-11-07T03:00:00-08:00",
        "2027-11-07T03:30:00-08:00",
    ]
    assert [start.fold for start in offered] == [0, 0, 1, 1, 0, 0, 0, 0]


def test_a_service_across_the_spring_forward_jump_lasts_its_real_length() -> None:
    night = make_schedule("01:00-04:00")

    # 01:30 PST + 60 real minutes = 03:30 PDT, which still fits before 04:00.
    assert iso(starts(night, SPRING_FORWARD, duration=60)) == [
        "2027-03-14T01:00:00-08:00",
        "2027-03-14T01:30:00-08:00",
        "2027-03-14T03:00:00-07:00",
    ]
    booked = make_schedule(
        "01:00-04:00", bookings=[(at(SPRING_FORWARD, "03:00"), at(SPRING_FORWARD, "03:30"))]
    )
    # 01:00 PST + 60 minutes ends at 03:00 PDT: back to back with the booking.
    assert iso(starts(booked, SPRING_FORWARD, duration=60)) == ["2027-03-14T01:00:00-08:00"]


def test_a_service_across_the_fall_back_jump_lasts_its_real_length() -> None:
    # 01:30 PDT + 90 real minutes = 02:00 PST; on the wall clock it would be 03:00.
    booked = make_schedule("01:00-04:00", bookings=[(at(FALL_BACK, "02:00"), at(FALL_BACK, "02:30"))])

    offered = starts(booked, FALL_BACK, duration=90)

    assert iso(offered) == [
        "2027-11-07T01:00:00-07:00",
        "2027-11-07T01:30:00-07:00",
        "2027-11-07T02:30:00-08:00",
    ]


def test_a_booking_in_the_repeated_hour_blocks_only_its_own_occurrence() -> None:
    second_one_oclock = (at(FALL_BACK, "01:00", fold=1), at(FALL_BACK, "01:30", fold=1))
    booked = make_schedule("01:00-02:00", bookings=[second_one_oclock])

    assert iso(starts(booked, FALL_BACK)) == [
        "2027-11-07T01:00:00-07:00",
        "2027-11-07T01:30:00-07:00",
        "2027-11-07T01:30:00-08:00",
    ]
    policy = make_policy()
    assert check_start(booked, policy, at(FALL_BACK, "01:00"), minutes(30), LONG_AGO) is None
    assert check_start(booked, policy, at(FALL_BACK, "01:00", fold=1), minutes(30), LONG_AGO) is Refusal.TAKEN
    assert check_start(booked, policy, at(FALL_BACK, "09:00", UTC), minutes(30), LONG_AGO) is Refusal.TAKEN


def test_a_working_hour_inside_the_spring_forward_gap_starts_after_the_gap() -> None:
    # 02:00 and 02:30 never happen on 2027-03-14; read with the pre-jump offset
    # (fold=0) they become 03:00 and 03:30 PDT.
    assert iso(starts(make_schedule("02:00-05:00"), SPRING_FORWARD))[0] == "2027-03-14T03:00:00-07:00"
    assert iso(starts(make_schedule("02:30-05:00"), SPRING_FORWARD))[0] == "2027-03-14T03:30:00-07:00"
    # An interval from inside the gap to just after it is empty that day.
    assert starts(make_schedule("02:30-03:15"), SPRING_FORWARD, duration=15) == []
    assert clock(starts(make_schedule("02:30-03:15"), ORDINARY_SUNDAY, duration=15)) == ["02:30", "03:00"]


def test_day_bounds_of_an_ordinary_day_span_24_hours() -> None:
    start, end = day_bounds(MONDAY, LA)

    assert (start, end) == (datetime(2027, 6, 14, 7, tzinfo=UTC), datetime(2027, 6, 15, 7, tzinfo=UTC))
    assert start.tzinfo is UTC
    assert end.tzinfo is UTC


def test_day_bounds_of_the_spring_forward_day_span_23_hours() -> None:
    start, end = day_bounds(SPRING_FORWARD, LA)

    assert (start, end) == (datetime(2027, 3, 14, 8, tzinfo=UTC), datetime(2027, 3, 15, 7, tzinfo=UTC))
    assert end - start == timedelta(hours=23)


def test_day_bounds_of_the_fall_back_day_span_25_hours() -> None:
    start, end = day_bounds(FALL_BACK, LA)

    assert (start, end) == (datetime(2027, 11, 7, 7, tzinfo=UTC), datetime(2027, 11, 8, 8, tzinfo=UTC))
    assert end - start == timedelta(hours=25)


def test_day_bounds_start_at_the_first_instant_when_midnight_does_not_exist() -> None:
    # Chile springs forward at midnight: 2027-09-05 begins at 01:00 -03.
    santiago = ZoneInfo("America/Santiago")

    start, end = day_bounds(date(2027, 9, 5), santiago)

    assert start.astimezone(santiago).isoformat() == "2027-09-05T01:00:00-03:00"
    assert end - start == timedelta(hours=23)


def test_a_day_that_never_happened_offers_nothing() -> None:
    # Samoa crossed the date line by skipping 2011-12-30: 23:59:59 on the 29th
    # (UTC-10) was followed by 00:00 on the 31st (UTC+14). Read with fold=0, that
    # day's working hours land on instants of the 31st, which are not the 30th's.
    apia = ZoneInfo("Pacific/Apia")
    schedule = make_schedule("09:00-12:00")
    now = datetime(2011, 12, 1, tzinfo=UTC)

    start, end = day_bounds(date(2011, 12, 30), apia)
    assert end - start == timedelta(0)
    assert starts(schedule, date(2011, 12, 30), now=now, time_zone=apia) == []
    assert (
        iso(starts(schedule, date(2011, 12, 31), now=now, time_zone=apia))[0] == "2011-12-31T09:00:00+14:00"
    )


def test_london_spring_forward_night() -> None:
    offered = starts(make_schedule("00:00-03:00"), date(2027, 3, 28), time_zone=LONDON)

    assert iso(offered) == [
        "2027-03-28T00:00:00+00:00",
        "2027-03-28T00:30:00+00:00",
        "2027-03-28T02:00:00+01:00",
        "2027-03-28T02:30:00+01:00",
    ]


def test_london_fall_back_night_and_day_hours() -> None:
    fall_back = date(2027, 10, 31)

    night = starts(make_schedule("00:30-02:30"), fall_back, time_zone=LONDON)
    day = starts(make_schedule("09:00-17:00"), fall_back, time_zone=LONDON)

    assert iso(night) == [
        "2027-10-31T00:30:00+01:00",
        "2027-10-31T01:00:00+01:00",
        "2027-10-31T01:30:00+01:00",
        "2027-10-31T01:00:00+00:00",
        "2027-10-31T01:30:00+00:00",
        "2027-10-31T02:00:00+00:00",
    ]
    assert (len(day), iso(day)[0]) == (16, "2027-10-31T09:00:00+00:00")


def test_lord_howe_half_hour_spring_forward() -> None:
    # 2027-10-03: 02:00 +10:30 -> 02:30 +11:00.
    day = date(2027, 10, 3)

    offered = starts(make_schedule("01:00-03:00"), day, time_zone=LORD_HOWE)

    assert iso(offered) == [
        "2027-10-03T01:00:00+10:30",
        "2027-10-03T01:30:00+10:30",
        "2027-10-03T02:30:00+11:00",
    ]
    start, end = day_bounds(day, LORD_HOWE)
    assert end - start == timedelta(hours=23, minutes=30)


def test_lord_howe_half_hour_fall_back() -> None:
    # 2027-04-04: 02:00 +11:00 -> 01:30 +10:30, so 01:30-02:00 happens twice.
    day = date(2027, 4, 4)

    offered = starts(make_schedule("01:00-03:00"), day, time_zone=LORD_HOWE)

    assert iso(offered) == [
        "2027-04-04T01:00:00+11:00",
        "2027-04-04T01:30:00+11:00",
        "2027-04-04T01:30:00+10:30",
        "2027-04-04T02:00:00+10:30",
        "2027-04-04T02:30:00+10:30",
    ]
    start, end = day_bounds(day, LORD_HOWE)
    assert end - start == timedelta(hours=24, minutes=30)


# --- the Refusal messages -------------------------------------------------------------------


def test_refusals_carry_distinct_customer_messages_in_checking_order() -> None:
    assert list(Refusal) == [
        Refusal.IN_THE_PAST,
        Refusal.TOO_SOON,
        Refusal.BEYOND_HORIZON,
        Refusal.CLOSED,
        Refusal.OUTSIDE_HOURS,
        Refusal.OFF_GRID,
        Refusal.TIME_OFF,
        Refusal.TAKEN,
        Refusal.RESOURCE_BUSY,
    ]
    assert Refusal.TAKEN.message == "That time has just been taken. Please choose another time."
    for refusal in Refusal:
        assert refusal.message == refusal.value
        assert refusal.message[0].isupper()
        assert refusal.message.endswith(".")


# --- programmer errors -------------------------------------------------------------------------

NAIVE = datetime(2027, 6, 14, 9, 0)


@pytest.mark.parametrize("slot_minutes", [0, -30])
def test_a_non_positive_slot_is_an_error(slot_minutes: int) -> None:
    with pytest.raises(ValueError, match="slot_minutes"):
        make_policy(slot_minutes=slot_minutes)


def test_negative_notice_or_horizon_is_an_error() -> None:
    with pytest.raises(ValueError, match="min_notice"):
        make_policy(min_notice=-minutes(1))
    with pytest.raises(ValueError, match="horizon_days"):
        make_policy(horizon_days=-1)


def test_a_naive_now_is_an_error() -> None:
    policy, schedule = make_policy(), make_schedule("09:00-17:00")

    with pytest.raises(ValueError, match="now"):
        local_today(policy, NAIVE)
    with pytest.raises(ValueError, match="now"):
        bookable_dates(policy, NAIVE)
    with pytest.raises(ValueError, match="now"):
        free_starts(schedule, policy, MONDAY, minutes(30), NAIVE)
    with pytest.raises(ValueError, match="now"):
        free_starts_any([schedule], policy, MONDAY, minutes(30), NAIVE)
    with pytest.raises(ValueError, match="now"):
        check_start(schedule, policy, at(MONDAY, "09:00"), minutes(30), NAIVE)


def test_a_naive_start_is_an_error() -> None:
    with pytest.raises(ValueError, match="start"):
        check_start(make_schedule("09:00-17:00"), make_policy(), NAIVE, minutes(30), LONG_AGO)


def test_naive_bookings_or_time_off_are_an_error() -> None:
    with pytest.raises(ValueError, match="bookings"):
        make_schedule("09:00-17:00", bookings=[(NAIVE, at(MONDAY, "10:00"))])
    with pytest.raises(ValueError, match="time_off"):
        make_schedule("09:00-17:00", time_off=[(at(MONDAY, "09:00"), NAIVE + ONE_DAY)])


@pytest.mark.parametrize("duration", [timedelta(0), -minutes(30)])
def test_a_non_positive_duration_is_an_error(duration: timedelta) -> None:
    policy, schedule = make_policy(), make_schedule("09:00-17:00")

    with pytest.raises(ValueError, match="duration"):
        free_starts(schedule, policy, MONDAY, duration, LONG_AGO)
    with pytest.raises(ValueError, match="duration"):
        free_starts_any([schedule], policy, MONDAY, duration, LONG_AGO)
    with pytest.raises(ValueError, match="duration"):
        check_start(schedule, policy, at(MONDAY, "09:00"), duration, LONG_AGO)


def test_malformed_schedules_are_an_error() -> None:
    with pytest.raises(ValueError, match="end after"):
        make_schedule("09:00-17:00", bookings=[(at(MONDAY, "10:00"), at(MONDAY, "10:00"))])
    with pytest.raises(ValueError, match="end after"):
        make_schedule("09:00-17:00", time_off=[(at(MONDAY, "10:00"), at(MONDAY, "09:00"))])
    with pytest.raises(ValueError, match="end after"):
        make_schedule("17:00-09:00")
    with pytest.raises(ValueError, match="naive"):
        StylistSchedule(1, {0: [(time(9, tzinfo=UTC), time(17))]})
    with pytest.raises(ValueError, match="weekday"):
        StylistSchedule(1, {7: hours("09:00-17:00")})


def test_a_datetime_where_a_date_belongs_is_an_error() -> None:
    with pytest.raises(TypeError):
        free_starts(make_schedule("09:00-17:00"), make_policy(), at(MONDAY, "00:00"), minutes(30), LONG_AGO)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        day_bounds(at(MONDAY, "00:00"), LA)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        make_policy(closures=frozenset({at(MONDAY, "00:00")}))


# --- properties ----------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None)

# Ordinary days and every 2027 clock change of three zones, including a 30-minute one.
SCENARIO_DAYS = [
    (LA, MONDAY),
    (LA, SPRING_FORWARD),
    (LA, FALL_BACK),
    (LONDON, date(2027, 3, 28)),
    (LONDON, date(2027, 10, 31)),
    (LORD_HOWE, date(2027, 4, 4)),
    (LORD_HOWE, date(2027, 10, 3)),
]


@dataclasses.dataclass(frozen=True)
class Scenario:
    policy: Policy
    day: date
    duration: timedelta
    now: datetime
    intervals: list[tuple[time, time]]
    bookings: list[tuple[datetime, datetime]]
    time_off: list[tuple[datetime, datetime]]
    # The stylist's special hours that day (None: the weekly ones apply), and the
    # salon's (None: no salon-wide exception; empty: closed).
    special: list[tuple[time, time]] | None = None
    salon_special: list[tuple[time, time]] | None = None

    def schedule(self, stylist_id: int = 1) -> StylistSchedule:
        weekly_hours = {self.day.weekday(): self.intervals}
        special = {} if self.special is None else {self.day: self.special}
        return StylistSchedule(
            stylist_id, weekly_hours, time_off=self.time_off, bookings=self.bookings, special_hours=special
        )

    def spans(self) -> list[tuple[datetime, datetime]]:
        """The spec of the day's working spans: the stylist's special hours or
        else weekly hours, each cut to the salon's special hours, if any."""
        tz = self.policy.time_zone
        own = working_spans(self.intervals if self.special is None else self.special, self.day, tz)
        if self.salon_special is None:
            return own
        opening = working_spans(self.salon_special, self.day, tz)
        return [(max(a, c), min(b, d)) for a, b in own for c, d in opening if max(a, c) < min(b, d)]

    def free(self) -> list[datetime]:
        return free_starts(self.schedule(), self.policy, self.day, self.duration, self.now)


def wall(five_minute_mark: int) -> time:
    """0..288 five-minute marks of a day; 288 is the midnight ending it, time(0)."""
    return time(five_minute_mark // 12 % 24, five_minute_mark % 12 * 5)


def working_spans(
    intervals: Sequence[tuple[time, time]], day: date, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The spec, written out independently: local bounds with fold=0, in UTC."""
    spans = []
    for start, end in intervals:
        end_day = day + ONE_DAY if end == time(0) else day
        spans.append(
            (
                datetime.combine(day, start, tzinfo=tz).astimezone(UTC),
                datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC),
            )
        )
    return spans


def overlaps(start: datetime, end: datetime, spans: Sequence[tuple[datetime, datetime]]) -> bool:
    return any(span_start < end and start < span_end for span_start, span_end in spans)


# Strategies are built once: building them inside the composite costs more than drawing.
# Working-interval bounds as five-minute marks; they may overlap or touch.
_MARKS = st.lists(st.tuples(st.integers(0, 288), st.integers(0, 288)), max_size=4)
# Busy spans: (minutes after 18:00 the evening before, length in minutes, which zone to write it in).
_BOOKINGS = st.lists(st.tuples(st.integers(0, 36 * 60), st.integers(1, 240), st.integers(0, 2)), max_size=8)
_TIME_OFF = st.lists(
    st.tuples(st.integers(0, 36 * 60), st.integers(1, 3 * 24 * 60), st.integers(0, 2)), max_size=2
)
_SCENARIO_DAY = st.sampled_from(SCENARIO_DAYS)
_SLOT = st.sampled_from([5, 10, 15, 20, 30, 45, 60])
_NOTICE = st.sampled_from([0, 0, 15, 60, 120, 24 * 60])
_HORIZON = st.integers(0, 4)
_CLOSED = st.integers(0, 9)  # 0: the day is a closure
_NOW = st.integers(-3 * 24 * 60, 25 * 60)  # minutes from the day's start
_DURATION = st.integers(1, 240)
_ZONE_INDEX = st.integers(0, 1)
# Special hours of the day, for the stylist or the salon: mostly none.
_SPECIAL = st.one_of(st.none(), st.none(), _MARKS)


def spans_around(
    day: date, tz: ZoneInfo, drawn: list[tuple[int, int, int]]
) -> list[tuple[datetime, datetime]]:
    """Busy spans from drawn (offset, length, zone index) triples."""
    zones = (UTC, tz, TOKYO)
    evening_before = day_bounds(day, tz)[0] - timedelta(hours=6)
    result = []
    for offset, length, zone in drawn:
        start = evening_before + minutes(offset)
        result.append((start.astimezone(zones[zone]), (start + minutes(length)).astimezone(zones[zone])))
    return result


def intervals_from(marks: list[tuple[int, int]]) -> list[tuple[time, time]]:
    return [(wall(min(a, b)), wall(max(a, b))) for a, b in marks if a != b]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    tz, day = draw(_SCENARIO_DAY)
    day_start, _ = day_bounds(day, tz)
    zones = (UTC, tz, TOKYO)
    salon_special = draw(_SPECIAL)
    policy = Policy(
        time_zone=tz,
        slot_minutes=draw(_SLOT),
        min_notice=minutes(draw(_NOTICE)),
        horizon_days=draw(_HORIZON),
        closures=frozenset({day}) if draw(_CLOSED) == 0 else frozenset(),
        special_hours={} if salon_special is None else {day: intervals_from(salon_special)},
    )
    special = draw(_SPECIAL)
    return Scenario(
        special=None if special is None else intervals_from(special),
        salon_special=None if salon_special is None else intervals_from(salon_special),
        policy=policy,
        day=day,
        duration=minutes(draw(_DURATION)),
        now=(day_start + minutes(draw(_NOW))).astimezone(zones[draw(_ZONE_INDEX)]),
        intervals=intervals_from(draw(_MARKS)),
        bookings=spans_around(day, tz, draw(_BOOKINGS)),
        time_off=spans_around(day, tz, draw(_TIME_OFF)),
    )


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_offered_start_obeys_every_rule(scenario: Scenario) -> None:
    # One test for the rules checked one by one (generating scenarios is the
    # expensive part); each assertion names the rule it checks.
    policy, tz = scenario.policy, scenario.policy.time_zone
    offered = scenario.free()
    busy = [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in scenario.bookings + scenario.time_off]
    spans = scenario.spans()
    step = minutes(policy.slot_minutes)
    today = local_today(policy, scenario.now)

    if scenario.day not in bookable_dates(policy, scenario.now):
        assert offered == [], "a start on a closed day, or outside today..horizon"
    assert instants(offered) == sorted(set(instants(offered))), "starts not strictly ascending"
    for start in offered:
        assert start.tzinfo is tz, "a start not expressed in the salon's zone"
        start_utc, end_utc = start.astimezone(UTC), start.astimezone(UTC) + scenario.duration
        assert not overlaps(start_utc, end_utc, busy), "overlaps a booking or time off"
        homes = [(a, b) for a, b in spans if a <= start_utc and end_utc <= b]
        assert homes, "the service straddles a break or leaves working hours"
        assert any((start_utc - a) % step == timedelta(0) for a, _ in homes), "a start off the grid"
        assert start_utc >= scenario.now.astimezone(UTC) + policy.min_notice, "a start without enough notice"
        assert today <= start.date() == scenario.day <= today + timedelta(days=policy.horizon_days), (
            "wrong day"
        )


@PROPERTY_SETTINGS
@given(scenarios())
def test_free_starts_matches_a_brute_force_reading_of_the_rules(scenario: Scenario) -> None:
    policy = scenario.policy
    now = scenario.now.astimezone(UTC)
    busy = [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in scenario.bookings + scenario.time_off]
    expected: set[datetime] = set()
    if scenario.day in bookable_dates(policy, now):
        for span_start, span_end in scenario.spans():
            start = span_start
            while start + scenario.duration <= span_end:
                if start >= now + policy.min_notice and not overlaps(start, start + scenario.duration, busy):
                    expected.add(start)
                start += minutes(policy.slot_minutes)

    assert instants(scenario.free()) == sorted(expected)


@PROPERTY_SETTINGS
@given(scenarios(), st.integers(0, 2**32))
def test_results_do_not_depend_on_input_order(scenario: Scenario, seed: int) -> None:
    rng = random.Random(seed)
    shuffled = dataclasses.replace(
        scenario,
        intervals=rng.sample(scenario.intervals, len(scenario.intervals)),
        special=None if scenario.special is None else rng.sample(scenario.special, len(scenario.special)),
        bookings=rng.sample(scenario.bookings, len(scenario.bookings)),
        time_off=rng.sample(scenario.time_off, len(scenario.time_off)),
    )

    assert iso(shuffled.free()) == iso(scenario.free())


@PROPERTY_SETTINGS
@given(scenarios(), st.data())
def test_check_start_accepts_exactly_the_offered_starts(scenario: Scenario, data: st.DataObject) -> None:
    schedule, policy, tz = scenario.schedule(), scenario.policy, scenario.policy.time_zone
    offered = set(instants(scenario.free()))
    day_start, day_end = day_bounds(scenario.day, tz)
    # Probes: every offered start, grid points (and just off them) at both ends of
    # each interval and random instants of the day, written in assorted zones.
    probes = set(offered)
    step = minutes(scenario.policy.slot_minutes)
    for span_start, span_end in scenario.spans():
        last_on_grid = span_start + (span_end - span_start) // step * step
        for base in (span_start, last_on_grid - scenario.duration // step * step):
            for steps in range(-1, 4):
                probe = base + steps * step
                probes.update({probe, probe + minutes(1), probe - timedelta(microseconds=1)})
    for offset in data.draw(st.lists(st.integers(0, 25 * 60 - 1), max_size=20)):
        probes.add(min(day_start + minutes(offset), day_end - minutes(1)))

    for index, probe in enumerate(sorted(probes)):
        zone = (UTC, tz, TOKYO)[index % 3]
        refusal = check_start(schedule, policy, probe.astimezone(zone), scenario.duration, scenario.now)
        if probe.astimezone(tz).date() == scenario.day:
            assert (refusal is None) == (probe in offered), probe.astimezone(tz).isoformat()
        # The reason names what is in the way: without it, the start is free.
        if refusal is Refusal.TAKEN:
            unbooked = dataclasses.replace(schedule, bookings=())
            assert check_start(unbooked, policy, probe, scenario.duration, scenario.now) is None
        if refusal is Refusal.TIME_OFF:
            unblocked = dataclasses.replace(schedule, bookings=(), time_off=())
            assert check_start(unblocked, policy, probe, scenario.duration, scenario.now) is None


# Another stylist of the same salon: (interval marks, bookings, time off) as drawn above.
OtherStylist = tuple[list[tuple[int, int]], list[tuple[int, int, int]], list[tuple[int, int, int]]]
_OTHER_STYLISTS = st.lists(
    st.tuples(
        st.lists(st.tuples(st.integers(0, 288), st.integers(0, 288)), max_size=2),
        st.lists(st.tuples(st.integers(0, 36 * 60), st.integers(1, 240), st.integers(0, 2)), max_size=4),
        st.lists(
            st.tuples(st.integers(0, 36 * 60), st.integers(1, 3 * 24 * 60), st.integers(0, 2)), max_size=1
        ),
    ),
    max_size=2,
)


@PROPERTY_SETTINGS
@given(scenarios(), _OTHER_STYLISTS)
def test_free_starts_any_is_the_union_of_each_stylists_free_starts(
    first: Scenario, others: list[OtherStylist]
) -> None:
    # One salon: the scenario's policy, day, service and clock for every stylist.
    tz = first.policy.time_zone
    schedules = [first.schedule(stylist_id=10)] + [
        dataclasses.replace(
            first,
            intervals=intervals_from(marks),
            bookings=spans_around(first.day, tz, bookings),
            time_off=spans_around(first.day, tz, time_off),
        ).schedule(stylist_id=11 + index)
        for index, (marks, bookings, time_off) in enumerate(others)
    ]
    expected: dict[datetime, list[int]] = {}
    for schedule in schedules:
        for start in instants(free_starts(schedule, first.policy, first.day, first.duration, first.now)):
            expected.setdefault(start, []).append(schedule.stylist_id)

    free = free_starts_any(schedules, first.policy, first.day, first.duration, first.now)

    assert [(start.astimezone(UTC), ids) for start, ids in free.items()] == sorted(expected.items())
    assert all(start.astimezone(first.policy.time_zone).utcoffset() == start.utcoffset() for start in free)


def test_check_timing_refuses_by_time_alone_even_at_the_ends_of_the_calendar():
    policy = make_policy(min_notice=timedelta(hours=1), horizon_days=30)
    now = at(MONDAY, "08:00")

    assert check_timing(policy, datetime(1, 1, 1, 12, tzinfo=UTC), now) is Refusal.IN_THE_PAST
    assert check_timing(policy, datetime(9999, 12, 31, 12, tzinfo=UTC), now) is Refusal.BEYOND_HORIZON
    assert check_timing(policy, now + timedelta(minutes=30), now) is Refusal.TOO_SOON
    assert check_timing(policy, now + timedelta(days=1), now) is None


# --- special hours ----------------------------------------------------------------------------


def test_a_stylists_special_hours_replace_their_weekly_hours_that_day() -> None:
    sunday = ORDINARY_SUNDAY
    schedule = StylistSchedule(
        1, {0: hours("09:00-17:00")}, special_hours={sunday: hours("10:00-12:00"), MONDAY: []}
    )
    policy = make_policy()

    assert iso(free_starts(schedule, policy, sunday, minutes(60), LONG_AGO)) == [
        f"{sunday}T10:00:00-07:00",
        f"{sunday}T10:30:00-07:00",
        f"{sunday}T11:00:00-07:00",
    ]
    assert free_starts(schedule, policy, MONDAY, minutes(60), LONG_AGO) == []  # a special day off
    assert check_start(schedule, policy, at(MONDAY, "10:00"), minutes(60), LONG_AGO) is Refusal.OUTSIDE_HOURS


def test_the_salons_special_hours_limit_every_stylist_and_no_hours_close_the_salon() -> None:
    christmas_eve, boxing_day = date(2027, 12, 24), date(2027, 12, 26)
    schedule = make_schedule("09:00-12:30", "13:30-18:00")
    policy = make_policy(special_hours={christmas_eve: hours("10:15-15:00"), boxing_day: []})

    starts = iso(free_starts(schedule, policy, christmas_eve, minutes(60), LONG_AGO))

    # Each working interval is cut to the opening hours and keeps a grid of its own.
    assert starts == [
        f"{christmas_eve}T10:15:00-08:00",
        f"{christmas_eve}T10:45:00-08:00",
        f"{christmas_eve}T11:15:00-08:00",  # the last that ends before the 12:30 break
        f"{christmas_eve}T13:30:00-08:00",
        f"{christmas_eve}T14:00:00-08:00",  # the last that ends by 15:00
    ]
    assert boxing_day not in bookable_dates(policy, LONG_AGO.replace(year=2027, month=12, day=1))
    assert check_start(schedule, policy, at(boxing_day, "10:00"), minutes(60), LONG_AGO) is Refusal.CLOSED
    assert (
        check_start(schedule, policy, at(christmas_eve, "15:00"), minutes(60), LONG_AGO)
        is Refusal.OUTSIDE_HOURS
    )


def test_special_hours_on_a_datetime_are_an_error() -> None:
    with pytest.raises(TypeError):
        make_policy(special_hours={at(MONDAY, "00:00"): hours("09:00-12:00")})
    with pytest.raises(ValueError, match="must end after it starts"):
        StylistSchedule(1, {}, special_hours={MONDAY: hours("12:00-09:00")})


# --- first available -------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(scenarios(), st.integers(1, 30))
def test_first_free_starts_are_the_days_free_starts_in_order_cut_at_the_limit(
    scenario: Scenario, limit: int
) -> None:
    schedules = [scenario.schedule(1), StylistSchedule(2, {d: hours("09:00-12:00") for d in range(7)})]
    policy = scenario.policy
    every = [
        item
        for day in bookable_dates(policy, scenario.now)
        for item in free_starts_any(schedules, policy, day, scenario.duration, scenario.now).items()
    ]

    first = first_free_starts(schedules, policy, scenario.duration, scenario.now, limit)

    assert first == every[:limit]


def test_first_free_starts_walks_past_closed_and_full_days() -> None:
    schedule = make_schedule("09:00-10:00", weekdays=[MONDAY.weekday()])
    policy = make_policy(closures=frozenset({MONDAY}))
    now = at(MONDAY - ONE_DAY, "12:00")

    first = first_free_starts([schedule], policy, minutes(30), now, limit=3)

    next_monday = MONDAY + timedelta(days=7)
    assert iso(start for start, _ in first) == [
        f"{next_monday}T09:00:00-07:00",
        f"{next_monday}T09:30:00-07:00",
        f"{next_monday + timedelta(days=7)}T09:00:00-07:00",
    ]
    with pytest.raises(ValueError, match="limit must be positive"):
        first_free_starts([schedule], policy, minutes(30), now, limit=0)
