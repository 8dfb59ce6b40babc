"""Booking from the desk: visit_book(by_staff=True) and the desk's form."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse

from chairtime.booking import services
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment
from chairtime.booking.tests.factories import AppointmentFactory, TimeOffFactory
from chairtime.booking.tests.fixtures import make_colour_salon
from chairtime.frontdesk.models import AppointmentEvent
from chairtime.frontdesk.tests.conftest import DAY, NOW

BOOK = reverse("frontdesk:book")


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def book(demo, start, *, by_staff: bool, email: str = "walk-in@example.com", stylist=None, service=None):
    return services.visit_book(
        items=[services.ItemRequest((service or demo.haircut).pk, (stylist or demo.ana).pk)],
        start=start,
        customer_name="Walk In",
        customer_email=email,
        now=NOW,
        by_staff=by_staff,
    )


# --- the service ---------------------------------------------------------------


def test_staff_skip_the_minimum_notice(demo, clock):
    soon = NOW + timedelta(minutes=30)  # 16:30: inside the salon's 60-minute notice
    with pytest.raises(BookingError) as refused:
        book(demo, soon, by_staff=False)
    assert refused.value.code == "too_soon"
    [appointment] = book(demo, soon, by_staff=True)
    assert appointment.starts_at == soon


def test_staff_skip_the_horizon(demo, clock):
    far = demo.local(NOW.date() + timedelta(days=60), 10)
    while far.weekday() == 6:
        far += timedelta(days=1)
    with pytest.raises(BookingError) as refused:
        book(demo, far, by_staff=False)
    assert refused.value.code == "beyond_horizon"
    assert book(demo, far, by_staff=True)[0].starts_at == far


def test_staff_still_cannot_book_the_past_overlaps_time_off_or_outside_hours(demo, clock):
    AppointmentFactory(service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 10))
    TimeOffFactory(stylist=demo.ana, start=demo.local(DAY, 14), end=demo.local(DAY, 16))
    cases = {
        demo.local(NOW.date(), 9): "in_the_past",
        demo.local(DAY, 10, 30): "taken",
        demo.local(DAY, 14): "time_off",
        demo.local(DAY, 12): "outside_hours",  # would run into lunch
    }
    for start, code in cases.items():
        with pytest.raises(BookingError) as refused:
            book(demo, start, by_staff=True, email="")
        assert refused.value.code == code, start


def test_staff_still_cannot_double_book_a_resource(demo, clock):
    colour = make_colour_salon(demo)
    book(demo, demo.local(DAY, 10), by_staff=True, service=colour.colour, stylist=demo.ana)
    with pytest.raises(BookingError) as refused:
        book(demo, demo.local(DAY, 10, 15), by_staff=True, service=colour.colour, stylist=demo.ben, email="")
    assert refused.value.code == "resource_busy"


def test_staff_may_book_without_an_email_address(demo, clock):
    [appointment] = book(demo, demo.local(DAY, 10), by_staff=True, email="")
    appointment.refresh_from_db()
    assert appointment.customer_email == ""
    assert appointment.confirmed_customer is None
    assert not appointment.messages.exists()  # nobody to write to


# --- the form --------------------------------------------------------------------


def form_data(demo, **changes):
    data = {
        "services": [demo.haircut.pk],
        "stylist": demo.ana.pk,
        "date": DAY.isoformat(),
        "time": "10:00",
        "customer_name": "Walk In",
        "customer_email": "",
        "customer_phone": "+1 415 555 0100",
        "nonce": "n-1",
    }
    data.update(changes)
    return data


def test_the_slot_link_fills_the_form(desk, demo):
    response = desk.front.get(f"{BOOK}?stylist={demo.ben.pk}&start={DAY}T14:30")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'<option value="{demo.ben.pk}" selected>' in body
    assert 'value="2027-03-02"' in body
    assert 'value="14:30"' in body


def test_the_desk_books_a_walk_in_and_records_who(desk, demo):
    response = desk.front.post(BOOK, form_data(demo))
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("frontdesk:appointment", args=[appointment.pk])
    assert appointment.customer_phone == "+1 415 555 0100"
    assert appointment.starts_at == demo.local(DAY, 10)
    [event] = AppointmentEvent.objects.all()
    assert (event.kind, event.by_name) == ("booked", "fred")
    page = desk.front.get(response["Location"])
    assert "Booked at the desk by fred" in text(page)


def test_the_same_form_sent_twice_books_once(desk, demo):
    desk.front.post(BOOK, form_data(demo))
    again = desk.front.post(BOOK, form_data(demo))
    assert again.status_code == 302
    assert Appointment.objects.count() == 1
    assert AppointmentEvent.objects.count() == 1


def test_the_desk_books_several_services_back_to_back(desk, demo):
    response = desk.front.post(
        BOOK, form_data(demo, services=[demo.haircut.pk, demo.colour.pk], time="09:00")
    )
    assert response.status_code == 302
    # In the order the form lists them (the services' order: Colour, Haircut).
    booked = list(Appointment.objects.order_by("position").values_list("service__name", "starts_at"))
    assert booked == [("Colour", demo.local(DAY, 9)), ("Haircut", demo.local(DAY, 11))]


def test_a_refusal_is_a_sentence(desk, demo):
    AppointmentFactory(service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 10))
    response = desk.front.post(BOOK, form_data(demo, time="10:30"))
    assert response.status_code == 409
    assert "That time has just been taken" in text(response)


def test_bad_input_is_a_400_with_sentences(desk, demo):
    response = desk.front.post(
        BOOK, form_data(demo, services=[], customer_name="", customer_email="nope", time="25:00")
    )
    assert response.status_code == 400
    page = text(response)
    assert "Choose at least one service." in page
    assert "Give a time such as 14:30." in page
    assert "Enter a valid email address." in page
    assert not Appointment.objects.exists()


def test_a_time_the_clocks_skip_is_refused_in_words(desk, demo):
    spring = demo.local(DAY, 9).date().replace(day=14)  # 2027-03-14, Los Angeles springs forward
    response = desk.front.post(BOOK, form_data(demo, date=spring.isoformat(), time="02:30"))
    assert response.status_code == 400
    assert "does not exist on that day" in text(response)
