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


# --- An erasure while a booking with the card's address is under way -----------------


class PausedBooking:
    """The booking stops right after it found the card, until ``go`` is set."""

    def __init__(self, monkeypatch, *, lock: bool) -> None:
        self.card_read = threading.Event()
        self.go = threading.Event()
        real = client_cards._locked_card

        def unlocked(salon_id, email):
            return Client.objects.filter(salon_id=salon_id, email=email).first()

        def find_then_pause(salon_id, email):
            card = (real if lock else unlocked)(salon_id, email)
            if not self.card_read.is_set():
                self.card_read.set()
                assert self.go.wait(timeout=10)
            return card

        monkeypatch.setattr(client_cards, "_locked_card", find_then_pause)


def erase_in_thread(card_id: int, user) -> Client | Exception:
    try:
        return client_cards.client_erase(client_id=card_id, by=user, now=NOW)
    except client_cards.ClientError as e:
        return e
    finally:
        connections.close_all()


@pytest.fixture
def known_card(demo_tx):
    from django.contrib.auth.models import User

    card = Client.objects.create(
        salon=demo_tx.salon, name="Alex Doe", email="alex@example.com", created_at=NOW
    )
    return card, User.objects.create_user("manager", is_staff=True)


@needs_row_locks
def test_without_the_card_lock_an_erasure_leaves_a_new_booking_with_personal_data_on_the_card(
    demo_tx, known_card, monkeypatch
):
    card, manager = known_card
    paused = PausedBooking(monkeypatch, lock=False)
    with ThreadPoolExecutor(1) as pool:
        booking = pool.submit(book_in_thread, demo_tx, demo_tx.ana, 10)
        assert paused.card_read.wait(timeout=10)
        erased = erase_in_thread(card.pk, manager)  # nothing stops it
        paused.go.set()
        appointment = booking.result()

    assert isinstance(erased, Client) and erased.is_erased
    assert isinstance(appointment, Appointment)
    # The defect: an erased card holding a visit with the customer's name and address.
    assert ClientAppointment.objects.get(appointment=appointment).client_id == card.pk
    assert Appointment.objects.get(pk=appointment.pk).customer_email == "alex@example.com"


@needs_row_locks
def test_an_erasure_waits_for_a_booking_holding_the_card_then_refuses(demo_tx, known_card, monkeypatch):
    card, manager = known_card
    paused = PausedBooking(monkeypatch, lock=True)
    with ThreadPoolExecutor(2) as pool:
        booking = pool.submit(book_in_thread, demo_tx, demo_tx.ana, 10)
        assert paused.card_read.wait(timeout=10)
        erasure = pool.submit(erase_in_thread, card.pk, manager)
        threading.Event().wait(0.5)
        assert not erasure.done(), "the erasure must wait for the booking's lock on the card"
        paused.go.set()
        appointment, refused = booking.result(), erasure.result()

    assert isinstance(appointment, Appointment)
    assert isinstance(refused, client_cards.ClientError)
    assert "still to come" in str(refused)
    card.refresh_from_db()
    assert not card.is_erased
    assert ClientAppointment.objects.get(appointment=appointment).client_id == card.pk


# --- Many first bookings with one new address at once ----------------------------------


@needs_row_locks
def test_seven_first_bookings_with_one_address_at_once_all_book_onto_one_card(demo_tx, monkeypatch, caplog):
    from chairtime.booking.tests.factories import StylistFactory

    stylists = [demo_tx.ana, demo_tx.ben] + [
        StylistFactory(key=f"extra-{n}", name=f"Extra {n}", services=[demo_tx.haircut]) for n in range(5)
    ]
    parties = len(stylists)
    barrier = threading.Barrier(parties)
    met: set[int] = set()
    real = client_cards._locked_card

    def all_look_at_once(salon_id, email):
        card = real(salon_id, email)
        if threading.get_ident() not in met:  # once: a retried booking goes straight on
            met.add(threading.get_ident())
            barrier.wait(timeout=20)
        return card

    monkeypatch.setattr(client_cards, "_locked_card", all_look_at_once)
    # Every stylist at a different hour: nothing but the card is shared.
    jobs = list(zip(stylists, [9, 10, 11, 14, 15, 16, 17], strict=True))

    with ThreadPoolExecutor(parties) as pool:
        results = list(pool.map(lambda job: book_in_thread(demo_tx, *job), jobs))

    assert len(met) == parties
    assert all(isinstance(r, Appointment) for r in results), results
    card = Client.objects.get()
    assert ClientAppointment.objects.filter(client=card).count() == parties
    # On MariaDB the losers' failed INSERTs hold shared locks on the address's index
    # entry, and their locking reads then deadlock each other: InnoDB aborts all but
    # one and run_durable books them again (a WARNING each); never an error.
    print(
        f"{connection.vendor}: {caplog.text.count('lock conflict, retrying')} retries for {parties} bookings"
    )
