"""Two desks booking the same stylist's time at once, on the real database.

As chairtime/booking/tests/test_concurrency.py: first the race, shown with the
stylist lock switched off, then the lock holding. Desk bookings skip the minimum
notice and the horizon, nothing else: they queue on the same locks.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import DatabaseError, connection, connections

from chairtime.booking import services
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment
from chairtime.booking.tests.test_concurrency import RaceWindow, meet_before_locking
from chairtime.frontdesk.tests.conftest import DAY, NOW

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.skipif(
        connection.vendor == "sqlite", reason="SQLite serialises writers with BEGIN IMMEDIATE"
    ),
]


def desk_book(demo, hh: int, mm: int, who: str):
    try:
        return services.visit_book(
            items=[services.ItemRequest(demo.haircut.pk, demo.ana.pk)],
            start=demo.local(DAY, hh, mm),
            customer_name=who,
            customer_email="",  # walk-ins: no e-mail, so no per-customer constraint to help
            now=NOW,
            by_staff=True,
        )[0]
    except (BookingError, DatabaseError) as e:
        return e
    finally:
        connections.close_all()


def race(demo, *starts):
    with ThreadPoolExecutor(len(starts)) as pool:
        return list(pool.map(lambda s: desk_book(demo, *s), starts))


def test_without_the_lock_two_desk_bookings_race(demo_tx, monkeypatch):
    monkeypatch.setattr(services, "lock_stylists", lambda ids: sorted(set(ids)))
    window = RaceWindow(monkeypatch, barrier=threading.Barrier(2))

    # 10:00-11:00 and 10:30-11:30: overlapping, different starts.
    results = race(demo_tx, (10, 0, "Desk one"), (10, 30, "Desk two"))

    assert len(window.met) == 2, "both bookings must have checked before either wrote"
    confirmed = Appointment.objects.filter(status="confirmed").count()
    if connection.vendor == "postgresql":
        assert confirmed == 1  # the exclusion constraint, the last line of defence
        assert [getattr(r, "code", r) for r in results if not isinstance(r, Appointment)] == ["taken"]
    else:
        assert confirmed == 2  # MariaDB: nothing else stops it


def test_with_the_lock_the_second_desk_waits_and_is_refused(demo_tx, monkeypatch, caplog):
    meet_before_locking(monkeypatch, 2)
    window = RaceWindow(monkeypatch, pause=0.3)

    results = race(demo_tx, (10, 0, "Desk one"), (10, 30, "Desk two"))

    assert window.checked == 2
    assert Appointment.objects.filter(status="confirmed").count() == 1
    assert [r.code for r in results if isinstance(r, BookingError)] == ["taken"]
    assert "database constraint" not in caplog.text


# --- two people pressing "Arrived" at once ------------------------------------------------


def mark_in_thread(appointment_id: int, user, now):
    from chairtime.frontdesk import services as desk

    try:
        return desk.appointment_mark(appointment_id=appointment_id, attendance="arrived", user=user, now=now)
    except desk.DeskError as e:
        return e
    finally:
        connections.close_all()


def pause_after_reading(monkeypatch, *, barrier=None, pause: float = 0.0) -> list:
    """Each change waits between reading the attendance and writing it."""
    from chairtime.frontdesk import services as desk

    real = desk.current_attendance
    read = []

    def read_then_wait(appointment):
        result = real(appointment)
        read.append(result)
        if barrier is not None:
            barrier.wait(timeout=10)
        threading.Event().wait(pause)
        return result

    monkeypatch.setattr(desk, "current_attendance", read_then_wait)
    return read


@pytest.fixture
def booked_tx(demo_tx, django_user_model):
    user = django_user_model.objects.create_user(username="fred", password="x")
    appointment = desk_book(demo_tx, 10, 0, "Zoe")
    return appointment, user


def test_without_the_lock_two_arrivals_are_both_recorded(booked_tx, monkeypatch):
    from chairtime.frontdesk import services as desk
    from chairtime.frontdesk.models import AppointmentEvent

    appointment, user = booked_tx
    monkeypatch.setattr(desk, "lock_appointment", lambda pk: Appointment.objects.filter(pk=pk).first())
    read = pause_after_reading(monkeypatch, barrier=threading.Barrier(2))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: mark_in_thread(appointment.pk, user, NOW), range(2)))
    assert read == ["booked", "booked"]
    assert AppointmentEvent.objects.filter(kind="arrived").count() == 2  # the race


def test_with_the_lock_the_second_arrival_is_refused(booked_tx, monkeypatch):
    from chairtime.frontdesk import services as desk
    from chairtime.frontdesk.models import AppointmentEvent

    appointment, user = booked_tx
    read = pause_after_reading(monkeypatch, pause=0.3)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: mark_in_thread(appointment.pk, user, NOW), range(2)))
    assert sorted(read) == ["arrived", "booked"]  # the second read after the first wrote
    assert AppointmentEvent.objects.filter(kind="arrived").count() == 1
    assert [r.message for r in results if isinstance(r, desk.DeskError)] == [
        "This appointment is already marked arrived, so it cannot be marked arrived."
    ]
