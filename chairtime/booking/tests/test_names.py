"""Names in any script: the booking page's form and the API take what people are
called (Persian with a zero-width non-joiner, emoji sequences joined by ZWJ,
combining marks, right-to-left scripts) and refuse only what can do harm: control
characters, line and paragraph separators, the bidirectional overrides that
would make a name read as something else on the staff's pages, lone surrogates,
and names with nothing visible in them."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from chairtime.booking.forms import ContactForm
from chairtime.booking.models import Appointment

ACCEPTED = [
    "علی‌رضا",  # Alireza: U+200C ZERO WIDTH NON-JOINER between its halves
    "Ana 💇‍♀️",  # woman getting a haircut: U+1F487 U+200D U+2640 U+FE0F
    "👨‍👩‍👧 Family",  # a ZWJ sequence of three people
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Iain",  # Scotland's flag: tag characters (format, Cf)
    "José Ñúñez",
    "Zoë Ma\u0301rquez",  # a combining acute accent
    "李小龍",
    "Ελένη",
    "Дарья",
    "दीपिका",
    "שירה",
    "O'Brien-Smith, Jr.",
]
REFUSED = [
    "Alex\x00Doe",  # NUL: PostgreSQL refuses it in text
    "Alex\tDoe",
    "Alex\nDoe",
    "Alex\x1b[31mDoe",  # a terminal escape
    "Alex\x85Doe",  # NEXT LINE (C1)
    "Alex\u2028Doe",  # LINE SEPARATOR
    "Alex\u2029Doe",  # PARAGRAPH SEPARATOR
    "Alex \u202eeoD",  # RIGHT-TO-LEFT OVERRIDE: would show as "Alex Doe"
    "Alex \u2066Doe\u2069",  # an isolate
    "\u200c\u200d",  # nothing visible
    "   ",
]


def contact(name: str) -> dict:
    return {"name": name, "email": "zoe@example.com", "phone": ""}


@pytest.mark.parametrize("name", ACCEPTED)
def test_the_booking_form_accepts_a_name_in_any_script(name):
    form = ContactForm(data=contact(name))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["name"] == name.strip()


@pytest.mark.parametrize("name", REFUSED)
def test_the_booking_form_refuses_control_characters_and_invisible_names(name):
    form = ContactForm(data=contact(name))
    assert not form.is_valid()
    assert form.errors["name"]


@pytest.fixture
def details_url(demo) -> str:
    day = demo.next_working_day(min_days_ahead=3)
    return f"/book/{demo.haircut.pk}/any/{day.isoformat()}/11:00/"


@pytest.mark.parametrize("name", ["علی‌رضا", "Ana 💇‍♀️"])
def test_the_booking_page_books_them(client: Client, demo, details_url, name):
    page = client.get(details_url)
    nonce = page.context["nonce"]

    response = client.post(details_url, {**contact(name), "nonce": nonce})

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Appointment.objects.get().customer_name == name


def test_the_booking_page_refuses_an_override_with_a_sentence(client: Client, demo, details_url):
    nonce = client.get(details_url).context["nonce"]

    response = client.post(details_url, {**contact("Alex \u202eeoD"), "nonce": nonce})

    assert response.status_code == 400
    assert "Please use letters, spaces and punctuation only." in response.content.decode()
    assert not Appointment.objects.exists()


def api_booking(demo, name: str, email: str = "alex@example.com") -> dict:
    day = demo.next_working_day(min_days_ahead=3)
    return {
        "service": demo.haircut.pk,
        "stylist": demo.ana.pk,
        "start": demo.local(day, 11).isoformat(),
        "customer": {"name": name, "email": email},
    }


@pytest.mark.parametrize("name", ACCEPTED)
def test_the_api_books_a_name_in_any_script(client: Client, demo, name):
    response = client.post("/api/v1/appointments", json.dumps(api_booking(demo, name)), "application/json")

    assert response.status_code == 201, response.content
    assert Appointment.objects.get().customer_name == name.strip()


@pytest.mark.parametrize("name", [*REFUSED, "Alex \ud800 Doe"])  # and a lone surrogate
def test_the_api_refuses_control_characters_with_a_sentence(client: Client, demo, name):
    body = json.dumps(api_booking(demo, name))  # ASCII with \\u escapes, as JSON allows

    response = client.post("/api/v1/appointments", body, "application/json")

    assert response.status_code in (400, 422), response.content
    assert "customer.name" in response.content.decode()
    assert not Appointment.objects.exists()
    assert timezone.now()  # the request answered; nothing was booked
