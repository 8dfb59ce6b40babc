"""The availability API's few seconds of memory (booking/microcache.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections, transaction
from django.test import Client

from chairtime.booking import microcache, selectors
from chairtime.booking.models import Appointment, Hold, Visit
from chairtime.booking.tests.factories import AppointmentFactory
from chairtime.booking.tests.test_api import book, slots


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.AVAILABILITY_CACHE_SECONDS = 60


def test_it_answers_a_repeated_question_without_the_database(client, demo, django_assert_num_queries):
    day = demo.next_working_day()
    first = slots(client, demo.haircut, day, stylist=demo.ana)
    with django_assert_num_queries(0):
        assert slots(client, demo.haircut, day, stylist=demo.ana) == first
        # The same parameters in another order are the same question.
        reordered = {"date": day.isoformat(), "stylist": demo.ana.pk, "service": demo.haircut.pk}
        response = client.get("/api/v1/availability", reordered)
        assert response.json()["slots"] == first
        assert response["Content-Type"] == "application/json; charset=utf-8"


def test_it_forgets_every_answer_when_this_process_books_or_cancels(client, demo_tx):
    demo = demo_tx  # committed for real: answers are forgotten on commit
    day = demo.next_working_day()
    first = slots(client, demo.haircut, day, stylist=demo.ana)
    booked = book(client, demo, demo.local(day, 9), stylist=demo.ana)
    assert booked["start"] not in slots(client, demo.haircut, day, stylist=demo.ana)
    assert booked["start"] in first

    token = booked["manage_token"]
    cancelled = client.post(f"/api/v1/appointments/{booked['id']}/cancel?token={token}")
    assert cancelled.status_code == 200, cancelled.content
    assert slots(client, demo.haircut, day, stylist=demo.ana) == first


def test_it_serves_another_process_booking_late_by_at_most_the_setting(client, demo, settings):
    """A booking made by another process sends no signal here (simulated with
    bulk_create, which sends none either)."""
    day = demo.next_working_day()
    first = slots(client, demo.haircut, day, stylist=demo.ana)
    start = demo.local(day, 9)
    (visit,) = Visit.objects.bulk_create([Visit(created_at=start)])
    (appointment,) = Appointment.objects.bulk_create(
        [
            Appointment(
                visit=visit,
                service=demo.haircut,
                stylist=demo.ana,
                starts_at=start,
                ends_at=start + demo.haircut.duration,
                customer_name="Elsewhere",
                customer_email="e@example.com",
                price=demo.haircut.price,
                created_at=start,
            )
        ]
    )
    Hold.objects.bulk_create(
        [Hold(appointment=appointment, stylist=demo.ana, starts_at=start, ends_at=appointment.ends_at)]
    )
    assert slots(client, demo.haircut, day, stylist=demo.ana) == first  # within the window

    settings.AVAILABILITY_CACHE_SECONDS = 0  # as if the window had passed
    assert start.isoformat() not in slots(client, demo.haircut, day, stylist=demo.ana)


def test_it_keeps_no_errors_and_no_answer_computed_across_a_booking(client, demo, monkeypatch):
    response = client.get("/api/v1/availability", {"service": 999999, "date": "2030-01-01"})
    assert response.status_code == 404
    assert microcache._entries == {}

    # An answer whose computation a booking overtook is served but not kept.
    day = demo.next_working_day()
    original = microcache._generation

    real = selectors.slot_list

    def slot_list(**kwargs):
        result = real(**kwargs)
        microcache.invalidate()  # a booking lands while this answer is computed
        return result

    monkeypatch.setattr(selectors, "slot_list", slot_list)
    slots(client, demo.haircut, day, stylist=demo.ana)
    assert microcache._generation == original + 1
    assert microcache._entries == {}


def test_it_is_off_at_zero(client, demo, settings, django_assert_num_queries):
    settings.AVAILABILITY_CACHE_SECONDS = 0
    day = demo.next_working_day()
    slots(client, demo.haircut, day)
    with django_assert_num_queries(1):
        slots(client, demo.haircut, day)


def test_it_keeps_no_answer_computed_between_a_booking_and_its_commit(demo_tx):
    day = demo_tx.next_working_day()
    start = demo_tx.local(day, 9)

    def ask_in_another_thread() -> list[str]:
        # Another request of this process: its own connection, outside the
        # booking's transaction.
        def ask() -> list[str]:
            try:
                return slots(Client(), demo_tx.haircut, day, stylist=demo_tx.ana)
            finally:
                connections.close_all()

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(ask).result()

    with transaction.atomic():
        AppointmentFactory(service=demo_tx.haircut, stylist=demo_tx.ana, starts_at=start)
        assert start.isoformat() in ask_in_another_thread()  # not committed yet
    assert start.isoformat() not in ask_in_another_thread()
