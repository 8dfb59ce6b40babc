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
from chairtime.clients.models import Client, ClientAppointment
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


# --- picking the customer from the client list -------------------------------------


def a_card(demo, name="Alex Doe", email=None, phone="+1 415 555 0142"):
    return Client.objects.create(salon=demo.salon, name=name, email=email, phone=phone, created_at=NOW)


def test_the_finder_lists_matching_cards_with_links_that_keep_the_slot(desk, demo):
    alex = a_card(demo)
    a_card(demo, name="Sam Roe", phone="+1 415 555 0999")
    erased = a_card(demo, name="Alex Gone")
    erased.name, erased.phone, erased.erased_at = "", "", NOW
    erased.save()

    response = desk.front.get(f"{BOOK}?stylist={demo.ben.pk}&start={DAY}T14:30&client_q=alex")

    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert f"{BOOK}?stylist={demo.ben.pk}&start={DAY}T14:30&client={alex.pk}" in body
    assert "Book for Alex Doe" in text(response)
    assert "Sam Roe" not in body
    assert "Alex Gone" not in body
    by_phone = desk.front.get(f"{BOOK}?client_q=555 0999")
    assert "Book for Sam Roe" in text(by_phone)
    nobody = desk.front.get(f"{BOOK}?client_q=zzz")
    assert "No client matches “zzz”" in text(nobody)


def test_a_picked_card_fills_the_customer_and_the_visit_joins_it(desk, demo):
    alex = a_card(demo)  # a phone customer: no e-mail, so no rule could find the card
    page = desk.front.get(f"{BOOK}?client={alex.pk}")
    body = page.content.decode()
    assert "Booking for" in text(page)
    assert 'value="Alex Doe"' in body
    assert f'name="client" value="{alex.pk}"' in body

    response = desk.front.post(BOOK, form_data(demo, client=alex.pk, customer_name="Alex Doe"))

    assert response.status_code == 302
    link = ClientAppointment.objects.get()
    assert (link.client, link.appointment, link.how) == (alex, Appointment.objects.get(), "staff")


def test_a_card_is_started_for_a_customer_without_an_email_only_when_asked(desk, demo):
    desk.front.post(BOOK, form_data(demo))
    assert not Client.objects.exists()

    asked = form_data(demo, time="14:00", nonce="n-2", customer_name="Pat Lee", start_card="on")
    desk.front.post(BOOK, asked)

    card = Client.objects.get()
    assert (card.name, card.phone, card.email) == ("Pat Lee", "+1 415 555 0100", None)
    assert ClientAppointment.objects.get().appointment.starts_at == demo.local(DAY, 14)


def test_a_card_gone_since_it_was_picked_books_nothing_and_says_why(desk, demo):
    alex = a_card(demo)
    alex.name, alex.phone, alex.erased_at = "", "", NOW
    alex.save()

    response = desk.front.post(BOOK, form_data(demo, client=alex.pk))

    assert response.status_code == 400
    assert "That client card is no longer there: find the client again." in text(response)
    assert not Appointment.objects.exists()
    assert desk.front.post(BOOK, form_data(demo, client="x")).status_code == 400
