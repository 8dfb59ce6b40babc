"""The client pages in French and Spanish: the staff's own language, chosen by the
browser's Accept-Language (French here) or the language switch's cookie (Spanish),
with the days as that language writes them; the data export's keys stay English."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings

from chairtime.clients.models import ColourFormula
from chairtime.clients.tests.conftest import CREATED, make_card, staff_user, visit_of
from chairtime.formats import DASH
from chairtime.frontdesk.models import Role

NBSP = "\u00a0"
FUTURE = datetime(2027, 3, 15, 17, tzinfo=UTC)  # Monday, 10:00 in Los Angeles
PAST = datetime(2026, 2, 2, 18, tzinfo=UTC)  # Monday, 10:00 in Los Angeles


def speak(client, language: str):
    """French through the browser's header, Spanish through the switch's cookie: both
    ways a page learns its language."""
    if language == "es":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
        return {}
    return {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9,en;q=0.5"}


def assert_no_english(page: str, *sentences: str) -> None:
    """None of ``sentences`` in the page's text, as whole words: not inside a tag's
    attributes, where a random CSRF token holds "AM" about once in 30 pages."""
    shown = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    for sentence in sentences:
        found = re.search(rf"(?<!\w){re.escape(sentence)}(?!\w)", shown)
        assert found is None, f"{sentence!r} is still in English"


@pytest.mark.parametrize(
    ("language", "label", "caption", "button"),
    [
        ("fr", "Nom, e-mail ou téléphone", f"1 client correspondant à «{NBSP}Alex{NBSP}»", "Rechercher"),
        ("es", "Nombre, correo electrónico o teléfono", "1 cliente coincide con «Alex»", "Buscar"),
    ],
)
def test_it_searches_in_the_staffs_language(client, demo, desk, language, label, caption, button):
    make_card(demo)
    client.force_login(desk)

    response = client.get("/staff/clients/", {"q": "Alex"}, **speak(client, language))

    page = response.content.decode()
    assert f'<html lang="{language}">' in page
    assert label in page and caption in page and f">{button}</button>" in page
    assert_no_english(page, "Name, e-mail or phone", "matching", ">Search</button>", "Show all")


@pytest.mark.parametrize(
    ("language", "empty"),
    [
        ("fr", f"Aucun nom, e-mail ou téléphone de client ne contient «{NBSP}Zed{NBSP}»."),
        ("es", "Ningún nombre, correo electrónico ni teléfono de cliente contiene «Zed»."),
    ],
)
def test_a_search_that_finds_nobody_says_so_in_the_staffs_language(client, demo, desk, language, empty):
    make_card(demo)
    client.force_login(desk)
    page = client.get("/staff/clients/", {"q": "Zed"}, **speak(client, language)).content.decode()
    assert empty in page
    assert_no_english(page, "contains")


@pytest.mark.parametrize(
    ("language", "visit", "since", "formula_day", "words"),
    [
        (
            "fr",
            f"lundi 15 mars 2027, 10:00 {DASH} 11:00{NBSP}: Haircut",
            "lundi 5 janvier 2026",
            "lundi 2 février 2026",
            [
                "Client depuis",
                "Pas encore enregistrées",
                "Formules de coloration",
                "Enregistrer les notes",
                "À venir",
            ],
        ),
        (
            "es",
            f"lunes 15 de marzo de 2027, 10:00 {DASH} 11:00: Haircut",
            "lunes 5 de enero de 2026",
            "lunes 2 de febrero de 2026",
            ["Cliente desde", "Todavía sin registrar", "Fórmulas de color", "Guardar las notas", "Próximas"],
        ),
    ],
)
def test_the_card_speaks_the_staffs_language_and_writes_days_its_way(
    client, demo, desk, language, visit, since, formula_day, words
):
    card = make_card(demo)
    visit_of(card, demo, FUTURE)
    ColourFormula.objects.create(
        client=card, date=date(2026, 2, 2), text="6.1", staff=desk, created_at=CREATED
    )
    client.force_login(desk)

    page = client.get(f"/staff/clients/{card.pk}/", **speak(client, language)).content.decode()

    assert visit in page  # the salon's wall time, in the 24-hour clock
    assert since in page and formula_day in page
    for word in words:
        assert word in page
    assert_no_english(
        page,
        "Client since",
        "Not recorded yet",
        "Colour formulas",
        "Save notes",
        "Add formula",
        "Coming up",
        "Visit (optional)",
        "For staff only",
        "Download their data",
        "Monday",
        "March",
        "AM",
    )


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("fr", "La date doit être comprise entre le samedi 1 janvier 2000 et le mardi 31 décembre 2999."),
        ("es", "La fecha debe estar entre el sábado 1 de enero de 2000 y el martes 31 de diciembre de 2999."),
    ],
)
def test_a_refused_formula_says_why_in_the_staffs_language(client, demo, desk, language, sentence):
    card = make_card(demo)
    client.force_login(desk)
    response = client.post(
        f"/staff/clients/{card.pk}/formulas/",
        {"date": "1700-01-01", "text": "6.1"},
        **speak(client, language),
    )
    assert response.status_code == 400
    assert sentence in response.content.decode()
    assert_no_english(response.content.decode(), "The date must be between")


@pytest.mark.parametrize(
    ("language", "heading", "kept", "keep"),
    [
        (
            "fr",
            f"<h1>Effacer Alex Doe{NBSP}?</h1>",
            f"Ses 2 rendez-vous sont conservés pour les archives du salon, au nom de «{NBSP}Erased client",
            "Garder le client",
        ),
        (
            "es",
            "<h1>¿Suprimir a Alex Doe?</h1>",
            "Sus 2 citas se conservan para los registros del salón, como «Erased client»",
            "Conservar al cliente",
        ),
    ],
)
def test_the_erase_confirmation_speaks_the_managers_language(
    client, demo, manager, language, heading, kept, keep
):
    card = make_card(demo)
    visit_of(card, demo, PAST)
    visit_of(card, demo, PAST + timedelta(days=7))
    client.force_login(manager)

    page = client.get(f"/staff/clients/{card.pk}/erase/", **speak(client, language)).content.decode()

    assert heading in page and kept in page and keep in page
    assert_no_english(page, "Erase Alex Doe?", "cannot be undone", "appointments are kept", "Keep the client")


@pytest.mark.parametrize(
    ("language", "refusal"),
    [
        ("fr", f"Ce client a encore un rendez-vous à venir{NBSP}: annulez-le d'abord"),
        ("es", "Este cliente tiene todavía una cita pendiente: cancélela primero"),
    ],
)
def test_a_refused_erasure_says_why_in_the_managers_language(client, demo, manager, language, refusal):
    card = make_card(demo)
    visit_of(card, demo, FUTURE)
    client.force_login(manager)

    response = client.post(f"/staff/clients/{card.pk}/erase/", **speak(client, language))

    assert response.status_code == 409
    page = response.content.decode().replace("&#x27;", "'")
    assert refusal in page
    assert_no_english(page, "still to come")


@pytest.mark.parametrize(
    ("language", "done", "heading"),
    [
        ("fr", "Le client a été effacé.", f"Client effacé n°{NBSP}"),
        ("es", "El cliente fue suprimido.", "Cliente suprimido n.º "),
    ],
)
def test_an_erased_card_says_so_in_the_managers_language(client, demo, manager, language, done, heading):
    card = make_card(demo)
    visit_of(card, demo, PAST)
    client.force_login(manager)

    response = client.post(f"/staff/clients/{card.pk}/erase/", follow=True, **speak(client, language))

    page = response.content.decode()
    assert done in page
    assert f"<h1>{heading}{card.pk}</h1>" in page
    assert_no_english(page, "The client was erased", "Erased client ", "Erased on")


def test_the_data_export_keeps_its_keys_and_codes_in_english(client, demo, desk):
    card = make_card(demo)
    visit_of(card, demo, FUTURE)
    client.force_login(desk)

    data = json.loads(client.get(f"/staff/clients/{card.pk}/export/", HTTP_ACCEPT_LANGUAGE="fr").content)

    assert set(data) == {"salon", "client", "colour_formulas", "appointments", "messages"}
    assert data["appointments"][0]["status"] == "confirmed"
    assert data["appointments"][0]["starts_at"] == "2027-03-15T17:00:00+00:00"


@pytest.mark.parametrize(
    ("language", "refusal"),
    [
        ("fr", f"Ce client n'a aucun rendez-vous avec vous{NBSP}: un styliste ne voit que les fiches"),
        ("es", "Este cliente no tiene ninguna cita con usted: un estilista solo ve las fichas"),
    ],
)
def test_a_stylist_is_told_why_a_card_is_closed_in_their_language(client, demo, language, refusal):
    card = make_card(demo)
    visit_of(card, demo, PAST, stylist=demo.ben)
    client.force_login(staff_user("ana", Role.STYLIST, stylist=demo.ana))

    response = client.get(f"/staff/clients/{card.pk}/", **speak(client, language))

    assert response.status_code == 403
    page = response.content.decode().replace("&#x27;", "'")
    assert refusal in page
    assert "has no visit with you" not in page
