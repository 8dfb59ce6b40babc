"""The staff day sheet: who comes in when, per stylist, in the salon's local time."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chairtime.booking import services
from chairtime.booking.tests.factories import (
    AppointmentFactory,
    ResourceFactory,
    ServiceFactory,
    ServicePhaseFactory,
    StylistFactory,
)

LA = ZoneInfo("America/Los_Angeles")
DAY = date(2027, 3, 2)  # a Tuesday
URL = reverse("booking:staff_day")


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(body).split())


def column(response, stylist) -> str:
    """The text of one stylist's section of the sheet."""
    body = response.content.decode()
    match = re.search(
        rf'<section class="sheet__column" aria-labelledby="stylist-{stylist.pk}">(.*?)</section>', body, re.S
    )
    assert match, f"no column for {stylist}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user(username="front-desk", password="x", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def clock():
    # Autouse, so it is frozen before the login: a session made in real time
    # would have expired by 2027.
    with time_machine.travel(datetime(2027, 3, 1, 16, 0, tzinfo=LA), tick=False) as traveller:
        yield traveller


def test_it_sends_visitors_to_the_admin_login(client, demo):
    response = client.get(f"{URL}?date={DAY}")

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={URL}%3Fdate%3D{DAY}"


def test_it_sends_non_staff_users_to_the_admin_login(client, demo, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="customer", password="x"))

    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_it_shows_each_stylists_appointments_of_the_day_in_local_time(staff_client, demo):
    AppointmentFactory(
        service=demo.colour,
        stylist=demo.ana,
        starts_at=demo.local(DAY, 13, 30),
        customer_name="Priya Shah",
        customer_phone="+1 415 555 0199",
    )
    AppointmentFactory(
        service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 9), customer_name="Sam Lee"
    )
    AppointmentFactory(
        service=demo.haircut, stylist=demo.ben, starts_at=demo.local(DAY, 17), customer_name="Ivo Ruiz"
    )
    AppointmentFactory(service=demo.haircut, stylist=demo.ben, starts_at=demo.local(date(2027, 3, 3), 9))

    response = staff_client.get(f"{URL}?date={DAY}")

    assert response.status_code == 200
    page = text(response)
    assert "Tuesday, March 2, 2027" in page
    assert "3 appointments · times in PST" in page
    ana, ben = column(response, demo.ana), column(response, demo.ben)
    assert ana.startswith("Ana 9:00 AM \u2013 10:00 AM Haircut Sam Lee")
    assert "1:30 PM \u2013 3:30 PM Colour Priya Shah +1 415 555 0199 Confirmed" in ana
    assert ben.startswith("Ben 5:00 PM \u2013 6:00 PM Haircut Ivo Ruiz")
    assert "9:00 AM" not in ben  # that one is tomorrow
    assert 'href="tel:+14155550199"' in response.content.decode()


def test_it_puts_a_late_appointment_on_its_local_day_not_its_utc_day(staff_client, demo):
    late = AppointmentFactory(service=demo.haircut, stylist=demo.ben, starts_at=demo.local(DAY, 23, 30))
    assert late.starts_at.astimezone(UTC).date() == date(2027, 3, 3)

    that_day = staff_client.get(f"{URL}?date={DAY}")
    next_day = staff_client.get(f"{URL}?date=2027-03-03")

    assert "11:30 PM \u2013 12:30 AM Haircut Alex Doe" in column(that_day, demo.ben)
    assert "Alex Doe" not in text(next_day)


def test_it_strikes_through_cancelled_appointments(staff_client, demo):
    appointment = AppointmentFactory(
        service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 11), customer_name="Kim Wu"
    )
    services.appointment_cancel(appointment_id=appointment.pk)

    response = staff_client.get(f"{URL}?date={DAY}")

    assert "11:00 AM \u2013 12:00 PM Haircut Kim Wu Cancelled" in column(response, demo.ana)
    assert re.search(r'<li class="slot slot--cancelled">\s*<del>', response.content.decode())
    assert "0 appointments, 1 cancelled" in text(response)


def test_it_links_each_appointment_to_the_back_office(staff_client, demo):
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 11))

    body = staff_client.get(f"{URL}?date={DAY}").content.decode()

    assert f'href="{reverse("admin:booking_appointment_change", args=[appointment.pk])}"' in body
    assert f'href="{reverse("admin:index")}"' in body


def test_it_lists_stylists_without_appointments_too(staff_client, demo):
    StylistFactory(name="Cleo", is_active=False)  # inactive and not booked: left out

    response = staff_client.get(f"{URL}?date={DAY}")

    assert "No appointments." in column(response, demo.ana)
    assert "No appointments." in column(response, demo.ben)
    assert "Cleo" not in text(response)


def test_it_shows_today_by_default_with_links_to_the_days_around_it(staff_client, demo, clock):
    clock.move_to(datetime(2027, 3, 1, 23, 30, tzinfo=LA))  # already March 2 in UTC

    response = staff_client.get(URL)

    page = text(response)
    assert "Monday, March 1, 2027 Today" in page
    body = response.content.decode()
    assert f'href="{URL}?date=2027-02-28" rel="prev"' in body
    assert f'href="{URL}?date=2027-03-02" rel="next"' in body
    assert 'name="date" value="2027-03-01"' in body


def test_it_shows_the_clock_change_day_with_both_zones(staff_client, demo):
    night = StylistFactory(name="Nadia", services=[demo.haircut], hours={6: []})
    AppointmentFactory(
        service=demo.haircut,
        stylist=night,
        starts_at=datetime(2027, 11, 7, 8, 30, tzinfo=UTC),
        customer_name="Owl",
    )

    response = staff_client.get(f"{URL}?date=2027-11-07")

    assert "1:30 AM PDT \u2013 1:30 AM PST Haircut Owl" in column(response, night)


@pytest.mark.parametrize(
    "value",
    [
        "2027-02-30",
        "2027-3-2",
        "tomorrow",
        "02/03/2027",
        "9999-12-31",
        "0001-01-01",
        "x" * 10_000,
        "2027-03-02\x00",
    ],
)
def test_it_answers_a_bad_date_with_400(staff_client, demo, value):
    response = staff_client.get(URL, {"date": value})

    assert response.status_code == 400
    assert "That is not a date. Use the form YYYY-MM-DD" in text(response)


def test_it_accepts_only_reads(staff_client, demo):
    assert staff_client.post(URL).status_code == 405


# --- phases, processing time and resources ---------------------------------------------------


def phased_colour(demo):
    """The demo's colour as a salon describes it: 30 minutes applying at the colour
    station, 30 minutes processing, 15 minutes rinsing at a basin, 10 minutes'
    clean-up after; and a 30-minute trim Ana can do while a colour processes."""
    station = ResourceFactory(key="station", name="Colour station", quantity=1)
    basin = ResourceFactory(key="basin", name="Basin", quantity=2)
    ServicePhaseFactory(service=demo.colour, position=0, minutes=30, resources=[station])
    ServicePhaseFactory(service=demo.colour, position=1, minutes=30, processing=True)
    ServicePhaseFactory(service=demo.colour, position=2, minutes=15, resources=[basin])
    demo.colour.buffer_after_minutes = 10
    demo.colour.save()
    trim = ServiceFactory(key="trim", name="Trim", duration_minutes=30)
    demo.ana.services.add(trim)
    return trim


def book(demo, service, stylist, hh, mm=0, email="c@example.com"):
    return services.visit_book(
        items=[services.ItemRequest(service.pk, stylist.pk)],
        start=demo.local(DAY, hh, mm),
        customer_name=email.split("@")[0].title(),
        customer_email=email,
    )[0]


def test_it_shows_the_phases_with_processing_time_as_free_and_the_units_held(staff_client, demo):
    trim = phased_colour(demo)
    book(demo, demo.colour, demo.ana, 9, email="priya@example.com")
    book(demo, trim, demo.ana, 9, 30, email="sam@example.com")  # in the processing gap

    response = staff_client.get(f"{URL}?date={DAY}")

    ana = column(response, demo.ana)
    assert (
        "9:00 AM \u2013 10:15 AM Colour Priya"
        " 9:00 AM \u2013 9:30 AM Busy · Colour station 1"
        " 9:30 AM \u2013 10:00 AM Processing \u2014 free to book"
        " 10:00 AM \u2013 10:15 AM Busy · Basin 1"
        " 10:15 AM \u2013 10:25 AM Clean-up (busy) Confirmed"
    ) in ana
    assert "9:30 AM \u2013 10:00 AM Trim Sam Confirmed" in ana  # a plain service: no phase list
    body = response.content.decode()
    assert '<li class="phase phase--processing">' in body
    assert body.count('<ol class="phases"') == 1


def test_it_shows_no_phases_for_a_cancelled_appointment(staff_client, demo):
    phased_colour(demo)
    appointment = book(demo, demo.colour, demo.ana, 9)
    services.appointment_cancel(appointment_id=appointment.pk)

    response = staff_client.get(f"{URL}?date={DAY}")

    assert "9:00 AM \u2013 10:15 AM Colour C Cancelled" in column(response, demo.ana)
    assert "Processing" not in text(response)


def test_it_reads_the_day_in_the_same_number_of_queries_however_many_appointments(staff_client, demo):
    phased_colour(demo)
    book(demo, demo.colour, demo.ana, 9, email="a@example.com")
    staff_client.get(f"{URL}?date={DAY}")  # the session and the salon, cached from here on
    with CaptureQueriesContext(connection) as one:
        staff_client.get(f"{URL}?date={DAY}")

    book(demo, demo.colour, demo.ana, 14, email="b@example.com")
    demo.ben.services.add(demo.colour)
    book(demo, demo.colour, demo.ben, 11, email="c@example.com")
    book(demo, demo.haircut, demo.ben, 15, email="d@example.com")
    with CaptureQueriesContext(connection) as four:
        response = staff_client.get(f"{URL}?date={DAY}")

    assert "4 appointments" in text(response)
    assert len(four) == len(one), [q["sql"] for q in four.captured_queries]


def test_it_says_where_each_service_sits_in_its_visit(staff_client, demo):
    services.visit_book(
        items=[
            services.ItemRequest(demo.colour.pk, demo.ana.pk),
            services.ItemRequest(demo.haircut.pk, demo.ben.pk),
        ],
        start=demo.local(DAY, 9),
        customer_name="Priya Shah",
        customer_email="priya@example.com",
    )

    response = staff_client.get(f"{URL}?date={DAY}")

    assert "9:00 AM \u2013 11:00 AM Colour Priya Shah Visit 1 of 2 · then Haircut with Ben" in column(
        response, demo.ana
    )
    assert "11:00 AM \u2013 12:00 PM Haircut Priya Shah Visit 2 of 2 · after Colour with Ana" in column(
        response, demo.ben
    )
