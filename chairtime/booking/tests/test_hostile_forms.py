"""Hostile input against every customer page and form (chairtime/booking/urls.py)
and the staff day sheet: very long strings (10 k and 1 M characters), NUL and
other control bytes, invalid UTF-8, wrong types, unknown ids, past, far-future,
impossible and malformed dates and times, missing CSRF tokens, wrong methods
and bodies too large or with too many fields.

Every answer must be a 4xx page with a sentence a person can act on (or a 200
or redirect where the input is in fact acceptable), never a 500, never a stack
trace, and no appointment may be made or cancelled by a request that was refused.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chairtime.booking import tokens
from chairtime.booking.models import Appointment
from chairtime.booking.tests.factories import AppointmentFactory

LONG = "x" * 10_000
HUGE = "x" * 1_000_000
CONTACT = {"name": "Zoe Park", "email": "zoe@example.com", "phone": "+1 415 555 0100"}


@dataclass
class Salon:
    """The demo salon, plus the days and links the hostile requests are built from."""

    demo: object
    day: date  # a working day with free times
    past: date
    beyond_horizon: date
    token: str  # a live appointment's manage token
    appointment: Appointment

    def details(self, day: object = None, start: str = "11:00", stylist: object = "any") -> str:
        day = day if isinstance(day, str) else (day or self.day).isoformat()
        return f"/book/{self.demo.haircut.pk}/{stylist}/{day}/{start}/"

    def time(self, day: object, stylist: object = "any") -> str:
        day = day if isinstance(day, str) else day.isoformat()
        return f"/book/{self.demo.haircut.pk}/{stylist}/{day}/"


@pytest.fixture
def salon(demo) -> Salon:
    day = demo.next_working_day(min_days_ahead=3)
    today = timezone.now().astimezone(demo.salon.tz).date()
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana, starts_at=demo.local(day, 9))
    return Salon(
        demo=demo,
        day=day,
        past=today - timedelta(days=10),
        beyond_horizon=today + timedelta(days=demo.salon.horizon_days + 30),
        token=tokens.make_manage_token(appointment.pk),
        appointment=appointment,
    )


def visible_text(body: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def message(response) -> str:
    """The sentence the page gives: an error page's lead, or a form's or time list's notice."""
    body = response.content.decode("utf-8", "replace")
    found = re.search(r'<p class="lead">(.*?)</p>', body, re.S) or re.search(
        r'<(div|p) class="notice notice--error" role="alert">(.*?)</\1>', body, re.S
    )
    return visible_text(found.group(found.lastindex)) if found else ""


def assert_answered_kindly(response, allowed: set[int]) -> None:
    status = response.status_code
    assert status != 500
    assert status in allowed, (status, message(response) or response.content[:300])
    body = response.content.decode("utf-8", "replace")
    assert "Traceback" not in body
    if 400 <= status < 500:
        assert response["Content-Type"].startswith("text/html")
        # A sentence, not a bare status: at least a few words.
        assert len(message(response).split()) >= 4, (status, body[:1000])


# --- addresses: every page, every URL parameter -------------------------------------------------

# (id, url builder, statuses that are acceptable)
ADDRESSES = [
    # services and stylists: unknown, wrong type, overflowing, negative, huge, NUL
    ("unknown-service", lambda s: "/book/999999999/", {404}),
    ("service-not-a-number", lambda s: "/book/haircut/", {404}),
    ("service-overflow", lambda s: f"/book/{10**30}/", {404}),
    ("service-negative", lambda s: "/book/-1/", {404}),
    ("service-float", lambda s: "/book/1.0/", {404}),
    ("service-1M", lambda s: f"/book/{'9' * 1_000_000}/", {404}),
    ("service-nul", lambda s: "/book/1%00/", {404}),
    ("unknown-stylist", lambda s: f"/book/{s.demo.haircut.pk}/999999999/", {404}),
    ("stylist-not-offering", lambda s: f"/book/{s.demo.colour.pk}/{s.demo.ben.pk}/", {404}),
    ("stylist-wrong-type", lambda s: f"/book/{s.demo.haircut.pk}/ANY/", {404}),
    ("stylist-10k", lambda s: f"/book/{s.demo.haircut.pk}/{LONG}/", {404}),
    # dates: impossible, malformed, out of range, past, beyond the horizon
    ("date-zero", lambda s: s.time("0000-00-00"), {400}),
    ("date-9999-12-31", lambda s: s.time("9999-12-31"), {400}),
    ("date-feb-30", lambda s: s.time("2027-02-30"), {400}),
    ("date-month-13", lambda s: s.time("2027-13-01"), {400}),
    ("date-year-1", lambda s: s.time("0001-01-01"), {400}),
    ("date-no-dashes", lambda s: s.time("20270315"), {400}),
    ("date-words", lambda s: s.time("next-monday"), {400}),
    ("date-timestamp", lambda s: s.time("1800000000"), {400}),
    ("date-with-time", lambda s: s.time("2027-03-15T10:00"), {400}),
    ("date-nul", lambda s: s.time(f"{s.day.isoformat()}%00"), {400}),
    ("date-invalid-utf8", lambda s: s.time("%FF%FE"), {400}),
    ("date-10k", lambda s: s.time(LONG), {400}),
    ("date-1M", lambda s: s.time(HUGE), {400}),
    ("date-past", lambda s: s.time(s.past), {404}),
    ("date-beyond-horizon", lambda s: s.time(s.beyond_horizon), {404}),
    ("date-year-2999", lambda s: s.time("2999-12-31"), {404}),
    ("date-year-2000", lambda s: s.time("2000-01-01"), {404}),
    # times: malformed, impossible, wrong offsets, on past and far days
    ("time-25h", lambda s: s.details(start="25:00"), {400}),
    ("time-24h", lambda s: s.details(start="24:00"), {400}),
    ("time-seconds", lambda s: s.details(start="10:00:00"), {400}),
    ("time-one-digit", lambda s: s.details(start="9:00"), {400}),
    ("time-am", lambda s: s.details(start="10am"), {400}),
    ("time-negative", lambda s: s.details(start="-1:00"), {400}),
    ("time-z", lambda s: s.details(start="10:00Z"), {400}),
    ("time-offset-out-of-range", lambda s: s.details(start="10:00+99:00"), {400}),
    ("time-foreign-offset", lambda s: s.details(start="10:00+00:00"), {404}),
    ("time-off-grid", lambda s: s.details(start="10:07"), {409}),
    ("time-outside-hours", lambda s: s.details(start="03:00"), {409}),
    ("time-taken", lambda s: s.details(start="09:00", stylist=s.demo.ana.pk), {409}),
    ("time-nul", lambda s: s.details(start="10:00%00"), {400}),
    ("time-10k", lambda s: s.details(start=LONG), {400}),
    ("time-1M", lambda s: s.details(start=HUGE), {400}),
    ("time-on-past-day", lambda s: s.details(day=s.past), {409}),
    ("time-beyond-horizon", lambda s: s.details(day=s.beyond_horizon), {409}),
    ("time-on-9999-12-31", lambda s: s.details(day="9999-12-31"), {400}),
    ("time-on-0000-00-00", lambda s: s.details(day="0000-00-00"), {400}),
    ("time-on-feb-30", lambda s: s.details(day="2027-02-30"), {400}),
    # a visit's further services (?then=<service>-<stylist|any>): malformed, unknown, too many
    ("then-garbage", lambda s: f"{s.time(s.day)}?then=garbage", {400}),
    ("then-no-stylist", lambda s: f"{s.time(s.day)}?then={s.demo.colour.pk}", {400}),
    ("then-negative", lambda s: f"{s.time(s.day)}?then=-1-any", {400}),
    ("then-overflow", lambda s: f"{s.time(s.day)}?then={10**30}-any", {400}),
    ("then-nul", lambda s: f"{s.time(s.day)}?then={s.demo.colour.pk}-any%00", {400}),
    ("then-invalid-utf8", lambda s: f"{s.time(s.day)}?then=%FF%FE", {400}),
    ("then-1M", lambda s: f"{s.time(s.day)}?then={HUGE}", {400}),
    ("then-unknown-service", lambda s: f"{s.time(s.day)}?then=999999999-any", {404}),
    (
        "then-stylist-not-offering",
        lambda s: f"{s.time(s.day)}?then={s.demo.colour.pk}-{s.demo.ben.pk}",
        {404},
    ),
    ("then-unknown-stylist", lambda s: f"{s.time(s.day)}?then={s.demo.colour.pk}-999999999", {404}),
    ("then-five-more", lambda s: s.time(s.day) + "?" + "&".join([f"then={s.demo.colour.pk}-any"] * 5), {400}),
    (
        "then-1000-more",
        lambda s: s.time(s.day) + "?" + "&".join([f"then={s.demo.colour.pk}-any"] * 999),
        {400},
    ),
    (
        "then-four-more-is-fine",
        lambda s: s.time(s.day) + "?" + "&".join([f"then={s.demo.colour.pk}-any"] * 4),
        {200},
    ),
    ("then-on-details", lambda s: f"{s.details()}?then=x", {400}),
    ("add-unknown-service", lambda s: f"/book/{s.demo.haircut.pk}/any/add/999999999/", {404}),
    ("add-service-10k", lambda s: f"/book/{s.demo.haircut.pk}/any/add/{LONG}/", {400}),
    (
        "add-to-five",
        lambda s: f"/book/{s.demo.haircut.pk}/any/add/?" + "&".join([f"then={s.demo.colour.pk}-any"] * 4),
        {400},
    ),
    (
        "add-stylist-to-five",
        lambda s: (
            f"/book/{s.demo.haircut.pk}/any/add/{s.demo.colour.pk}/?"
            + "&".join([f"then={s.demo.colour.pk}-any"] * 4)
        ),
        {400},
    ),
    # the customer's private links
    ("token-garbage", lambda s: "/booking/garbage/", {404}),
    ("token-10k", lambda s: f"/booking/{LONG}/", {404}),
    ("token-1M", lambda s: f"/booking/{HUGE}/", {404}),
    ("token-nul", lambda s: f"/booking/{s.token}%00/", {404}),
    ("token-tampered", lambda s: f"/booking/{s.token[:-2]}xx/", {404}),
    ("token-unknown-id", lambda s: f"/booking/{tokens.make_manage_token(999_999_999)}/", {404}),
    ("token-negative-id", lambda s: f"/booking/{tokens.make_manage_token(-1)}/", {404}),
    ("token-huge-id", lambda s: f"/booking/{tokens.make_manage_token(10**40)}/", {404}),
    ("token-invalid-utf8", lambda s: "/booking/%C3%28/", {404}),
    ("cancel-token-garbage", lambda s: "/booking/garbage/cancel/", {404}),
    ("cancel-token-1M", lambda s: f"/booking/{HUGE}/cancel/", {404}),
    ("calendar-token-garbage", lambda s: "/booking/garbage/appointment.ics", {404}),
    (
        "calendar-token-unknown-id",
        lambda s: f"/booking/{tokens.make_manage_token(10**9)}/appointment.ics",
        {404},
    ),
    # hostile query strings are ignored by the pages that take none
    ("home-with-junk-query", lambda s: f"/?service={LONG}&%00=%FF", {200}),
    ("time-with-junk-query", lambda s: f"{s.time(s.day)}?date=0000-00-00&stylist=-1", {200}),
]


@pytest.mark.parametrize(
    ("make_url", "allowed"), [(u, a) for _, u, a in ADDRESSES], ids=[i for i, _, _ in ADDRESSES]
)
def test_it_answers_a_hostile_address_with_a_sentence_never_a_500(client, salon, make_url, allowed):
    response = client.get(make_url(salon))

    assert_answered_kindly(response, allowed)
    assert Appointment.objects.count() == 1


# --- the booking form ------------------------------------------------------------------------

POSTS = [
    ("empty", {}),
    ("unknown-fields-only", {"unexpected": "field", "service": "1"}),
    ("name-10k", {**CONTACT, "name": LONG}),
    ("name-1M", {**CONTACT, "name": HUGE}),
    ("name-nul", {**CONTACT, "name": "Zoe\x00Park"}),
    ("name-control-chars", {**CONTACT, "name": "Zoe\x1b[31mPark"}),
    ("name-only-spaces", {**CONTACT, "name": "     "}),
    ("email-10k", {**CONTACT, "email": f"{LONG}@example.com"}),
    ("email-nul", {**CONTACT, "email": "zoe\x00@example.com"}),
    ("email-not-an-address", {**CONTACT, "email": "zoe"}),
    ("email-1M", {**CONTACT, "email": HUGE}),
    ("phone-letters", {**CONTACT, "phone": "call me"}),
    ("phone-10k", {**CONTACT, "phone": "1" * 10_000}),
    ("phone-nul", {**CONTACT, "phone": "415\x00555"}),
    ("lists-instead-of-values", {**CONTACT, "name": ["Zoe", "Ann"], "email": ["a@example.com", "nope"]}),
    ("nonce-1M-and-bad-phone", {**CONTACT, "nonce": HUGE, "phone": "letters"}),
]


@pytest.mark.parametrize("data", [d for _, d in POSTS], ids=[i for i, _ in POSTS])
def test_it_answers_a_hostile_booking_form_with_400_and_what_to_fix(client, salon, data):
    response = client.post(salon.details(), data)

    assert_answered_kindly(response, {400})
    assert "Please check the highlighted field" in message(response)
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize(
    ("make_url", "allowed"),
    [
        (lambda s: s.details(day="0000-00-00"), {400}),
        (lambda s: s.details(day="9999-12-31"), {400}),
        (lambda s: s.details(day="2027-02-30"), {400}),
        (lambda s: s.details(start="25:61"), {400}),
        (lambda s: s.details(start=HUGE), {400}),
        (lambda s: s.details(day=s.past), {409}),
        (lambda s: s.details(day=s.beyond_horizon), {409}),
        (lambda s: s.details(start="09:00", stylist=s.demo.ana.pk), {409}),  # taken
        (lambda s: s.details(start="10:07"), {409}),  # off the grid
        (lambda s: "/book/999999999/any/2027-03-15/10:00/", {404}),
        (lambda s: f"/book/{s.demo.colour.pk}/{s.demo.ben.pk}/2027-03-15/10:00/", {404}),
        (lambda s: f"{s.details()}?then=garbage", {400}),
        (lambda s: f"{s.details()}?then=999999999-any", {404}),
        (lambda s: s.details() + "?" + "&".join([f"then={s.demo.colour.pk}-any"] * 5), {400}),
    ],
    ids=[
        "zero-date",
        "9999-12-31",
        "feb-30",
        "bad-time",
        "1M-time",
        "past",
        "beyond",
        "taken",
        "off-grid",
        "unknown-service",
        "stylist-not-offering",
        "visit-garbage",
        "visit-unknown-service",
        "visit-too-many",
    ],
)
def test_it_refuses_a_valid_form_posted_to_a_hostile_address(client, salon, make_url, allowed):
    response = client.post(make_url(salon), CONTACT)

    assert_answered_kindly(response, allowed)
    assert Appointment.objects.count() == 1


def test_it_answers_a_body_over_the_upload_limit_with_400(client, salon):
    response = client.post(salon.details(), {**CONTACT, "name": "x" * 3_000_000})

    assert_answered_kindly(response, {400, 413})
    assert Appointment.objects.count() == 1


def test_it_answers_too_many_fields_with_400(client, salon):
    response = client.post(salon.details(), {**CONTACT, **{f"f{n}": "1" for n in range(2_000)}})

    assert_answered_kindly(response, {400})
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
        (b'{"name": "Zoe", "email": "zoe@example.com"}', "application/json"),
        (
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nZoe\r\n',
            "multipart/form-data; boundary=b",
        ),
        (b"garbage", "multipart/form-data"),  # no boundary at all
        (b"<xml/>", "text/xml"),
    ],
    ids=["binary", "json", "truncated-multipart", "multipart-without-boundary", "xml"],
)
def test_it_answers_a_malformed_body_with_400(client, salon, body, content_type):
    response = client.generic("POST", salon.details(), body, content_type=content_type)

    assert_answered_kindly(response, {400})
    assert Appointment.objects.count() == 1


def test_it_reads_invalid_utf8_in_a_form_as_replacement_characters(client, salon):
    # Browsers send UTF-8; bytes that are not become U+FFFD, as everywhere in Django,
    # and the name is still a printable name: booked, not a 500.
    body = b"name=Zo%FF%FE&email=zoe%40example.com&nonce=n0"

    response = client.generic("POST", salon.details(), body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 302
    assert Appointment.objects.latest("pk").customer_name == "Zo\ufffd\ufffd"


def test_it_still_books_once_the_input_is_valid(client, salon):
    """The control: the same address and form, valid, books (so the 4xx above are refusals)."""
    response = client.post(salon.details(), {**CONTACT, "nonce": "n1", "extra": LONG})

    assert response.status_code == 302
    assert Appointment.objects.count() == 2


# --- CSRF and methods --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_url", [lambda s: s.details(), lambda s: f"/booking/{s.token}/cancel/"], ids=["book", "cancel"]
)
@pytest.mark.parametrize("csrf", ["missing", "forged", "1M"], ids=lambda c: f"csrf-{c}")
def test_it_refuses_a_form_without_a_valid_csrf_token_with_403_and_a_sentence(salon, make_url, csrf):
    strict = Client(enforce_csrf_checks=True)
    strict.get(salon.details())  # has a CSRF cookie, like a real visitor
    data = dict(CONTACT)
    if csrf == "forged":
        data["csrfmiddlewaretoken"] = "A" * 64
    elif csrf == "1M":
        data["csrfmiddlewaretoken"] = HUGE

    response = strict.post(make_url(salon), data)

    assert_answered_kindly(response, {403})
    assert list(Appointment.objects.values_list("status", flat=True)) == ["confirmed"]


@pytest.mark.parametrize(
    ("method", "make_url"),
    [
        ("POST", lambda s: "/"),
        ("POST", lambda s: f"/book/{s.demo.haircut.pk}/"),
        ("POST", lambda s: s.time(s.day)),
        ("PUT", lambda s: s.details()),
        ("DELETE", lambda s: s.details()),
        ("PATCH", lambda s: f"/booking/{s.token}/cancel/"),
        ("POST", lambda s: f"/booking/{s.token}/"),
        ("POST", lambda s: f"/booking/{s.token}/appointment.ics"),
    ],
    ids=[
        "home",
        "stylist",
        "time",
        "details-put",
        "details-delete",
        "cancel-patch",
        "manage-post",
        "ics-post",
    ],
)
def test_it_answers_a_wrong_method_with_405_and_a_sentence(client, salon, method, make_url):
    response = client.generic(method, make_url(salon), "name=Zoe")

    assert_answered_kindly(response, {405})
    assert "POST" in response["Allow"] or "GET" in response["Allow"]
    assert list(Appointment.objects.values_list("status", flat=True)) == ["confirmed"]


# --- cancelling --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [{}, {"anything": HUGE}, {"confirm": ["yes", "no"]}, {"nul": "\x00"}],
    ids=["empty", "1M", "list", "nul"],
)
def test_it_cancels_with_any_form_body_because_only_the_token_counts(client, salon, data):
    response = client.post(f"/booking/{salon.token}/cancel/", data)

    assert response.status_code == 302
    assert Appointment.objects.get().status == "cancelled"


def test_it_does_not_cancel_twice_and_says_why(client, salon):
    client.post(f"/booking/{salon.token}/cancel/")

    response = client.post(f"/booking/{salon.token}/cancel/")

    assert_answered_kindly(response, {409})


# --- the staff day sheet -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("0000-00-00", {400}),
        ("9999-12-31", {400}),
        ("2027-02-30", {400}),
        ("2027-3-1", {400}),
        ("yesterday", {400}),
        ("2027-03-15%00", {400}),
        ("%FF%FE", {400}),
        (LONG, {400}),
        (HUGE, {400}),
        ("2000-01-01", {200}),  # the earliest day the sheet shows
        ("2999-12-31", {200}),  # the latest
        ("2027-03-15&date=0000-00-00", {400}),  # the last value counts
        ("2027-03-15&" + "&".join(f"p{n}=1" for n in range(1001)), {400}),  # DATA_UPLOAD_MAX_NUMBER_FIELDS
    ],
    ids=[
        "zero",
        "9999",
        "feb-30",
        "short",
        "word",
        "nul",
        "invalid-utf8",
        "10k",
        "1M",
        "2000",
        "2999",
        "repeated",
        "too-many-parameters",
    ],
)
def test_it_answers_a_hostile_day_on_the_staff_sheet_kindly(client, salon, value, allowed):
    staff = get_user_model().objects.create_user("staff", password="pw-staff-1", is_staff=True)
    client.force_login(staff)

    response = client.get(f"{reverse('booking:staff_day')}?date={value}")

    assert_answered_kindly(response, allowed)
