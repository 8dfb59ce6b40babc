"""The customer's language is kept with what they book (the visit) and with their
waitlist place, from the language active when they did it (the request's: the
switch or Accept-Language, through the pages and the API alike), so that their
e-mails, written later by a worker, are in it (chairtime/messages)."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from chairtime.booking import services, waitlist
from chairtime.booking.models import Appointment, WaitlistEntry
from chairtime.booking.tests.test_waitlist_pages import full_day, offered, waitlist_body  # noqa: F401

pytestmark = pytest.mark.django_db


def api_book(client, demo, accept_language: str | None):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}
    response = client.post(
        "/api/v1/appointments",
        {
            "service": demo.haircut.pk,
            "stylist": demo.ben.pk,
            "start": demo.local(demo.next_working_day(), 10).isoformat(),
            "customer": {"name": "Alex Doe", "email": "alex@example.com"},
        },
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 201, response.content
    return Appointment.objects.select_related("visit").get(pk=response.json()["id"])


@pytest.mark.parametrize(
    ("accept_language", "stored"),
    [("es", "es"), ("fr-CA,fr;q=0.9,en;q=0.5", "fr"), ("de-DE,de;q=0.9", "en"), (None, "en")],
)
def test_it_keeps_the_language_of_an_api_booking(client, demo, accept_language, stored):
    appointment = api_book(client, demo, accept_language)

    assert appointment.visit.language == stored


@pytest.mark.parametrize(
    ("active", "stored"), [("es", "es"), ("fr-ca", "fr"), ("es-mx", "es"), ("de", "en"), (None, "en")]
)
def test_it_keeps_the_active_language_as_one_the_salon_speaks(demo, active, stored):
    with translation.override(active):
        (appointment,) = services.visit_book(
            items=[services.ItemRequest(demo.haircut.pk, demo.ana.pk)],
            start=demo.local(demo.next_working_day(), 10),
            customer_name="Alex Doe",
            customer_email="alex@example.com",
        )

    assert appointment.visit.language == stored


def test_a_move_keeps_the_language_the_visit_was_booked_in(demo):
    day = demo.next_working_day()
    with translation.override("es"):
        appointment = services.appointment_book(
            service_id=demo.haircut.pk,
            stylist_id=demo.ana.pk,
            start=demo.local(day, 10),
            customer_name="Alex Doe",
            customer_email="alex@example.com",
        )

    with translation.override("fr"):
        (moved,) = services.visit_reschedule(appointment_id=appointment.pk, start=demo.local(day, 14))

    moved.visit.refresh_from_db()
    assert (moved.visit_id, moved.visit.language) == (appointment.visit_id, "es")


@pytest.mark.parametrize(("accept_language", "stored"), [("es-MX,es;q=0.9", "es"), ("pt-BR", "en")])
def test_it_keeps_the_language_of_a_waitlist_place(client, full_day, accept_language, stored):  # noqa: F811
    demo, day, _ = full_day

    response = client.post(
        "/api/v1/waitlist",
        waitlist_body(demo, day),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE=accept_language,
    )

    assert response.status_code == 201, response.content
    assert WaitlistEntry.objects.get().language == stored


def test_an_offer_taken_is_booked_in_the_language_it_is_taken_in(full_day):  # noqa: F811
    demo, day, booked = full_day
    with translation.override("fr"):
        offer = offered(demo, day, booked, now=timezone.now())

    with translation.override("es"):
        (appointment,) = waitlist.waitlist_offer_take(offer_id=offer.pk)

    assert offer.entry.language == "fr"
    assert appointment.visit.language == "es"
