"""A schedule change racing a booking, on the real database (issue 12).

A closure has no row of a stylist to wait on: without the change's lock on the
stylists, a booking that checked the day before the closure was written commits
after the change looked for affected appointments, and stays "Confirmed" on a
closed day with nobody told. With the lock, the change waits for the booking and
lists it (or the booking waits for the change and is refused).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from chairtime.booking import schedule_changes, services
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment, Closure
from chairtime.booking.tests.fixtures import DemoSalon

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.skipif(
        connection.vendor == "sqlite", reason="SQLite serialises writers with BEGIN IMMEDIATE"
    ),
]


class Checked:
    """Hooks the booking between its re-check and its write: says it got there,
    then waits for ``go`` (or ``pause`` seconds when ``go`` is None)."""

    def __init__(self, monkeypatch, *, wait_for: threading.Event | None, pause: float = 0.0) -> None:
        self.reached = threading.Event()
        self._real = services.availability.plan_visit
        self._wait_for = wait_for
        self._pause = pause
        monkeypatch.setattr(services.availability, "plan_visit", self._hook)

    def _hook(self, *args, **kwargs):
        result = self._real(*args, **kwargs)
        if not self.reached.is_set():
            self.reached.set()
            if self._wait_for is not None:
                self._wait_for.wait(timeout=10)
            else:
                threading.Event().wait(self._pause)
        return result


def book(demo: DemoSalon, day):
    try:
        return services.appointment_book(
            service_id=demo.haircut.pk,
            stylist_id=demo.ana.pk,
            start=demo.local(day, 10),
            customer_name="Racer",
            customer_email="racer@example.com",
        )
    except BookingError as e:
        return e
    finally:
        connections.close_all()


def close_the_day(day, reached: threading.Event, done: threading.Event) -> list[int]:
    """The back office's closure form, as ScheduleChangeGuard runs it: lock, write,
    list what it affects; commit."""
    reached.wait(timeout=10)
    scope = schedule_changes.Scope(None, day, day)
    try:
        with transaction.atomic():
            schedule_changes.lock(scope)
            Closure.objects.create(date=day, reason="Flood")
            return [
                a.appointment.pk
                for a in schedule_changes.affected_appointment_list(scope, now=timezone.now())
            ]
    finally:
        done.set()
        connections.close_all()


def test_without_the_lock_a_booking_lands_on_the_closed_day_unlisted(demo_tx, monkeypatch):
    monkeypatch.setattr(schedule_changes, "lock", lambda scope: [])
    done = threading.Event()
    checked = Checked(monkeypatch, wait_for=done)
    day = demo_tx.next_working_day(min_days_ahead=3)

    with ThreadPoolExecutor(2) as pool:
        booking = pool.submit(book, demo_tx, day)
        listed = pool.submit(close_the_day, day, checked.reached, done).result()
        appointment = booking.result()

    assert isinstance(appointment, Appointment), appointment
    assert listed == []  # the change saw nothing to ask about ...
    assert Closure.objects.filter(date=day).exists()
    assert Appointment.objects.get(pk=appointment.pk).is_confirmed  # ... and it stands on a closed day
    assert [
        a.appointment.pk
        for a in schedule_changes.affected_appointment_list(
            schedule_changes.Scope(None, day, day), now=timezone.now()
        )
    ] == [appointment.pk]


def test_with_the_lock_the_change_waits_for_the_booking_and_lists_it(demo_tx, monkeypatch):
    done = threading.Event()
    checked = Checked(monkeypatch, wait_for=None, pause=0.5)
    day = demo_tx.next_working_day(min_days_ahead=3)

    with ThreadPoolExecutor(2) as pool:
        booking = pool.submit(book, demo_tx, day)
        listed = pool.submit(close_the_day, day, checked.reached, done).result()
        appointment = booking.result()

    assert isinstance(appointment, Appointment), appointment
    assert listed == [appointment.pk]


def test_a_booking_after_the_change_is_refused_as_closed(demo_tx):
    day = demo_tx.next_working_day(min_days_ahead=3)
    reached, done = threading.Event(), threading.Event()
    reached.set()

    assert close_the_day(day, reached, done) == []
    result = book(demo_tx, day)

    assert isinstance(result, BookingError) and result.code == "closed"
