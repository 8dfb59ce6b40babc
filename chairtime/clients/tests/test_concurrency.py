"""Two first bookings with one address, at the same moment: one card, both booked.

As in chairtime/booking/tests/test_concurrency.py: first prove the race (without
the savepoint that catches the losing INSERT, one customer loses their booking),
then that the real code joins the loser to the winner's card."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from django.db import DatabaseError, connection, connections

from chairtime.booking import services
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment
from chairtime.clients import services as client_cards
from chairtime.clients.models import Client, ClientAppointment

pytestmark = pytest.mark.concurrency

DAY = date(2027, 3, 15)  # a Monday
NOW = datetime(2027, 3, 12, 18, 0, tzinfo=UTC)

needs_row_locks = pytest.mark.skipif(
    connection.vendor == "sqlite", reason="SQLite serialises writers with BEGIN IMMEDIATE"
)


class CardRace:
    """Each booking pauses after finding no card for its address, until the other
    has found none too: both then start one."""

    def __init__(self, monkeypatch) -> None:
        self.barrier = threading.Barrier(2)
        self.met: set[int] = set()
        real = client_cards._locked_card

        def look_then_wait(salon_id, email):
            card = real(salon_id, email)
            if threading.get_ident() not in self.met:
                self.met.add(threading.get_ident())
                self.barrier.wait(timeout=10)
            return card

        monkeypatch.setattr(client_cards, "_locked_card", look_then_wait)


def book_in_thread(demo, stylist, hh: int) -> Appointment | Exception:
    try:
        return services.appointment_book(
            service_id=demo.haircut.pk,
            stylist_id=stylist.pk,
            start=demo.local(DAY, hh),
            customer_name="Alex Doe",
            customer_email="alex@example.com",
            now=NOW,
        )
    except (BookingError, DatabaseError) as e:
        return e
    finally:
        connections.close_all()


def race(demo) -> list[Appointment | Exception]:
    # Two stylists: no stylist lock is shared, so nothing else orders the two.
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda args: book_in_thread(demo, *args), [(demo.ana, 10), (demo.ben, 14)]))


@needs_row_locks
def test_without_the_savepoint_one_customer_loses_a_booking(demo_tx, monkeypatch):
    window = CardRace(monkeypatch)

    def create_or_fail(salon_id, email, lead, now):
        return Client.objects.create(
            salon_id=salon_id, name=lead.customer_name, email=email, phone=lead.customer_phone, created_at=now
        )

    monkeypatch.setattr(client_cards, "_new_card", create_or_fail)

    results = race(demo_tx)

    assert len(window.met) == 2, "both bookings must have looked before either started a card"
    booked = [r for r in results if isinstance(r, Appointment)]
    assert len(booked) == 1
    assert Appointment.objects.count() == 1
    assert Client.objects.count() == 1


@needs_row_locks
def test_the_second_first_booking_joins_the_card_the_first_started(demo_tx, monkeypatch):
    window = CardRace(monkeypatch)

    results = race(demo_tx)

    assert len(window.met) == 2
    assert all(isinstance(r, Appointment) for r in results), results
    card = Client.objects.get()
    assert set(ClientAppointment.objects.values_list("appointment_id", "client_id")) == {
        (r.pk, card.pk) for r in results
    }
