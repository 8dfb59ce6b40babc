"""The booking service on the real database: rules re-checked at write time,
refusals explained, cancellation frees the time, the constraint as a backstop."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chairtime.booking import selectors, services
from chairtime.booking.availability import Refusal
from chairtime.booking.errors import BookingError, Problem
from chairtime.booking.models import Appointment
from chairtime.booking.tests.factories import AppointmentFactory, ClosureFactory, TimeOffFactory

# A Monday; "now" is the Friday before, 10:00 local.
DAY = date(2027, 3, 15)
NOW = datetime(2027, 3, 12, 18, 0, tzinfo=UTC)


_customers = itertools.count()


def book(demo, hh, mm=0, *, stylist="ana", service="haircut", day=DAY, now=NOW, **kwargs):
    stylist_obj = getattr(demo, stylist) if stylist else None
    return services.appointment_book(
        service_id=getattr(demo, service).pk,
        stylist_id=stylist_obj.pk if stylist_obj else None,
        start=demo.local(day, hh, mm),
        customer_name=kwargs.get("name", "Alex Doe"),
        # A new customer each time, unless said: one customer cannot hold the same
        # service at the same start twice (test_it_refuses_the_same_customer_...).
        customer_email=kwargs.get("email", f"customer{next(_customers)}@example.com"),
        customer_phone="+1 555 0100",
        now=now,
    )


def refusal_of(fn) -> BookingError:
    with pytest.raises(BookingError) as info:
        fn()
    return info.value


def test_it_books_a_free_start(demo):
    appointment = book(demo, 9, 30)

    assert appointment.status == Appointment.Status.CONFIRMED
    assert appointment.stylist == demo.ana
    assert appointment.starts_at == demo.local(DAY, 9, 30)
    assert appointment.ends_at - appointment.starts_at == timedelta(hours=1)
    assert appointment.price == demo.haircut.price
    assert appointment.created_at == NOW


def test_it_strips_customer_details(demo):
    appointment = book(demo, 9, name="  Alex Doe  ")

    assert appointment.customer_name == "Alex Doe"


def test_it_refuses_a_start_that_is_taken(demo):
    book(demo, 10)

    error = refusal_of(lambda: book(demo, 10, 30))

    assert error.reason is Refusal.TAKEN
    assert error.conflict
    assert "taken" in error.message


@pytest.mark.parametrize(
    ("hh", "mm", "reason"),
    [
        (12, 0, Refusal.OUTSIDE_HOURS),  # 12:00-13:00 runs into the lunch break
        (17, 30, Refusal.OUTSIDE_HOURS),  # would end after closing
        (8, 0, Refusal.OUTSIDE_HOURS),
        (9, 10, Refusal.OFF_GRID),
    ],
)
def test_it_refuses_starts_outside_the_rules(demo, hh, mm, reason):
    assert refusal_of(lambda: book(demo, hh, mm)).reason is reason
    assert not Appointment.objects.exists()


def test_it_refuses_starts_sooner_than_the_minimum_notice(demo):
    now = demo.local(DAY, 9, 1)

    assert refusal_of(lambda: book(demo, 10, now=now)).reason is Refusal.TOO_SOON
    assert book(demo, 10, 30, now=now).starts_at == demo.local(DAY, 10, 30)


def test_it_refuses_starts_in_the_past(demo):
    assert refusal_of(lambda: book(demo, 9, now=demo.local(DAY, 11))).reason is Refusal.IN_THE_PAST


def test_it_refuses_days_beyond_the_horizon(demo):
    far = DAY + timedelta(days=35)  # a Monday too

    assert refusal_of(lambda: book(demo, 10, day=far)).reason is Refusal.BEYOND_HORIZON


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (datetime(1, 1, 1, 12, 0, tzinfo=UTC), Refusal.IN_THE_PAST),
        (datetime(9999, 12, 31, 12, 0, tzinfo=UTC), Refusal.BEYOND_HORIZON),
    ],
)
def test_it_refuses_absurd_dates_without_overflowing(demo, start, reason):
    error = refusal_of(
        lambda: services.appointment_book(
            service_id=demo.haircut.pk,
            stylist_id=None,
            start=start,
            customer_name="A",
            customer_email="a@example.com",
            now=NOW,
        )
    )

    assert error.reason is reason


def test_it_refuses_closure_days_and_time_off(demo):
    ClosureFactory(date=DAY)
    assert refusal_of(lambda: book(demo, 10)).reason is Refusal.CLOSED

    tuesday = DAY + timedelta(days=1)
    TimeOffFactory(stylist=demo.ana, start=demo.local(tuesday, 9), end=demo.local(tuesday, 11))
    assert refusal_of(lambda: book(demo, 10, day=tuesday)).reason is Refusal.TIME_OFF


def test_it_explains_unknown_or_unsuitable_services_and_stylists(demo):
    def attempt(service_id, stylist_id):
        return lambda: services.appointment_book(
            service_id=service_id,
            stylist_id=stylist_id,
            start=demo.local(DAY, 10),
            customer_name="A",
            customer_email="a@example.com",
            now=NOW,
        )

    assert refusal_of(attempt(999_999, None)).reason is Problem.SERVICE_NOT_FOUND
    assert refusal_of(attempt(demo.haircut.pk, 999_999)).reason is Problem.STYLIST_NOT_FOUND
    assert refusal_of(attempt(demo.colour.pk, demo.ben.pk)).reason is Problem.STYLIST_DOES_NOT_OFFER

    demo.ana.is_active = False
    demo.ana.save()
    assert refusal_of(attempt(demo.haircut.pk, demo.ana.pk)).reason is Problem.STYLIST_NOT_FOUND
    assert refusal_of(attempt(demo.colour.pk, None)).reason is Problem.NO_STYLIST

    demo.haircut.is_active = False
    demo.haircut.save()
    assert refusal_of(attempt(demo.haircut.pk, None)).reason is Problem.SERVICE_NOT_FOUND
    assert not Appointment.objects.exists()


def test_it_refuses_naive_datetimes(demo):
    with pytest.raises(ValueError, match="timezone-aware"):
        services.appointment_book(
            service_id=demo.haircut.pk,
            stylist_id=None,
            start=datetime(2027, 3, 15, 10, 0),
            customer_name="A",
            customer_email="a@example.com",
            now=NOW,
        )


def test_any_stylist_goes_to_the_least_busy_free_stylist(demo):
    book(demo, 9, stylist="ana")
    book(demo, 14, stylist="ana")

    assert book(demo, 10, stylist=None).stylist == demo.ben
    book(demo, 11, stylist="ben")
    book(demo, 15, stylist="ben")
    book(demo, 16, stylist="ben")
    # Ben now has 4 appointments, Ana 2.
    assert book(demo, 11, stylist=None).stylist == demo.ana


def test_any_stylist_takes_whoever_is_still_free(demo):
    book(demo, 10, stylist="ben")

    assert book(demo, 10, stylist=None).stylist == demo.ana
    assert refusal_of(lambda: book(demo, 10, stylist=None)).reason is Refusal.TAKEN


def test_any_stylist_explains_the_most_specific_reason(demo):
    # Ana is on time off, Ben is booked: "taken" tells the customer more than "away".
    TimeOffFactory(stylist=demo.ana, start=demo.local(DAY, 9), end=demo.local(DAY, 12))
    book(demo, 10, stylist="ben")

    assert refusal_of(lambda: book(demo, 10, stylist=None)).reason is Refusal.TAKEN


def test_cancelling_frees_the_time_at_once(demo):
    appointment = book(demo, 10)

    cancelled = services.appointment_cancel(appointment_id=appointment.pk, now=NOW)

    assert cancelled.status == Appointment.Status.CANCELLED
    assert cancelled.cancelled_at == NOW
    assert book(demo, 10).stylist == demo.ana
    assert Appointment.objects.filter(status="confirmed").count() == 1


def test_it_refuses_to_cancel_twice_or_after_the_start(demo):
    appointment = book(demo, 10)
    services.appointment_cancel(appointment_id=appointment.pk, now=NOW)

    error = refusal_of(lambda: services.appointment_cancel(appointment_id=appointment.pk, now=NOW))
    assert error.reason is Problem.ALREADY_CANCELLED

    other = book(demo, 11)
    error = refusal_of(lambda: services.appointment_cancel(appointment_id=other.pk, now=demo.local(DAY, 11)))
    assert error.reason is Problem.ALREADY_STARTED

    error = refusal_of(lambda: services.appointment_cancel(appointment_id=999_999, now=NOW))
    assert error.reason is Problem.APPOINTMENT_NOT_FOUND


def test_the_database_constraint_refuses_what_a_faulty_check_lets_through(demo, monkeypatch):
    book(demo, 10)
    # Simulate a bug in the reads: nobody is ever busy.
    monkeypatch.setattr(selectors, "stylist_busy_by_id", lambda *args, **kwargs: defaultdict(list))

    assert refusal_of(lambda: book(demo, 10)).reason is Refusal.TAKEN
    assert Appointment.objects.filter(status="confirmed").count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exclusion constraints are PostgreSQL's")
def test_postgresql_also_refuses_overlaps_with_a_different_start(demo, monkeypatch):
    book(demo, 10)
    monkeypatch.setattr(selectors, "stylist_busy_by_id", lambda *args, **kwargs: defaultdict(list))

    # 10:30 starts at no start of a hold: only the exclusion constraint sees it.
    assert refusal_of(lambda: book(demo, 10, 30)).reason is Refusal.TAKEN
    assert Appointment.objects.filter(status="confirmed").count() == 1


def test_an_appointment_late_in_the_local_day_blocks_its_own_day(demo):
    late_service = demo.haircut
    demo.ana.hours.create(weekday=DAY.weekday(), start="19:00", end="23:59")
    book(demo, 22, 30)  # 06:30 UTC the next day

    slots = selectors.slot_list(salon=demo.salon, service=late_service, stylists=[demo.ana], day=DAY, now=NOW)

    assert demo.local(DAY, 22, 30) not in slots.starts
    assert demo.local(DAY, 22, 0) not in slots.starts  # would overlap
    assert demo.local(DAY, 21, 30) in slots.starts  # ends as it begins


def test_the_availability_query_reads_only_the_days_range(demo):
    AppointmentFactory.create_batch(
        5,
        service=demo.haircut,
        stylist=demo.ana,
        starts_at=factory_sequence_of_days(datetime(2026, 1, 5, 17, 0, tzinfo=UTC)),
    )

    with CaptureQueriesContext(connection) as queries:
        selectors.slot_list(salon=demo.salon, service=demo.haircut, stylists=[demo.ana], day=DAY, now=NOW)

    appointment_sql = [q["sql"] for q in queries.captured_queries if "booking_appointment" in q["sql"]]
    assert appointment_sql == []  # busy time is the holds'
    hold_sql = [q["sql"] for q in queries.captured_queries if "booking_hold" in q["sql"]]
    assert len(hold_sql) == 1
    # Bounded on both sides through the (stylist, starts_at) index.
    assert hold_sql[0].count("starts_at") >= 2
    # Closures, the salon's special hours, weekly hours, time off, the stylists'
    # special hours, holds, the stylists' own prices and lengths, the phases:
    # whatever the number of stylists or the history.
    assert len(queries.captured_queries) <= 8, [q["sql"] for q in queries.captured_queries]


def factory_sequence_of_days(first: datetime):
    import factory

    return factory.Sequence(lambda n: first + timedelta(days=n))
