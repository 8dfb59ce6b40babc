"""The announcements' back office in French and Spanish (docs/languages.md): the
list, the form's labels and refusals, and the message once saved follow the
staff member's language; the announcements' own text is never translated."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone, translation

from chairtime.announcements.store import Announcement
from chairtime.booking.models import Salon

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/announcements/"
ADD_URL = "/admin/announcements/add/"


@pytest.fixture(autouse=True)
def default_language_afterwards():
    """LocaleMiddleware leaves the last request's language active in the thread:
    the next test on this worker gets the default back."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def paris_salon() -> Salon:
    salon = Salon.load()
    salon.time_zone = "Europe/Paris"
    salon.save()
    return salon


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def speak(client, language: str):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


@pytest.mark.parametrize(
    ("language", "said", "english"),
    [
        (
            "fr",
            [
                "Ajouter une annonce",
                "Visible maintenant",
                "Programmée",
                "Début d'affichage",
                "Les heures sont dans le fuseau horaire du salon, Europe/Paris.",
                "2 annonces",
            ],
            ["Add announcement", "Visible now", "Scheduled", "Shows from", "Times are in", "announcements"],
        ),
        (
            "es",
            ["Añadir un aviso", "Visible ahora", "Programado", "Visible desde", "2 avisos"],
            ["Add announcement", "Visible now", "Scheduled", "Shows from", "Times are in", "announcements"],
        ),
    ],
)
def test_the_list_speaks_the_members_language(
    admin_client, announcement_store, paris_salon, language, said, english
):
    announcement_store.put(Announcement.new(text="Closed on Monday", now=timezone.now()))
    announcement_store.put(
        Announcement.new(
            text="Summer hours", starts_at=datetime(2099, 7, 1, 7, 0, tzinfo=UTC), now=timezone.now()
        )
    )
    response = speak(admin_client, language).get(LIST_URL)
    page = text(response)
    assert response.status_code == 200
    assert [s for s in said if s not in page] == [], page
    assert [e for e in english if e in page] == [], page
    assert "Closed on Monday" in page  # the salon's own words, as written


@pytest.mark.parametrize(
    ("language", "label", "refusal", "saved"),
    [
        (
            "fr",
            "Fin d'affichage (heure de Europe/Paris)",
            "Cette heure est déjà passée : l'annonce ne s'afficherait jamais.",
            "L'annonce a été ajoutée. "
            "Toutes les pages publiques affichent la modification d'ici 30 secondes.",
        ),
        (
            "es",
            "Mostrar hasta (hora de Europe/Paris)",
            "Esa hora ya ha pasado, así que el aviso no se mostraría nunca.",
            "El aviso se ha añadido. "
            "Todas las páginas públicas muestran el cambio en 30 segundos como máximo.",
        ),
    ],
)
def test_the_form_refuses_and_confirms_in_the_members_language(
    admin_client, announcement_store, paris_salon, language, label, refusal, saved
):
    client = speak(admin_client, language)
    past = (timezone.now() - timedelta(days=1)).astimezone(paris_salon.tz)
    refused = client.post(ADD_URL, {"text": "Closed", "starts_at": "", "ends_at": f"{past:%Y-%m-%dT%H:%M}"})
    assert refused.status_code == 200
    assert label in text(refused) and refusal in text(refused)

    assert client.post(ADD_URL, {"text": "Closed", "starts_at": "", "ends_at": ""}).status_code == 302
    assert [str(m) for m in client.get(LIST_URL).context["messages"]] == [saved]
