"""Which language a page speaks, and how each language writes days, times and prices."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import translation

from chairtime.formats import format_day, format_long_day, format_month, format_short_day, format_time

MONDAY = date(2026, 12, 7)
AFTERNOON = datetime(2026, 12, 7, 14, 30, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.mark.parametrize(
    ("language", "time", "day", "long_day", "short_day", "month"),
    [
        ("en", "2:30 PM", "Monday, December 7", "Monday, December 7, 2026", "Mon, Dec 7", "December 2026"),
        ("fr", "14:30", "lundi 7 décembre", "lundi 7 décembre 2026", "lun 7 déc", "décembre 2026"),
        (
            "es",
            "14:30",
            "lunes 7 de diciembre",
            "lunes 7 de diciembre de 2026",
            "lun 7 dic",
            "diciembre de 2026",
        ),
    ],
)
def test_each_language_writes_days_and_times_its_own_way(language, time, day, long_day, short_day, month):
    with translation.override(language):
        assert format_time(AFTERNOON) == time
        assert format_day(MONDAY) == day
        assert format_long_day(MONDAY) == long_day
        assert format_short_day(MONDAY) == short_day
        assert format_month(MONDAY) == month


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.5", "fr"),
        ("es-MX", "es"),
        ("de-DE,de;q=0.9", "en"),
        ("", "en"),
        ("!!;q=x", "en"),
    ],
)
def test_a_first_visit_speaks_the_browsers_language_when_the_salon_has_it(client, accept, expected):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=accept)
    assert response.status_code == 200
    assert f'<html lang="{expected}">' in response.text
    assert response["Content-Language"] == expected
    assert "Accept-Language" in response["Vary"]


@pytest.mark.django_db
def test_the_switch_keeps_the_choice_over_the_browsers_language(client):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="fr")
    assert '<label for="language-switch">Langue</label>' in page.text
    assert '<option value="es" lang="es">Español</option>' in page.text

    response = client.post("/i18n/setlang/", {"language": "es", "next": "/book/"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 302
    assert response["Location"] == "/book/"
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "es"
    assert cookie["httponly"] and cookie["samesite"] == "Lax"

    again = client.get("/", HTTP_ACCEPT_LANGUAGE="fr")
    assert '<html lang="es">' in again.text
    assert "Cambiar de idioma" in again.text


@pytest.mark.django_db
def test_the_switch_refuses_a_language_or_an_address_it_does_not_know(client):
    response = client.post("/i18n/setlang/", {"language": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == "/"  # not the other site
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert '<html lang="en">' in client.get("/").text
