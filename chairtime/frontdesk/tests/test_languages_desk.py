"""The front desk in French and Spanish (docs/languages.md): each staff member's
language (the switch's cookie, or the browser's Accept-Language) gives the desk's
headings, buttons, statuses, days and times in that language, and none of the
English words they replace; the calendar costs the same queries in every language."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from chairtime.booking.tests.factories import AppointmentFactory
from chairtime.formats import DASH
from chairtime.frontdesk import services as desk_services
from chairtime.frontdesk.tests.conftest import DAY, NOW, logged_in
from chairtime.frontdesk.tests.test_calendar import count_queries

TODAY = date(2027, 3, 1)  # NOW's day: a Monday


@pytest.fixture(autouse=True)
def default_language_afterwards():
    """LocaleMiddleware leaves the last request's language active in the thread:
    the next test on this worker gets the default back."""
    yield
    translation.deactivate()


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def speak(client: Client, language: str) -> Client:
    """The member's choice at the language switch: the cookie it sets."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def english_words_in(page: str, words: list[str]) -> list[str]:
    return [w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", page)]


def afternoon_haircut(demo, user):
    """Kim's haircut with Ana at 14:30 on DAY, booked at the desk by ``user``."""
    appointment = AppointmentFactory(
        service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 14, 30), customer_name="Kim"
    )
    desk_services.record_booked([appointment], user=user, now=NOW)
    return appointment


# What each page says, per language: (French, Spanish), then the English it replaces.
PAGES = {
    "home": (
        [
            "lundi 1 mars 2027",
            "Rendez-vous du jour",
            "Calendrier du jour",
            "Prestation",
            f"17:00 {DASH} 18:00",
        ],
        ["lunes 1 de marzo de 2027", "Citas de hoy", "Calendario de hoy", "Servicio", f"17:00 {DASH} 18:00"],
        ["Today's appointments", "Today's calendar", "This week", "Service", "Time", "Sign out", "PM"],
    ),
    "day": (
        [
            "mardi 2 mars 2027",
            "mardi 2 mars",
            "Jour précédent",
            "Jour suivant",
            "Vue semaine",
            "Temps de pose : styliste libre",
            f"Haircut · Kim 14:30 {DASH} 15:30 · Réservé",
            "Réserver avec Ana à 09:00",
            "1 rendez-vous",
        ],
        [
            "martes 2 de marzo de 2027",
            "martes 2 de marzo",
            "Día anterior",
            "Día siguiente",
            "Vista semanal",
            "Tiempo de exposición: estilista libre",
            f"Haircut · Kim 14:30 {DASH} 15:30 · Reservada",
            "Reservar con Ana a las 09:00",
            "1 cita",
        ],
        [
            "Previous day",
            "Next day",
            "Week view",
            "Legend",
            "Booked",
            "Book Ana at",
            "appointment",
            "AM",
            "PM",
        ],
    ),
    "week": (
        ["Semaine du lundi 1 mars 2027", "lundi 1 mars", "dimanche 7 mars", "Semaine précédente", "Vue jour"],
        ["Semana del lunes 1 de marzo de 2027", "lunes 1 de marzo", "domingo 7 de marzo", "Semana anterior"],
        ["Week of", "Monday", "March", "Previous week", "Next week", "Day view", "Everyone", "Show"],
    ),
    "book": (
        [
            "Réserver pour un client sur place ou au téléphone",
            "Trouver un client (nom, e-mail ou téléphone)",
            "Prestations",
            "Heure de début",
            "Nom du client",
            "Réserver",
        ],
        [
            "Reservar para un cliente en el salón o por teléfono",
            "Buscar un cliente (nombre, correo o teléfono)",
            "Servicios",
            "Hora de inicio",
            "Nombre del cliente",
            "Reservar",
        ],
        [
            "Book a walk-in or phone customer",
            "Find a client",
            "Services",
            "Start time",
            "Customer's name",
            "Book",
        ],
    ),
    "appointment": (
        [
            "Retour au mardi 2 mars 2027",
            f"mardi 2 mars 2027, 14:30 {DASH} 15:30 PST",
            "Statut Réservé",
            "Déplacer à une autre heure ou vers un autre styliste",
            "Arrivé",
            "Annuler : à la demande du client",
            "Historique",
            "Réservé à l'accueil (par fred)",
        ],
        [
            "Volver al martes 2 de marzo de 2027",
            f"martes 2 de marzo de 2027, 14:30 {DASH} 15:30 PST",
            "Estado Reservada",
            "Mover a otra hora o a otro estilista",
            "Ha llegado",
            "Cancelar: lo pidió el cliente",
            "Histórico",
            "Reservada en recepción (por fred)",
        ],
        [
            "Back to",
            "When",
            "Status",
            "Booked",
            "Arrived",
            "No-show",
            "Cancel",
            "History",
            "Booked at the desk",
        ],
    ),
    "move": (
        [
            "Déplacer la visite de Kim",
            f"Actuellement : mardi 2 mars 2027, 14:30 {DASH} 15:30 PST : Haircut avec Ana.",
            "Nouvelle date",
            "Nouvelle heure de début",
            "Garder le styliste de chaque prestation",
            "Ne rien changer",
        ],
        [
            "Mover la visita de Kim",
            f"Ahora: martes 2 de marzo de 2027, 14:30 {DASH} 15:30 PST: Haircut con Ana.",
            "Nueva fecha",
            "Nueva hora de inicio",
            "Mantener el estilista de cada servicio",
            "Dejarla como está",
        ],
        ["Move", "Now:", "New date", "New start time", "Keep each service's stylist", "Keep it where it is"],
    ),
}

# Words that are only in attributes, for screen readers.
ATTRIBUTES = {
    "day": {
        "fr": ["Choisissez un jour", "Légende", "Grille du calendrier"],
        "es": ["Elija un día", "Leyenda"],
    },
    "book": {"fr": ["Trouver un client"], "es": ["Buscar un cliente"]},
}


def page_url(name: str, appointment) -> str:
    return {
        "home": reverse("frontdesk:home"),
        "day": f"{reverse('frontdesk:day')}?date={DAY}",
        "week": f"{reverse('frontdesk:week')}?date={DAY}&stylist=all",
        "book": f"{reverse('frontdesk:book')}?stylist={appointment.stylist_id}&start={DAY}T14:30",
        "appointment": reverse("frontdesk:appointment", args=[appointment.pk]),
        "move": reverse("frontdesk:move", args=[appointment.pk]),
    }[name]


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("language", ["fr", "es"])
def test_each_desk_page_speaks_the_members_language(desk, demo, name, language):
    appointment = afternoon_haircut(demo, desk.users["front"])
    AppointmentFactory(
        service=demo.haircut, stylist=demo.ben, starts_at=demo.local(TODAY, 17), customer_name="Lee"
    )
    french, spanish, english = PAGES[name]
    response = speak(desk.front, language).get(page_url(name, appointment))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'<html lang="{language}">' in body
    for label in ATTRIBUTES.get(name, {}).get(language, ()):
        assert f'aria-label="{label}"' in body
    page = text(response)
    missing = [said for said in (french if language == "fr" else spanish) if said not in page]
    assert not missing, page
    assert english_words_in(page, english) == [], page


def test_the_same_pages_stay_english_without_a_choice(desk, demo):
    """The words the other tests look for are the translations, not the page's
    English (which the desk's own tests keep checking)."""
    appointment = afternoon_haircut(demo, desk.users["front"])
    page = text(desk.front.get(page_url("appointment", appointment)))
    assert "Status Booked" in page and "Booked at the desk by fred" in page
    assert f"Tuesday, March 2, 2027, 2:30 PM {DASH} 3:30 PM PST" in page


@pytest.mark.parametrize(("name", "language"), [("book", "fr"), ("move", "fr"), ("book", "es")])
def test_the_date_pickers_keep_iso_dates_in_every_language(desk, demo, name, language):
    """<input type="date"> takes only 2027-03-02: the language's 02/03/2027 would
    leave the picker empty."""
    appointment = afternoon_haircut(demo, desk.users["front"])
    body = speak(desk.front, language).get(page_url(name, appointment)).content.decode()
    assert re.search(r'<input type="date" name="date" value="2027-03-02"', body), body
    assert 'value="14:30"' in body


@pytest.mark.parametrize(
    ("language", "title", "labels", "english"),
    [
        ("fr", "Connexion à l'accueil", ["Nom d'utilisateur", "Mot de passe", "Se connecter"], "Sign in"),
        ("es", "Iniciar sesión en la recepción", ["Nombre de usuario", "Contraseña"], "Password"),
    ],
)
def test_the_sign_in_page_follows_the_browsers_language(db, language, title, labels, english):
    response = Client().get(
        reverse("frontdesk:login"), HTTP_ACCEPT_LANGUAGE=f"{language}-CA,{language};q=0.9"
    )
    page = text(response)
    assert response.status_code == 200
    assert title in page and all(label in page for label in labels)
    assert english not in page


@pytest.mark.parametrize(
    ("language", "refusal", "marked"),
    [
        (
            "fr",
            "Ce rendez-vous n'a pas encore commencé : il ne peut pas être marqué « absent ».",
            "Marqué comme arrivé.",
        ),
        (
            "es",
            "Esta cita todavía no ha empezado, así que no se puede marcar como «no se presentó».",
            "Marcada como «ha llegado».",
        ),
    ],
)
def test_the_desks_answers_to_a_button_are_in_the_members_language(desk, demo, language, refusal, marked):
    appointment = afternoon_haircut(demo, desk.users["front"])
    url = reverse("frontdesk:status", args=[appointment.pk])
    client = speak(desk.front, language)
    refused = client.post(url, {"action": "no_show"})
    assert refused.status_code == 409
    assert refusal in text(refused)
    done = client.post(url, {"action": "arrived"}, follow=True)
    assert marked in text(done)


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("fr", "Un compte de styliste n'a pas accès à cette page."),
        ("es", "Una cuenta de estilista no tiene acceso a esta página."),
    ],
)
def test_a_refusal_says_why_in_the_members_language(desk, demo, language, sentence):
    # The reports are the manager's (a stylist now books into their own column).
    response = speak(desk.ana, language).get(reverse("reports:report"))
    assert response.status_code == 403
    assert sentence in text(response)


def test_the_calendar_costs_no_more_queries_in_french(desk, demo):
    afternoon_haircut(demo, desk.users["front"])
    url = f"{reverse('frontdesk:day')}?date={DAY}"
    english = count_queries(desk.front, url)
    french = count_queries(speak(logged_in(desk.users["front"]), "fr"), url)
    assert french == english == 9
