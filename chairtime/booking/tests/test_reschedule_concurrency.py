"""Moving a visit under real concurrency, on the real database (PostgreSQL and
MariaDB; SQLite serialises writers, so nothing here can interleave there).

As test_concurrency.py: first prove the race exists with the stylist lock
switched off (a passing "the lock works" test would otherwise prove nothing),
then that the lock prevents it. The races: a reschedule and a booking into one
free time, two reschedules into one time, a reschedule into a time another
reschedule is freeing, and one visit moved twice at once.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
import requests
from django.db import DatabaseError, connection, connections

from chairtime.booking import services, tokens
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment, Hold
from chairtime.booking.tests.test_concurrency import RaceWindow, meet_before_locking, needs_row_locks
from chairtime.testing import invariants

pytestmark = pytest.mark.concurrency

DAY = date(2027, 3, 15)  # a Monday
NOW = datetime(2027, 3, 12, 18, 0, tzinfo=UTC)


def book(demo, hh: int, mm: int = 0, *, email: str) -> Appointment:
    return services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=demo.ana.pk,
        start=demo.local(DAY, hh, mm),
        customer_name="Racer",
        customer_email=email,
        now=NOW,
    )


def in_thread(work):
    """Run ``work`` in this thread: what it returned, or the error that refused it."""

    def run():
        try:
            return work()
        except (BookingError, DatabaseError) as e:
            return e
        finally:
            connections.close_all()  # each thread opened its own connection

    return run


def moving(demo, appointment: Appointment, hh: int, mm: int = 0):
    return in_thread(
        lambda: services.visit_reschedule(
            appointment_id=appointment.pk, start=demo.local(DAY, hh, mm), now=NOW
        )
    )


def booking(demo, hh: int, mm: int = 0, *, email: str):
    return in_thread(lambda: book(demo, hh, mm, email=email))


def race(*works) -> list:
    with ThreadPoolExecutor(len(works)) as pool:
        return [f.result() for f in [pool.submit(work) for work in works]]


def refusals(results) -> list[str]:
    return sorted(getattr(r, "code", repr(r)) for r in results if isinstance(r, Exception))


def ana_overlaps() -> list:
    return [o for o in invariants.overlapping_holds() if o.kind == "stylist"]


def switch_the_stylist_lock_off(monkeypatch) -> None:
    monkeypatch.setattr(services, "lock_stylists", lambda ids: sorted(set(ids)))


# --- A reschedule and a booking race into one free time ------------------------------


def reschedule_and_booking(demo):
    # Ana's 10:00 moves to 14:00 (14:00-15:00) while someone books her 14:30
    # (14:30-15:30): overlapping, with different starts, so the unique (stylist,
    # start) constraints cannot see the conflict.
    mine = book(demo, 10, email="mover@example.com")
    return mine, [moving(demo, mine, 14), booking(demo, 14, 30, email="booker@example.com")]


@needs_row_locks
def test_without_the_lock_a_reschedule_and_a_booking_race_into_one_time(demo_tx, monkeypatch, caplog):
    _, works = reschedule_and_booking(demo_tx)
    switch_the_stylist_lock_off(monkeypatch)
    window = RaceWindow(monkeypatch, barrier=threading.Barrier(2))

    results = race(*works)

    assert len(window.met) == 2, "both must have checked before either wrote"
    if connection.vendor == "postgresql":
        # The exclusion constraint on Ana's holds is the last line of defence: the
        # second writer is refused (or, both INSERTs at once, aborted as a
        # deadlock, retried, and refused by its re-check).
        assert refusals(results) == ["taken"]
        assert "refused by a database constraint" in caplog.text or "lock conflict" in caplog.text
        assert ana_overlaps() == []
    else:
        # MariaDB has no exclusion constraint: Ana is booked twice at 14:30.
        assert refusals(results) == []
        assert len(ana_overlaps()) == 1, ana_overlaps()
        print(f"\nwithout the stylist lock on {connection.vendor}: {ana_overlaps()[0]}")


@needs_row_locks
def test_with_the_lock_a_reschedule_and_a_booking_get_one_time_between_them(demo_tx, monkeypatch, caplog):
    mine, works = reschedule_and_booking(demo_tx)
    meet_before_locking(monkeypatch, 2)
    window = RaceWindow(monkeypatch, pause=0.3)

    moved, booked = race(*works)

    assert window.checked == 2  # the second re-checked, after waiting
    assert refusals([moved, booked]) == ["taken"]  # whichever came second
    assert "database constraint" not in caplog.text
    assert ana_overlaps() == []
    assert invariants.schedule_violations() == []
    mine.refresh_from_db()
    if isinstance(moved, BookingError):  # the booking won: the visit did not move
        assert mine.starts_at == demo_tx.local(DAY, 10)
        assert Hold.objects.filter(appointment=mine, starts_at=demo_tx.local(DAY, 10)).exists()
    else:
        assert mine.starts_at == demo_tx.local(DAY, 14)


# --- Two reschedules race into one time --------------------------------------------


def two_reschedules(demo):
    first = book(demo, 9, email="first@example.com")
    second = book(demo, 11, email="second@example.com")
    # 15:00-16:00 and 15:30-16:30: overlapping, different starts.
    return first, second, [moving(demo, first, 15), moving(demo, second, 15, 30)]


@needs_row_locks
def test_without_the_lock_two_reschedules_race_into_one_time(demo_tx, monkeypatch, caplog):
    _, _, works = two_reschedules(demo_tx)
    switch_the_stylist_lock_off(monkeypatch)
    window = RaceWindow(monkeypatch, barrier=threading.Barrier(2))

    results = race(*works)

    assert len(window.met) == 2, "both must have checked before either wrote"
    if connection.vendor == "postgresql":
        assert refusals(results) == ["taken"]
        assert ana_overlaps() == []
    else:
        assert refusals(results) == []
        assert len(ana_overlaps()) == 1, ana_overlaps()


@needs_row_locks
def test_with_the_lock_one_of_two_reschedules_gets_the_time(demo_tx, monkeypatch, caplog):
    first, second, works = two_reschedules(demo_tx)
    meet_before_locking(monkeypatch, 2)
    window = RaceWindow(monkeypatch, pause=0.3)

    results = race(*works)

    assert window.checked == 2
    assert refusals(results) == ["taken"]
    assert "database constraint" not in caplog.text
    assert ana_overlaps() == []
    assert invariants.schedule_violations() == []
    first.refresh_from_db()
    second.refresh_from_db()
    # The loser stays where it was, with its holds.
    assert {first.starts_at, second.starts_at} in (
        {demo_tx.local(DAY, 15), demo_tx.local(DAY, 11)},
        {demo_tx.local(DAY, 9), demo_tx.local(DAY, 15, 30)},
    )
    assert Hold.objects.filter(stylist=demo_tx.ana).count() == 2


# --- A reschedule into a time another reschedule is freeing ------------------------


@needs_row_locks
def test_a_reschedule_into_a_time_being_freed_waits_and_gets_it(demo_tx, monkeypatch):
    leaving = book(demo_tx, 10, email="leaving@example.com")
    arriving = book(demo_tx, 14, email="arriving@example.com")
    # The first move (10:00 -> 16:00) holds Ana's lock and lingers between its
    # check and its write; the second (14:00 -> 10:00) starts meanwhile.
    inside = threading.Event()
    real_lock = services.lock_stylists

    def lock_then_signal(ids):
        locked = real_lock(ids)
        if threading.current_thread().name == "leaving":
            inside.set()
        return locked

    monkeypatch.setattr(services, "lock_stylists", lock_then_signal)
    window = RaceWindow(monkeypatch, pause=0.3)

    def leave():
        threading.current_thread().name = "leaving"
        return moving(demo_tx, leaving, 16)()

    def arrive():
        assert inside.wait(timeout=10)
        return moving(demo_tx, arriving, 10)()

    left, arrived = race(leave, arrive)

    assert window.checked == 2
    # Had the second checked before the first committed, 10:00 was still taken.
    assert not isinstance(arrived, Exception), arrived
    assert not isinstance(left, Exception), left
    leaving.refresh_from_db()
    arriving.refresh_from_db()
    assert (leaving.starts_at, arriving.starts_at) == (demo_tx.local(DAY, 16), demo_tx.local(DAY, 10))
    assert ana_overlaps() == []
    assert invariants.schedule_violations() == []


@needs_row_locks
def test_without_the_lock_a_reschedule_does_not_wait_for_the_time_being_freed(demo_tx, monkeypatch):
    # The other side of the test above: without the lock the second move reads
    # while the first has not committed, and still sees 10:00 taken. Safe, but it
    # shows the lock is what made the second wait.
    leaving = book(demo_tx, 10, email="leaving@example.com")
    arriving = book(demo_tx, 14, email="arriving@example.com")
    switch_the_stylist_lock_off(monkeypatch)
    checked_once = threading.Event()
    checked = []
    real_plan = services.availability.plan_visit

    def check_then_linger(*args, **kwargs):
        result = real_plan(*args, **kwargs)
        checked.append(result)
        if not checked_once.is_set():  # the first move: checked, not yet written
            checked_once.set()
            threading.Event().wait(0.5)
        return result

    monkeypatch.setattr(services.availability, "plan_visit", check_then_linger)

    def arrive():
        assert checked_once.wait(timeout=10)
        return moving(demo_tx, arriving, 10)()

    left, arrived = race(moving(demo_tx, leaving, 16), arrive)

    assert len(checked) == 2
    assert not isinstance(left, Exception), left
    assert getattr(arrived, "code", arrived) == "taken"


# --- One visit moved twice at once ------------------------------------------------


@needs_row_locks
def test_one_visit_moved_twice_at_once_ends_at_one_time_with_one_set_of_holds(demo_tx, monkeypatch):
    # No barrier at the stylist lock here: the visit's row, locked before it,
    # already queues the second. Both start together and linger after checking.
    mine = book(demo_tx, 10, email="twice@example.com")
    window = RaceWindow(monkeypatch, pause=0.2)
    start_together = threading.Barrier(2)

    def move_to(hh: int):
        work = moving(demo_tx, mine, hh)

        def run():
            start_together.wait(timeout=10)
            return work()

        return run

    results = race(move_to(14), move_to(16))

    assert window.checked == 2
    assert refusals(results) == []  # the second moved it again, from where the first left it
    mine.refresh_from_db()
    assert mine.starts_at in (demo_tx.local(DAY, 14), demo_tx.local(DAY, 16))
    assert list(Hold.objects.filter(appointment=mine).values_list("starts_at", flat=True)) == [mine.starts_at]
    assert Appointment.objects.filter(status="confirmed").count() == 1
    assert invariants.schedule_violations() == []


def test_concurrent_http_reschedules_into_one_slot_move_exactly_one(demo_tx, live_server):
    day = demo_tx.next_working_day(min_days_ahead=3)
    start = demo_tx.local(day, 15)
    # Six appointments, three with Ana and three with Ben, all asked at once to
    # move to Ana's 15:00.
    booked = [
        services.appointment_book(
            service_id=demo_tx.haircut.pk,
            stylist_id=stylist.pk,
            start=demo_tx.local(day, hh),
            customer_name=f"Mover {n}",
            customer_email=f"mover{n}@example.com",
        )
        for n, (stylist, hh) in enumerate((s, hh) for s in (demo_tx.ana, demo_tx.ben) for hh in (9, 10, 11))
    ]
    barrier = threading.Barrier(len(booked))

    def post(appointment: Appointment) -> requests.Response:
        token = tokens.make_manage_token(appointment.pk)
        url = f"{live_server.url}/api/v1/appointments/{appointment.pk}/reschedule?token={token}"
        barrier.wait(timeout=10)
        return requests.post(url, json={"start": start.isoformat(), "stylist": demo_tx.ana.pk}, timeout=60)

    with ThreadPoolExecutor(len(booked)) as pool:
        responses = list(pool.map(post, booked))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (len(booked) - 1), statuses
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"taken"}
    assert Appointment.objects.filter(starts_at=start, status="confirmed").count() == 1
    assert Appointment.objects.filter(status="confirmed").count() == len(booked)  # nobody lost theirs
    assert invariants.overlapping_holds() == []
    assert invariants.schedule_violations() == []
