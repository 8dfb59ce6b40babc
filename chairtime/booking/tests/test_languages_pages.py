"""The customer pages in French and Spanish: the whole booking flow (services,
stylist, day, time, details, the private page, changing, cancelling, the
waitlist) with the browser asking for the language, its days, times and prices
written the language's way, a refusal of the time in the reader's language on the
page and in the API, and no English left on the key pages.

The clock is frozen on Thursday 2026-12-03 in Los Angeles (the demo salon's zone);
the visit is on Monday 2026-12-07 at 14:30 with Ben.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import OperationalError
from django.urls import reverse
from django.utils import translation

from chairtime.booking import tokens
from chairtime.booking.availability import Refusal
from chairtime.booking.errors import REFUSAL_MESSAGES, BookingError
from chairtime.booking.models import Appointment, WaitlistEntry
from chairtime.booking.tests.factories import AppointmentFactory, TimeOffFactory
from chairtime.ops.errors import server_error
from chairtime.ops.security import too_many_requests

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 12, 3, 10, 10, tzinfo=LA)  # a Thursday
MONDAY = date(2026, 12, 7)
TUESDAY = date(2026, 12, 8)
CONTACT = {"name": "Zoé Park", "email": "zoe@example.com", "phone": "+33 1 23 45 67 89", "nonce": ""}

# What each language must show on the way (NBSP: French puts a no-break space
# before a colon or a question mark; prices use one between amount and currency).
WORDS = {
    "fr": {
        "home": ["Prendre rendez-vous chez Demo Salon", "Choisissez une prestation", "50,00\xa0$US"],
        "stylist": ["Choisissez un styliste", "N'importe quel styliste", "50,00\xa0$US"],
        "day": [
            "Choisissez un jour",
            "décembre 2026",
            "lundi 7 décembre\xa0: 14 créneaux libres",
            "Premiers créneaux",
        ],
        "time": ["Choisissez une heure", "lundi 7 décembre", "Après-midi", "14:30", "Les horaires sont"],
        "details": [
            "Vos coordonnées",
            "Votre nom",
            "Adresse e-mail",
            "Réserver le rendez-vous",
            "14:30 \u2013 15:30 PST",
        ],
        "booked": [
            "C'est réservé",
            "Votre rendez-vous",
            "lundi 7 décembre 2026",
            "14:30 \u2013 15:30 PST",
            "50,00\xa0$US",
        ],
        "manage": ["Confirmé", "Votre lien personnel", "Changer l'horaire…", "Annuler le rendez-vous…"],
        "change": ["Changer l'horaire de votre rendez-vous", "Créneaux libres le lundi 7 décembre", "16:00"],
        "confirm": [
            "Déplacer votre rendez-vous\xa0?",
            "Nouvel horaire",
            "lundi 7 décembre, 16:00 \u2013 17:00 PST",
        ],
        "cancel": ["Annuler votre rendez-vous\xa0?", "Oui, annuler le rendez-vous", "Non, le garder"],
        "cancelled": ["Votre rendez-vous est annulé.", "Rendez-vous annulé", "Réserver à nouveau"],
        "waitlist": ["S'inscrire sur la liste d'attente", "mardi 8 décembre", "Haircut avec Ben."],
        "joined": [
            "Votre place sur la liste d'attente",
            "Vous êtes sur la liste d'attente.",
            "mardi 8 décembre 2026",
        ],
        "taken": "Cet horaire vient d'être réservé. Veuillez choisir un autre horaire.",
    },
    "es": {
        "home": ["Reservar una cita en Demo Salon", "Elija un servicio", "50,00\xa0US$"],
        "stylist": ["Elija un estilista", "Cualquier estilista", "50,00\xa0US$"],
        "day": [
            "Elija un día",
            "diciembre de 2026",
            "lunes 7 de diciembre: 14 horas libres",
            "Primeras horas",
        ],
        "time": ["Elija una hora", "lunes 7 de diciembre", "Tarde", "14:30", "Las horas son"],
        "details": [
            "Sus datos",
            "Su nombre",
            "Correo electrónico",
            "Reservar la cita",
            "14:30 \u2013 15:30 PST",
        ],
        "booked": [
            "¡Reserva hecha!",
            "Su cita",
            "lunes 7 de diciembre de 2026",
            "14:30 \u2013 15:30 PST",
            "50,00\xa0US$",
        ],
        "manage": ["Confirmada", "Su enlace privado", "Cambiar la hora…", "Cancelar la cita…"],
        "change": ["Cambiar la hora de su cita", "Horas libres el lunes 7 de diciembre", "16:00"],
        "confirm": [
            "¿Cambiar su cita de hora?",
            "Nueva hora",
            "lunes 7 de diciembre, 16:00 \u2013 17:00 PST",
        ],
        "cancel": ["¿Cancelar su cita?", "Sí, cancelar la cita", "No, mantenerla"],
        "cancelled": ["Su cita está cancelada.", "Cita cancelada", "Reservar de nuevo"],
        "waitlist": ["Apuntarse a la lista de espera", "martes 8 de diciembre", "Haircut con Ben."],
        "joined": [
            "Su puesto en la lista de espera",
            "Está en la lista de espera.",
            "martes 8 de diciembre de 2026",
        ],
        "taken": "Esa hora acaba de ser reservada. Elija otra hora.",
    },
}

# The English words of the interface, none of which may be left on a French or
# Spanish page (the names of the salon, services and people are not translated).
ENGLISH = [
    "Book",
    "Choose",
    "Your",
    "Service",
    "Stylist",
    "Price",
    "Length",
    "Morning",
    "Afternoon",
    "Evening",
    "Free times",
    "free time",
    "Fully booked",
    "Closed",
    "First available",
    "Any stylist",
    "Skip to main content",
    "Online booking",
    "Change language",
    "Status",
    "Confirmed",
    "Cancel",
    "Need another time",
    "private link",
    "pay at the salon",
    "Add to calendar",
    "Times are",
    "with",
    "Monday",
    "December",
    " AM",
    " PM",
]


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def text(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed
    (a no-break space stays one)."""
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(body)).strip()


def english_left(page: str) -> list[str]:
    # "English" is the switch's own name for the language; the rest must be gone.
    page = page.replace("English", "")
    return [word for word in ENGLISH if re.search(rf"(?<![\w']){re.escape(word)}(?!\w)", page)]


def shows(response, words: list[str]) -> None:
    page = text(response)
    missing = [word for word in words if word not in page]
    assert not missing, (missing, page)


def booking_path(name: str, demo, *more) -> str:
    return reverse(f"booking:{name}", args=[demo.haircut.pk, demo.ben.pk, *more])


@pytest.mark.parametrize("language", ["fr", "es"])
def test_the_whole_booking_flow_speaks_the_browsers_language(client, demo, clock, language):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    words = WORDS[language]

    home = client.get("/")
    assert f'<html lang="{language}">' in home.text
    shows(home, words["home"])
    shows(client.get(reverse("booking:stylist", args=[demo.haircut.pk])), words["stylist"])
    shows(client.get(booking_path("day", demo)), words["day"])
    shows(client.get(booking_path("time", demo, MONDAY.isoformat())), words["time"])
    details = booking_path("details", demo, MONDAY.isoformat(), "14:30")
    shows(client.get(details), words["details"])

    booked = client.post(details, CONTACT, follow=True)
    assert booked.status_code == 200
    shows(booked, words["booked"] + words["manage"])
    token = tokens.make_manage_token(Appointment.objects.get().pk)

    shows(client.get(reverse("booking:change", args=[token])), words["change"])
    confirm = reverse("booking:change_confirm", args=[token, MONDAY.isoformat(), "16:00"])
    shows(client.get(confirm), words["confirm"])
    cancel = reverse("booking:cancel", args=[token])
    shows(client.get(cancel), words["cancel"])
    shows(client.post(cancel, follow=True), words["cancelled"])


@pytest.mark.parametrize("language", ["fr", "es"])
def test_joining_the_waitlist_speaks_the_browsers_language(client, demo, clock, language):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    TimeOffFactory(stylist=demo.ben, start=demo.local(TUESDAY, 8), end=demo.local(TUESDAY, 20))
    join = booking_path("waitlist_join", demo, TUESDAY.isoformat())

    shows(client.get(join), WORDS[language]["waitlist"])
    joined = client.post(join, CONTACT, follow=True)

    assert WaitlistEntry.objects.filter(date=TUESDAY).count() == 1
    shows(joined, WORDS[language]["joined"])


@pytest.mark.parametrize("language", ["fr", "es"])
def test_no_english_is_left_on_the_key_pages(client, demo, clock, language):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    demo.haircut.description = ""
    demo.haircut.save()
    demo.colour.description = ""
    demo.colour.save()
    appointment = AppointmentFactory(
        service=demo.haircut, stylist=demo.ben, starts_at=demo.local(MONDAY, 16), customer_name="Zoé Park"
    )
    token = tokens.make_manage_token(appointment.pk)
    pages = [
        "/",
        reverse("booking:stylist", args=[demo.haircut.pk]),
        booking_path("day", demo),
        booking_path("time", demo, MONDAY.isoformat()),
        booking_path("details", demo, MONDAY.isoformat(), "14:30"),
        reverse("booking:manage", args=[token]),
        reverse("booking:change", args=[token]),
        reverse("booking:cancel", args=[token]),
        "/book/999999/",  # an error page
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        assert english_left(text(response)) == [], url


@pytest.mark.parametrize("language", ["fr", "es"])
def test_a_time_just_taken_is_refused_in_the_readers_language_on_the_page(client, demo, clock, language):
    AppointmentFactory(service=demo.haircut, stylist=demo.ben, starts_at=demo.local(MONDAY, 14, 30))

    response = client.post(
        booking_path("details", demo, MONDAY.isoformat(), "14:30"), CONTACT, HTTP_ACCEPT_LANGUAGE=language
    )

    assert response.status_code == 409
    assert WORDS[language]["taken"] in text(response)
    assert Refusal.TAKEN.value not in text(response)


@pytest.mark.parametrize("language", ["fr", "es"])
def test_a_time_just_taken_is_refused_in_the_readers_language_by_the_api(client, demo, clock, language):
    AppointmentFactory(
        service=demo.haircut,
        stylist=demo.ben,
        starts_at=demo.local(MONDAY, 14, 30),
        customer_email="someone.else@example.com",
    )
    body = {
        "service": demo.haircut.pk,
        "stylist": demo.ben.pk,
        "start": demo.local(MONDAY, 14, 30).isoformat(),
        "customer": {"name": "Alex Doe", "email": "alex@example.com"},
    }

    response = client.post(
        "/api/v1/appointments",
        json.dumps(body),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE=language,
    )

    assert response.status_code == 409
    assert response.json() == {"detail": WORDS[language]["taken"], "code": "taken"}  # the code stays English


def test_a_day_in_the_past_is_refused_in_french(client, demo, clock):
    response = client.get(booking_path("time", demo, "2026-12-01"), HTTP_ACCEPT_LANGUAGE="fr")

    assert response.status_code == 404
    shows(
        response,
        ["Cet horaire est déjà passé.", "Ce jour ne peut pas être réservé", "Choisissez un autre jour"],
    )


def test_without_accept_language_the_pages_stay_english(client, demo, clock):
    AppointmentFactory(service=demo.haircut, stylist=demo.ben, starts_at=demo.local(MONDAY, 14, 30))

    response = client.post(booking_path("details", demo, MONDAY.isoformat(), "14:30"), CONTACT)

    assert response.status_code == 409
    assert Refusal.TAKEN.value in text(response)
    assert "Monday, December 7" in text(response)


def test_every_refusal_has_its_translatable_words_and_they_say_the_same_in_english():
    assert set(REFUSAL_MESSAGES) == set(Refusal)
    with translation.override("en"):
        for refusal in Refusal:
            assert str(REFUSAL_MESSAGES[refusal]) == refusal.value
            assert BookingError(refusal).message == refusal.value
    with translation.override("fr"):
        assert BookingError(Refusal.TAKEN).message == WORDS["fr"]["taken"]
        # A message is read in the language active when it is shown, not when it was raised.
        error = BookingError(Refusal.TAKEN)
    with translation.override("es"):
        assert error.message == WORDS["es"]["taken"]


def test_the_staff_day_sheet_speaks_french(admin_client, demo, clock):
    AppointmentFactory(service=demo.haircut, stylist=demo.ben, starts_at=demo.local(MONDAY, 14, 30))

    response = admin_client.get(
        f"{reverse('booking:staff_day')}?date={MONDAY.isoformat()}", HTTP_ACCEPT_LANGUAGE="fr"
    )

    assert response.status_code == 200
    shows(
        response,
        ["Planning du jour", "lundi 7 décembre 2026", "1 rendez-vous", "14:30 \u2013 15:30", "Jour suivant"],
    )


def test_the_500_and_503_pages_speak_the_readers_language_without_the_database(rf):
    # No `db` fixture: the pages are rendered before (or without) LocaleMiddleware.
    try:
        raise ValueError("a bug")
    except ValueError:
        crashed = server_error(rf.get("/", HTTP_ACCEPT_LANGUAGE="fr"))
    try:
        raise OperationalError("the database is down")
    except OperationalError:
        unavailable = server_error(rf.get("/", HTTP_ACCEPT_LANGUAGE="es"))
        api = server_error(rf.get("/api/v1/services", HTTP_ACCEPT_LANGUAGE="fr"))

    assert '<html lang="fr">' in crashed.text
    assert "Désolés, une erreur s'est produite de notre côté" in text(crashed)
    assert '<html lang="es">' in unavailable.text
    assert "Volvemos en un momento" in text(unavailable)
    assert json.loads(api.content) == {
        "detail": "La réservation en ligne est brièvement indisponible. Veuillez réessayer dans une minute.",
        "code": "unavailable",
    }


def test_the_rate_limit_says_why_in_the_readers_language(rf, demo):
    with translation.override("fr"):
        page = too_many_requests(rf.get("/book/"), 30)
        api = too_many_requests(rf.get("/api/v1/appointments"), 30)

    french = (
        "Trop de requêtes depuis votre réseau en peu de temps. Veuillez patienter une minute et réessayer."
    )
    assert french in text(page)
    assert json.loads(api.content) == {"detail": french, "code": "rate_limited"}
