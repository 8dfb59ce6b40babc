"""The waitlist under real concurrency, on the real database.

As test_concurrency.py and test_reschedule_concurrency.py (whose helpers these
tests use): first prove the race exists without the protection, then that the
protection holds.

(a) A held time: its Hold rows are what keeps everyone else off it, on every
    database (the stylist lock serialises bookings; the holds make the time
    taken for each of them). Without its holds, a storm of bookings takes the
    time and the holder's link finds it gone; with them, none of the storm
    succeeds and the holder books it, whether before, after or amid the storm;
    also from a real server process storming the API.
(b) Making an offer races a booking of the same freed time: the offer task takes
    the booking's locks. With the stylist lock switched off both check "free"
    and both write (MariaDB: an overlap; PostgreSQL: its exclusion constraint
    refuses one); with it, one of them waits, re-checks, and never an overlap.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from chairtime.booking import services, waitlist
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment, Hold, SpecialHours, WaitlistOffer
from chairtime.booking.tests.test_concurrency import RaceWindow, meet_before_locking, needs_row_locks
from chairtime.booking.tests.test_reschedule_concurrency import (
    in_thread,
    race,
    refusals,
    switch_the_stylist_lock_off,
)
from chairtime.booking.tests.test_storm import CLIENT_TIMEOUT, UNLIMITED, attempt, figures
from chairtime.booking.tests.test_waitlist import DAY, NOW, book_ten, join, only_ten_o_clock
from chairtime.testing import invariants
from chairtime.testing.load import post_all_in_processes
from chairtime.testing.servers import database_url, gunicorn

pytestmark = pytest.mark.concurrency

CUSTOMERS = 12  # threads booking the held time at once, each its own connection
DURING = NOW + timedelta(minutes=10)  # inside the 30-minute hold of an offer made at NOW


def held_ten_o_clock(demo, *, now=NOW, day=DAY) -> WaitlistOffer:
    """Ana's only haircut of the day (10:00) freed and offered to Wanda."""
    only_ten_o_clock(demo, day)
    booked = book_ten(demo, now=now, day=day)
    join(demo, "wanda@example.com", now=now, day=day)
    services.appointment_cancel(appointment_id=booked.pk, by_staff=True, now=now)
    (offer,) = waitlist.waitlist_offer_freed_time(day=day, now=now)
    return offer


def booking_ten(demo, n: int, *, now=DURING, day=DAY):
    return in_thread(lambda: book_ten(demo, f"storm{n}@example.com", now=now, day=day))


def taking(offer: WaitlistOffer, *, now=DURING):
    return in_thread(lambda: waitlist.waitlist_offer_take(offer_id=offer.pk, now=now))


def together(monkeypatch, parties: int) -> None:
    """All parties reach the stylist lock at once (meet_before_locking), where
    there are row locks: SQLite's BEGIN IMMEDIATE already lets one writer in at a
    time, so there they queue at the start of their transactions instead."""
    if connection.vendor != "sqlite":
        meet_before_locking(monkeypatch, parties)


def booked_by_storm() -> list[Appointment]:
    return list(Appointment.objects.filter(status="confirmed", customer_email__startswith="storm"))


# --- (a) a held time in a storm of bookings -----------------------------------------


def test_without_its_holds_an_offered_time_goes_to_the_storm_and_the_holder_loses_it(demo_tx, monkeypatch):
    offer = held_ten_o_clock(demo_tx)
    Hold.objects.filter(offer=offer).delete()  # the protection under test, switched off
    together(monkeypatch, CUSTOMERS)

    results = race(*(booking_ten(demo_tx, n) for n in range(CUSTOMERS)))
    monkeypatch.undo()  # the holder comes alone: no one to meet at the lock

    assert len(booked_by_storm()) == 1
    assert refusals(results) == ["taken"] * (CUSTOMERS - 1)
    with pytest.raises(BookingError) as refused:
        waitlist.waitlist_offer_take(offer_id=offer.pk, now=DURING)
    assert refused.value.code == "taken"
    print(f"\nwithout the holds on {connection.vendor}: 1 of {CUSTOMERS} took the offered time")


@pytest.mark.parametrize("holder", ["amid", "after"])
def test_with_its_holds_a_storm_books_nothing_and_the_holder_books_the_time(demo_tx, monkeypatch, holder):
    offer = held_ten_o_clock(demo_tx)
    storm = [booking_ten(demo_tx, n) for n in range(CUSTOMERS)]
    together(monkeypatch, CUSTOMERS + (holder == "amid"))

    results = race(*storm, *([taking(offer)] if holder == "amid" else []))
    monkeypatch.undo()  # the holder after comes alone: no one to meet at the lock
    if holder == "after":
        results.append(waitlist.waitlist_offer_take(offer_id=offer.pk, now=DURING))

    assert booked_by_storm() == []
    assert refusals(results) == ["taken"] * CUSTOMERS
    (appointment,) = Appointment.objects.filter(status="confirmed")
    assert (appointment.customer_email, appointment.starts_at) == ("wanda@example.com", offer.starts_at)
    assert invariants.overlapping_holds() == []
    assert invariants.schedule_violations() == []
    assert invariants.offer_hold_violations() == []
    print(
        f"\nwith the holds on {connection.vendor}, holder {holder}: 0 of {CUSTOMERS} booked, the holder did"
    )


@needs_row_locks
def test_without_the_stylist_lock_the_holds_alone_keep_a_storm_off_the_held_time(demo_tx, monkeypatch):
    offer = held_ten_o_clock(demo_tx)
    switch_the_stylist_lock_off(monkeypatch)
    window = RaceWindow(monkeypatch, barrier=threading.Barrier(CUSTOMERS + 1))

    results = race(*(booking_ten(demo_tx, n) for n in range(CUSTOMERS)), taking(offer))

    # Every one checked before any wrote: the storm still saw the held time taken.
    assert len(window.met) == CUSTOMERS + 1
    assert booked_by_storm() == []
    assert refusals(results) == ["taken"] * CUSTOMERS
    assert Appointment.objects.get(status="confirmed").customer_email == "wanda@example.com"


def test_a_storm_of_api_bookings_of_a_held_time_gets_no_201_and_the_holder_books_it(demo_tx):
    day = demo_tx.next_working_day(min_days_ahead=3)
    offer = held_ten_o_clock(demo_tx, now=timezone.now(), day=day)
    start = demo_tx.local(day, 10)
    attempts = [attempt(demo_tx, n, start, None if n % 2 else demo_tx.ana) for n in range(200)]
    taken: list = []

    with gunicorn(
        database_url=database_url(connection.settings_dict), workers=2, threads=8, env=UNLIMITED
    ) as server:
        # The holder's link is followed while the storm is on.
        def take_a_moment_later() -> None:
            time.sleep(1.0)
            taken.append(taking(offer, now=None)())

        holder = threading.Thread(target=take_a_moment_later)
        holder.start()
        replies = post_all_in_processes(
            f"{server.url}/api/v1/appointments",
            attempts,
            processes=2,
            threads_per_process=25,
            timeout=CLIENT_TIMEOUT,
        )
        holder.join(timeout=CLIENT_TIMEOUT)
        assert "Traceback" not in server.log(), server.log()

    statuses = figures("held-time-200", replies)
    assert statuses == {409: 200}
    assert {r.body["code"] for r in replies} == {"taken"}
    (appointment,) = Appointment.objects.filter(status="confirmed")
    assert taken == [[appointment]]
    assert (appointment.customer_email, appointment.starts_at) == ("wanda@example.com", start)
    assert invariants.overlapping_holds() == []


# --- (b) making an offer races a booking of the freed time ----------------------------


def freed_with_two_starts(demo):
    """Ana works 10:00-11:30: haircuts fit at 10:00 or 10:30, not both. Her
    10:00 is booked (the day is full), Wanda joins, and it is cancelled: the
    offer task (which offers 10:00) and a booking of 10:30 (10:30-11:30) then
    race for overlapping time with different starts, which the unique (stylist,
    start) constraints cannot see."""
    only_ten_o_clock(demo)
    SpecialHours.objects.filter(stylist=demo.ana).update(end="11:30")
    booked = book_ten(demo)
    join(demo, "wanda@example.com")
    services.appointment_cancel(appointment_id=booked.pk, by_staff=True, now=NOW)


def offering():
    return in_thread(lambda: waitlist.waitlist_offer_freed_time(day=DAY, now=NOW))


def booking_half_past(demo):
    return in_thread(
        lambda: services.appointment_book(
            service_id=demo.haircut.pk,
            stylist_id=demo.ana.pk,
            start=demo.local(DAY, 10, 30),
            customer_name="Booker",
            customer_email="booker@example.com",
            now=NOW,
        )
    )


@needs_row_locks
def test_without_the_lock_an_offer_and_a_booking_race_into_one_freed_time(demo_tx, monkeypatch, caplog):
    freed_with_two_starts(demo_tx)
    switch_the_stylist_lock_off(monkeypatch)
    window = RaceWindow(monkeypatch, barrier=threading.Barrier(2))

    offers, booked = race(offering(), booking_half_past(demo_tx))

    assert len(window.met) == 2, "both must have checked before either wrote"
    overlaps = [o for o in invariants.overlapping_holds() if o.kind == "stylist"]
    if connection.vendor == "postgresql":
        # The exclusion constraint on Ana's holds refuses the second writer (or,
        # both at once, one is a deadlock victim, retried, and its re-check
        # finds the time gone): one of the two holds the time.
        assert overlaps == []
        assert (offers == []) != isinstance(booked, BookingError)
        assert "database constraint" in caplog.text or "lock conflict" in caplog.text
    else:
        # MariaDB has no exclusion constraint: the offer holds 10:00-11:00 for
        # Wanda while Booker has 10:30-11:30.
        assert len(offers) == 1
        assert isinstance(booked, Appointment)
        assert len(overlaps) == 1, overlaps
        print(f"\nwithout the stylist lock on {connection.vendor}: {overlaps[0]}")


@needs_row_locks
def test_with_the_lock_an_offer_and_a_booking_get_the_freed_time_between_them(demo_tx, monkeypatch, caplog):
    freed_with_two_starts(demo_tx)
    meet_before_locking(monkeypatch, 2)
    window = RaceWindow(monkeypatch, pause=0.3)

    offers, booked = race(offering(), booking_half_past(demo_tx))

    # The second re-checked after waiting: the booking's plan refused, or the
    # offer task found no free start (and planned nothing).
    assert window.checked == (2 if offers else 1)
    assert "database constraint" not in caplog.text
    assert invariants.overlapping_holds() == []
    if isinstance(booked, Appointment):  # the booking was first: nothing left to offer
        assert offers == []
    else:
        assert booked.code == "taken"
        assert len(offers) == 1
        assert offers[0].starts_at == demo_tx.local(DAY, 10)


def test_a_storm_of_bookings_racing_the_offer_never_overlaps(demo_tx, monkeypatch):
    freed_with_two_starts(demo_tx)
    together(monkeypatch, CUSTOMERS + 1)
    storm = [
        in_thread(
            lambda n=n: services.appointment_book(
                service_id=demo_tx.haircut.pk,
                stylist_id=demo_tx.ana.pk,
                start=demo_tx.local(DAY, 10, 30 * (n % 2)),
                customer_name="Storm",
                customer_email=f"storm{n}@example.com",
                now=NOW,
            )
        )
        for n in range(CUSTOMERS)
    ]

    *results, offers = race(*storm, offering())

    won = [r for r in results if isinstance(r, Appointment)]
    # Exactly one party has Ana's freed hour: a booking, or the offer.
    assert len(won) + len(offers) == 1
    assert Counter(refusals(results)) == {"taken": CUSTOMERS - len(won)}
    assert invariants.overlapping_holds() == []
    assert invariants.schedule_violations() == []
    print(
        f"\nstorm of {CUSTOMERS} bookings and the offer on {connection.vendor}: "
        f"{len(won)} booked, {len(offers)} offered, overlaps 0"
    )
