"""The calendar script's words and clock come in the page's language
(/desk/jsi18n/, Django's JavaScriptCatalog over the desk's djangojs catalog)."""

from __future__ import annotations

import pytest
from django.conf import settings


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "words", "time_format"),
    [
        ("en", "Moving %(label)s to %(where)s", '"TIME_FORMAT": "g:i A"'),
        ("fr", "D\\u00e9placement de %(label)s vers %(where)s", '"TIME_FORMAT": "H:i"'),
        ("es", "Moviendo %(label)s a %(where)s", '"TIME_FORMAT": "H:i"'),
    ],
)
def test_the_script_catalog_speaks_the_pages_language_and_its_clock(client, language, words, time_format):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get("/desk/jsi18n/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    body = response.text
    assert time_format in body
    if language == "en":
        assert "Moving" not in body  # English is the source: no catalog entries
    else:
        assert words in body or words.encode().decode("unicode_escape") in body
    assert "private" in response["Cache-Control"] and "max-age=3600" in response["Cache-Control"]


def test_the_calendar_loads_the_catalog_before_its_script():
    template = (settings.BASE_DIR / "chairtime/frontdesk/templates/frontdesk/calendar.html").read_text()
    assert template.index("{% url 'frontdesk:jsi18n' %}") < template.index("frontdesk/calendar.js")
