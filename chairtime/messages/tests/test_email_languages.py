"""Every e-mail, and its calendar file, in the language the customer booked or
joined the waitlist in (the API's Accept-Language here), whatever language the
worker runs in and whatever language later requests about the visit use; sent
by the real worker through a real SMTP server on loopback."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
from django.utils import translation
from django.utils.html import strip_tags

from chairtime.booking import services
from chairtime.booking.models import Appointment, Visit
from chairtime.booking.tests.factories import AppointmentFactory
from chairtime.booking.tests.test_waitlist import only_ten_o_clock
from chairtime.booking.tests.test_waitlist_pages import waitlist_body
from chairtime.messages import outbox
from chairtime.messages.models import Message
from chairtime.messages.tests.conftest import run_worker
from chairtime.messages.tests.test_delivery import calendar_of, event_of

pytestmark = pytest.mark.django_db(transaction=True)

# A Thursday afternoon in San Francisco; the visit is on the Monday after, then
# moved to the Tuesday.
NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
MONDAY, TUESDAY = date(2026, 12, 7), date(2026, 12, 8)
NBSP = "\u00a0"

EXPECTED = {
    "fr": {
        Message.Kind.VISIT_BOOKED: (
            "Votre rendez-vous chez Demo Salon le lundi 7 décembre 2026 est confirmé",
            [
                "Bonjour Alex Doe,",
                f"est confirmé pour le lundi 7 décembre 2026{NBSP}:",
                "14:30 \u2013 15:30 PST",
            ],
        ),
        Message.Kind.VISIT_CHANGED: (
            "Votre rendez-vous chez Demo Salon est déplacé au mardi 8 décembre 2026",
            [
                "Il a désormais lieu le mardi 8 décembre 2026",
                "10:00 \u2013 11:00 PST",
                "le déplace dans votre agenda",
            ],
        ),
        Message.Kind.REMINDER: (
            f"Rappel{NBSP}: votre rendez-vous chez Demo Salon le mardi 8 décembre 2026 à 10:00 PST",
            ["Nous vous rappelons votre rendez-vous", "10:00 \u2013 11:00 PST"],
        ),
        Message.Kind.VISIT_CANCELLED: (
            "Votre rendez-vous chez Demo Salon le mardi 8 décembre 2026 est annulé",
            [f"le mardi 8 décembre 2026 est annulé{NBSP}:", "le retire de votre agenda"],
        ),
        "every": [
            "Haircut avec Ben",
            "l'heure locale du salon (America/Los_Angeles)",
            f"Téléphone{NBSP}: +1 415",
        ],
        "calendar": ("Haircut chez Demo Salon", "Haircut avec Ben à 14:30"),
    },
    "es": {
        Message.Kind.VISIT_BOOKED: (
            "Su cita en Demo Salon el lunes 7 de diciembre de 2026 está confirmada",
            [
                "Hola, Alex Doe:",
                "está confirmada para el lunes 7 de diciembre de 2026:",
                "14:30 \u2013 15:30 PST",
            ],
        ),
        Message.Kind.VISIT_CHANGED: (
            "Su cita en Demo Salon se ha cambiado al martes 8 de diciembre de 2026",
            [
                "Ahora es el martes 8 de diciembre de 2026",
                "10:00 \u2013 11:00 PST",
                "la mueve en su calendario",
            ],
        ),
        Message.Kind.REMINDER: (
            "Recordatorio: su cita en Demo Salon el martes 8 de diciembre de 2026 a las 10:00 PST",
            ["Le recordamos su cita", "10:00 \u2013 11:00 PST"],
        ),
        Message.Kind.VISIT_CANCELLED: (
            "Su cita en Demo Salon el martes 8 de diciembre de 2026 está cancelada",
            ["el martes 8 de diciembre de 2026 está cancelada:", "la elimina de su calendario"],
        ),
        "every": ["Haircut con Ben", "la hora local del salón (America/Los_Angeles)", "Teléfono: +1 415"],
        "calendar": ("Haircut en Demo Salon", "Haircut con Ben a las 14:30"),
    },
}


@pytest.fixture
def salon(demo_tx, time_machine):
    time_machine.move_to(NOW, tick=True)
    demo_tx.salon.phone = "+1 415 555 0100"
    demo_tx.salon.save()
    return demo_tx


def run_worker_in_english() -> None:
    """The worker, with English active (as a worker process started without a
    request's language would be): the customer's language must still win."""
    with translation.override("en"):
        run_worker()


def api(client, path: str, body: dict | None = None, *, language: str):
    response = client.post(
        f"/api/v1{path}", body or {}, content_type="application/json", HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


def sent(smtp, kind: str):
    (message,) = Message.objects.filter(kind=kind, state=Message.State.SENT)
    (email,) = [e for e in smtp.received if e["X-Chairtime-Message"] == str(message.pk)]
    return email


def subject_of(email) -> str:
    # A long non-ASCII subject is folded after "Subject:": the parser keeps that space.
    return str(email["Subject"]).strip()


def bodies(email) -> list[str]:
    """The plain-text part, and the HTML part's text (its tags taken out)."""
    html = email.get_body(("html",)).get_content()
    return [email.get_body(("plain",)).get_content(), unescape(strip_tags(html))]


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_email_of_a_visit_is_written_in_the_language_it_was_booked_in(
    client, salon, smtp, time_machine, language
):
    booked = api(
        client,
        "/appointments",
        {
            "service": salon.haircut.pk,
            "stylist": salon.ben.pk,
            "start": salon.local(MONDAY, 14, 30).isoformat(),
            "customer": {"name": "Alex Doe", "email": "alex@example.com"},
        },
        language=language,
    )
    run_worker_in_english()
    # Moved and cancelled in English: the visit keeps the language it was booked in.
    token = f"?token={booked['manage_token']}"
    api(
        client,
        f"/appointments/{booked['id']}/reschedule{token}",
        {"start": salon.local(TUESDAY, 10).isoformat()},
        language="en",
    )
    run_worker_in_english()
    time_machine.move_to(Appointment.objects.get(pk=booked["id"]).starts_at - timedelta(hours=2), tick=True)
    run_worker_in_english()  # the 2-hour reminder (the 24-hour one is superseded)
    api(client, f"/appointments/{booked['id']}/cancel{token}", language="en")
    run_worker_in_english()

    expected = EXPECTED[language]
    for kind in (
        Message.Kind.VISIT_BOOKED,
        Message.Kind.VISIT_CHANGED,
        Message.Kind.REMINDER,
        Message.Kind.VISIT_CANCELLED,
    ):
        email = sent(smtp, kind)
        subject, phrases = expected[kind]
        assert subject_of(email) == subject
        assert email["Content-Language"] == language
        for body in bodies(email):
            for phrase in [*phrases, *expected["every"]]:
                assert phrase in body, (kind, phrase, body)
        assert f'<html lang="{language}">' in email.get_body(("html",)).get_content()
    summary, line = expected["calendar"]
    event = event_of(calendar_of(sent(smtp, Message.Kind.VISIT_BOOKED)))
    assert str(event["SUMMARY"]) == summary
    assert line in str(event["DESCRIPTION"])


def test_the_price_is_written_the_way_the_customers_language_writes_it(client, salon, smtp):
    api(
        client,
        "/appointments",
        {
            "service": salon.haircut.pk,
            "stylist": salon.ben.pk,
            "start": salon.local(MONDAY, 14, 30).isoformat(),
            "customer": {"name": "Alex Doe", "email": "alex@example.com"},
        },
        language="fr",
    )

    run_worker_in_english()

    (email,) = smtp.received
    for body in bodies(email):
        assert "50,00" in body and "$US" in body and "$50.00" not in body


def test_the_waitlist_emails_are_written_in_the_language_the_customer_joined_in(client, salon, smtp):
    only_ten_o_clock(salon, MONDAY)
    with translation.override("en"):
        booked = services.appointment_book(
            service_id=salon.haircut.pk,
            stylist_id=salon.ana.pk,
            start=salon.local(MONDAY, 10),
            customer_name="First",
            customer_email="first@example.com",
        )
    api(client, "/waitlist", waitlist_body(salon, MONDAY), language="fr-CA,fr;q=0.9")

    # Freed in English, offered by the worker in English: the offer is French.
    with translation.override("en"):
        services.appointment_cancel(appointment_id=booked.pk)
    run_worker_in_english()
    run_worker_in_english()

    joined, offer = sent(smtp, Message.Kind.WAITLIST_JOINED), sent(smtp, Message.Kind.WAITLIST_OFFER)
    assert subject_of(joined) == (
        "Vous êtes sur la liste d'attente de Demo Salon pour le lundi 7 décembre 2026"
    )
    assert subject_of(offer) == (
        "Un créneau chez Demo Salon le lundi 7 décembre 2026 à 10:00 PST vous est réservé"
    )
    for body in bodies(joined):
        assert "Vous êtes sur la liste d'attente de Demo Salon pour" in body
        assert "pendant 30 minutes" in body
        assert "Quitter la liste d'attente" in body
    for body in bodies(offer):
        assert "Haircut avec Ana" in body
        assert "10:00 \u2013 11:00 PST" in body
        assert "Il vous est réservé jusqu'au jeudi 3 décembre 2026 à " in body  # 30 minutes from now
        assert "Le réserver en une étape" in body
    # The first customer booked in English: their own e-mails are in English.
    cancelled = sent(smtp, Message.Kind.VISIT_CANCELLED)
    assert subject_of(cancelled) == "Your appointment at Demo Salon on Monday, December 7, 2026 is cancelled"


def test_a_visit_without_a_language_of_its_own_is_written_in_english(salon, smtp):
    # A visit with the column's default (as the previous release's rows have it),
    # and a row from before visits existed, which has no visit to ask.
    appointment = AppointmentFactory(
        service=salon.haircut, stylist=salon.ana, customer_email="old@example.com"
    )
    assert Visit.objects.get(pk=appointment.visit_id).language == "en"
    legacy = AppointmentFactory(
        service=salon.haircut,
        stylist=salon.ben,
        customer_email="older@example.com",
        visit=None,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
    )
    # Owed and sent with French active: neither the service's nor the worker's language counts.
    with translation.override("fr"):
        outbox.visit_booked([appointment])
        outbox.visit_booked([legacy])
        run_worker()

    subjects = sorted(subject_of(e) for e in smtp.received)
    assert len(subjects) == 2 and all(s.startswith("Your appointment at Demo Salon on ") for s in subjects)
