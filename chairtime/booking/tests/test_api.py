"""The JSON API at /api/v1/, through HTTP.

Every request goes through ``get``/``post``, which also check the answer against
the OpenAPI document: its status must be listed for the operation and its body
must match the schema given for that status. So each test also proves that the
document tells the truth about what it saw.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.test import Client
from django.urls import path
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_openapi_document

from chairtime.booking import services
from chairtime.booking.api import api
from chairtime.booking.availability import Refusal
from chairtime.booking.errors import Problem
from chairtime.booking.models import Appointment, SpecialHours
from chairtime.booking.tests.factories import (
    AppointmentFactory,
    ClosureFactory,
    ServiceFactory,
    StylistFactory,
    TimeOffFactory,
)
from chairtime.booking.tokens import make_manage_token, read_manage_token

API = "/api/v1"
UNKNOWN_ID = 10**9
MISSING = object()

# Wednesday, in Pacific Standard Time; the clocks spring forward on Sunday 14 March.
WEDNESDAY_BEFORE_SPRING_FORWARD = datetime.fromisoformat("2027-03-10T10:00:00-08:00")
# Monday 09:10 in Pacific Daylight Time.
MONDAY_MORNING = datetime.fromisoformat("2027-03-15T09:10:00-07:00")
TUESDAY = date(2027, 3, 16)


# --- Helpers ----------------------------------------------------------------------


@functools.cache
def openapi() -> dict:
    return json.loads(json.dumps(api.get_openapi_schema(path_prefix=f"{API}/")))


def documented(response: HttpResponse) -> HttpResponse:
    """The response, once checked against what the OpenAPI document promises."""
    template = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", response.resolver_match.route)
    method = response.request["REQUEST_METHOD"].lower()
    responses = openapi()["paths"][template][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {template} answered {status}, which is not documented"
    assert response["Content-Type"] == "application/json; charset=utf-8"
    schema = responses[status]["content"]["application/json"]["schema"]
    validator = OAS31Validator(
        {**schema, "components": openapi()["components"]}, format_checker=OAS31Validator.FORMAT_CHECKER
    )
    validator.validate(response.json())
    return response


def get(client: Client, url: str, **params) -> HttpResponse:
    return documented(client.get(f"{API}{url}", params))


def post(client: Client, url: str, body=None) -> HttpResponse:
    data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
    return documented(client.post(f"{API}{url}", data, content_type="application/json"))


def booking(start: datetime | str, *, service, stylist=None, **customer) -> dict:
    return {
        "service": service.pk,
        "stylist": stylist.pk if stylist is not None else None,
        "start": start if isinstance(start, str) else start.isoformat(),
        "customer": {"name": "Alex Doe", "email": "alex@example.com", **customer},
    }


_customers = itertools.count()


def book(client: Client, demo, start: datetime, *, stylist=None, service=None) -> dict:
    """Book as a new customer each time (one customer cannot hold the same service
    at the same start twice)."""
    body = booking(
        start,
        service=service or demo.haircut,
        stylist=stylist,
        email=f"customer{next(_customers)}@example.com",
    )
    response = post(client, "/appointments", body)
    assert response.status_code == 201, response.content
    return response.json()


def slots(client: Client, service, day: date, stylist=None) -> list[str]:
    params = {"service": service.pk, "date": day.isoformat()}
    if stylist is not None:
        params["stylist"] = stylist.pk
    response = get(client, "/availability", **params)
    assert response.status_code == 200, response.content
    return response.json()["slots"]


def times(day: date, offset: str, *hhmm: str) -> list[str]:
    return [f"{day.isoformat()}T{t}:00{offset}" for t in hhmm]


def half_hours(first: str, last: str) -> list[str]:
    """Every half hour from ``first`` to ``last``: ("09:00", "10:00") -> ["09:00", "09:30", "10:00"]."""
    start, end = (datetime.strptime(t, "%H:%M") for t in (first, last))  # noqa: DTZ007 (wall times)
    steps = int((end - start) / timedelta(minutes=30))
    return [(start + n * timedelta(minutes=30)).strftime("%H:%M") for n in range(steps + 1)]


HAIRCUT_DAY = [*half_hours("09:00", "11:30"), *half_hours("13:30", "17:00")]


@pytest.fixture
def at_monday_morning(time_machine):
    time_machine.move_to(MONDAY_MORNING, tick=False)


# --- Catalogue --------------------------------------------------------------------


def test_it_lists_active_services_with_decimal_prices(client, demo):
    demo.colour.price = Decimal("85.50")
    demo.colour.save()
    ServiceFactory(name="Retired perm", is_active=False)

    response = get(client, "/services")

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": demo.colour.pk,
            "name": "Colour",
            "description": "A service.",
            "duration_minutes": 120,
            "price": "85.50",
        },
        {
            "id": demo.haircut.pk,
            "name": "Haircut",
            "description": "A service.",
            "duration_minutes": 60,
            "price": "50.00",
        },
    ]


def test_it_lists_the_active_stylists_who_offer_a_service(client, demo):
    StylistFactory(name="Cleo", services=[demo.haircut], is_active=False)

    haircut = get(client, "/stylists", service=demo.haircut.pk)
    colour = get(client, "/stylists", service=demo.colour.pk)

    assert haircut.json() == [
        {"id": demo.ana.pk, "name": "Ana", "price": "50.00", "duration_minutes": 60},
        {"id": demo.ben.pk, "name": "Ben", "price": "50.00", "duration_minutes": 60},
    ]
    assert colour.json() == [{"id": demo.ana.pk, "name": "Ana", "price": "50.00", "duration_minutes": 120}]


@pytest.mark.parametrize("service", ["unknown", "largest id", "inactive"])
def test_it_answers_404_for_stylists_of_a_service_that_cannot_be_booked(client, demo, service):
    # The largest id the schema allows still reaches the database, which must cope.
    service_id = {"unknown": UNKNOWN_ID, "largest id": 2**63 - 1}.get(service) or ServiceFactory(
        is_active=False
    ).pk

    response = get(client, "/stylists", service=service_id)

    assert response.status_code == 404
    assert response.json() == {"detail": Problem.SERVICE_NOT_FOUND.value, "code": "service_not_found"}


def test_it_requires_the_service_of_the_stylists(client, demo):
    response = get(client, "/stylists")

    assert response.status_code == 422
    assert response.json() == {
        "detail": "service: This field is required.",
        "code": "invalid",
        "errors": [{"loc": ["query", "service"], "msg": "This field is required", "type": "missing"}],
    }


# --- Availability -----------------------------------------------------------------


def test_it_lists_free_starts_with_the_offset_in_force_that_day(client, demo, time_machine):
    time_machine.move_to(WEDNESDAY_BEFORE_SPRING_FORWARD, tick=False)
    saturday, monday = date(2027, 3, 13), date(2027, 3, 15)

    response = get(client, "/availability", service=demo.haircut.pk, date="2027-03-13", stylist=demo.ben.pk)

    assert response.json() == {
        "date": "2027-03-13",
        "time_zone": "America/Los_Angeles",
        "slots": times(saturday, "-08:00", *HAIRCUT_DAY),
    }
    assert slots(client, demo.haircut, monday, demo.ben) == times(monday, "-07:00", *HAIRCUT_DAY)


def test_it_offers_a_long_service_only_where_it_fits_before_a_break(client, demo, time_machine):
    time_machine.move_to(WEDNESDAY_BEFORE_SPRING_FORWARD, tick=False)
    monday = date(2027, 3, 15)

    assert slots(client, demo.colour, monday) == times(
        monday, "-07:00", *half_hours("09:00", "10:30"), *half_hours("13:30", "16:00")
    )


def test_it_offers_today_only_after_the_minimum_notice(client, demo, time_machine):
    time_machine.move_to(WEDNESDAY_BEFORE_SPRING_FORWARD, tick=False)  # 10:00 local
    today = date(2027, 3, 10)

    assert slots(client, demo.haircut, today, demo.ben) == times(
        today, "-08:00", "11:00", "11:30", *half_hours("13:30", "17:00")
    )


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        ("2027-03-09", False),  # yesterday
        ("2027-04-09", True),  # the last day of the 30-day horizon, a Friday
        ("2027-04-10", False),  # the day after, a Saturday
        ("0001-01-01", False),
        ("9999-12-31", False),
    ],
)
def test_it_lists_no_starts_outside_the_booking_horizon(client, demo, time_machine, day, open_):
    time_machine.move_to(WEDNESDAY_BEFORE_SPRING_FORWARD, tick=False)

    response = get(client, "/availability", service=demo.haircut.pk, date=day)

    assert response.status_code == 200
    assert response.json()["date"] == day
    assert bool(response.json()["slots"]) is open_


def test_it_lists_no_starts_on_a_closure(client, demo, django_capture_on_commit_callbacks):
    day = demo.next_working_day()
    assert slots(client, demo.haircut, day)
    with django_capture_on_commit_callbacks(execute=True):  # as when it commits
        ClosureFactory(date=day)

    assert slots(client, demo.haircut, day) == []


def test_it_offers_and_books_only_inside_the_salons_special_hours(client, demo, at_monday_morning):
    # Tuesday: the salon opens 10:00-12:00 only; Ana and Ben normally work to 18:00.
    SpecialHours.objects.create(date=TUESDAY, start=time(10), end=time(12), reason="Staff training")

    assert slots(client, demo.haircut, TUESDAY) == times(TUESDAY, "-07:00", "10:00", "10:30", "11:00")
    refused = post(client, "/appointments", booking(demo.local(TUESDAY, 14), service=demo.haircut))
    assert refused.status_code == 409
    assert refused.json()["code"] == "outside_hours"
    assert (
        post(client, "/appointments", booking(demo.local(TUESDAY, 11), service=demo.haircut)).status_code
        == 201
    )


def test_it_offers_and_books_a_stylists_extra_shift(
    client, demo, at_monday_morning, django_capture_on_commit_callbacks
):
    sunday = TUESDAY + timedelta(days=5)  # nobody works Sundays
    assert slots(client, demo.haircut, sunday) == []
    with django_capture_on_commit_callbacks(execute=True):  # as when it commits
        SpecialHours.objects.create(stylist=demo.ben, date=sunday, start=time(12), end=time(14))

    assert slots(client, demo.haircut, sunday) == times(sunday, "-07:00", "12:00", "12:30", "13:00")
    assert slots(client, demo.haircut, sunday, stylist=demo.ana) == []
    booked = post(client, "/appointments", booking(demo.local(sunday, 12, 30), service=demo.haircut))
    assert booked.status_code == 201
    assert booked.json()["stylist"] == demo.ben.pk


def test_it_lists_the_next_free_starts_across_days(client, demo, at_monday_morning):
    # Monday 09:10 with an hour's notice: the rest of Monday, then Tuesday.
    response = get(client, "/availability/next", service=demo.colour.pk, limit=6)

    assert response.status_code == 200
    monday = MONDAY_MORNING.date()
    assert response.json() == {
        "time_zone": "America/Los_Angeles",
        "slots": [
            *times(monday, "-07:00", "10:30", "13:30", "14:00", "14:30", "15:00", "15:30"),
        ],
    }
    # Taken times are skipped; the answer goes on into the next days.
    for hh, mm in ((10, 30), (13, 30), (15, 30)):  # Monday full: 10:30-12:30, 13:30-17:30
        AppointmentFactory(
            service=demo.colour,
            stylist=demo.ana,
            starts_at=demo.local(monday, hh, mm),
            customer_email=f"c{hh}{mm}@example.com",
        )
    later = get(client, "/availability/next", service=demo.colour.pk, stylist=demo.ana.pk, limit=2)
    assert later.json()["slots"] == times(TUESDAY, "-07:00", "09:00", "09:30")


@pytest.mark.parametrize("limit", [0, 51, "x"])
def test_it_refuses_a_limit_outside_1_to_50(client, demo, limit):
    response = get(client, "/availability/next", service=demo.haircut.pk, limit=limit)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "limit"]


def test_it_answers_404_for_the_next_starts_of_an_unknown_service(client, demo):
    assert get(client, "/availability/next", service=UNKNOWN_ID).status_code == 404


def test_it_lists_a_start_while_any_suitable_stylist_is_free_then_and_frees_it_on_cancel(client, demo):
    day = demo.next_working_day()
    nine = demo.local(day, 9).isoformat()
    ben_first = book(client, demo, demo.local(day, 9), stylist=demo.ben)

    assert nine not in slots(client, demo.haircut, day, demo.ben)
    assert nine in slots(client, demo.haircut, day, demo.ana)
    assert nine in slots(client, demo.haircut, day)

    ana_then = book(client, demo, demo.local(day, 9))  # any stylist: Ben is busy, so Ana
    assert ana_then["stylist"] == demo.ana.pk
    assert nine not in slots(client, demo.haircut, day)
    assert demo.local(day, 9, 30).isoformat() not in slots(client, demo.haircut, day)  # an hour each
    assert demo.local(day, 10).isoformat() in slots(client, demo.haircut, day)

    response = post(client, f"/appointments/{ben_first['id']}/cancel?token={ben_first['manage_token']}")
    assert response.status_code == 200
    assert nine in slots(client, demo.haircut, day)
    assert nine in slots(client, demo.haircut, day, demo.ben)
    assert nine not in slots(client, demo.haircut, day, demo.ana)


@pytest.fixture
def night_owl(demo):
    """A stylist who works the small hours of Sunday, through the clock change."""
    return StylistFactory(name="Nina", services=[demo.haircut], hours={6: [(time(0), time(5))]})


def test_it_lists_the_starts_of_the_spring_forward_night_with_both_offsets(
    client, demo, night_owl, time_machine
):
    time_machine.move_to(WEDNESDAY_BEFORE_SPRING_FORWARD, tick=False)
    sunday = date(2027, 3, 14)

    # 00:00 PST to 05:00 PDT lasts four real hours: 02:00-03:00 does not exist.
    assert slots(client, demo.haircut, sunday, night_owl) == [
        *times(sunday, "-08:00", "00:00", "00:30", "01:00", "01:30"),
        *times(sunday, "-07:00", "03:00", "03:30", "04:00"),
    ]


def test_it_lists_the_starts_of_the_fall_back_night_with_both_offsets(client, demo, night_owl, time_machine):
    time_machine.move_to(datetime.fromisoformat("2027-11-03T12:00:00-07:00"), tick=False)
    sunday = date(2027, 11, 7)

    # 00:00 PDT to 05:00 PST lasts six real hours: 01:00-02:00 happens twice.
    assert slots(client, demo.haircut, sunday, night_owl) == [
        *times(sunday, "-07:00", "00:00", "00:30", "01:00", "01:30"),
        *times(sunday, "-08:00", "01:00", "01:30", "02:00", "02:30", "03:00", "03:30", "04:00"),
    ]


def test_it_books_both_one_oclocks_of_the_fall_back_night(client, demo, night_owl, time_machine):
    time_machine.move_to(datetime.fromisoformat("2027-11-03T12:00:00-07:00"), tick=False)

    first = book(client, demo, datetime.fromisoformat("2027-11-07T01:00:00-07:00"), stylist=night_owl)
    second = book(client, demo, datetime.fromisoformat("2027-11-07T09:00:00+00:00"), stylist=night_owl)

    assert (first["start"], first["end"]) == ("2027-11-07T01:00:00-07:00", "2027-11-07T01:00:00-08:00")
    assert (second["start"], second["end"]) == ("2027-11-07T01:00:00-08:00", "2027-11-07T02:00:00-08:00")
    assert "2027-11-07T01:30:00-07:00" not in slots(client, demo.haircut, date(2027, 11, 7), night_owl)
    assert "2027-11-07T02:00:00-08:00" in slots(client, demo.haircut, date(2027, 11, 7), night_owl)


@pytest.mark.parametrize(
    ("service", "stylist", "status", "code"),
    [
        ("unknown", None, 404, "service_not_found"),
        ("inactive", None, 404, "service_not_found"),
        ("haircut", "unknown", 404, "stylist_not_found"),
        ("haircut", "inactive", 404, "stylist_not_found"),
        ("colour", "ben", 422, "stylist_does_not_offer"),
    ],
)
@pytest.mark.parametrize("endpoint", ["availability", "appointments"])
def test_it_gives_the_same_answer_to_the_same_id_mistake_everywhere(
    client, demo, at_monday_morning, endpoint, service, stylist, status, code
):
    services_by_name = {
        "unknown": SimpleNamespace(pk=UNKNOWN_ID),
        "inactive": ServiceFactory(is_active=False),
        "haircut": demo.haircut,
        "colour": demo.colour,
    }
    stylists_by_name = {
        None: None,
        "unknown": SimpleNamespace(pk=UNKNOWN_ID),
        "inactive": StylistFactory(services=[demo.haircut], is_active=False),
        "ben": demo.ben,
    }
    the_service, the_stylist = services_by_name[service], stylists_by_name[stylist]

    if endpoint == "availability":
        params = {"service": the_service.pk, "date": TUESDAY.isoformat()}
        if the_stylist is not None:
            params["stylist"] = the_stylist.pk
        response = get(client, "/availability", **params)
    else:
        response = post(
            client,
            "/appointments",
            booking(demo.local(TUESDAY, 10), service=the_service, stylist=the_stylist),
        )

    assert response.status_code == status
    body = response.json()
    assert (body["detail"], body["code"]) == (Problem[code.upper()].value, code)
    if status == 422:
        source = "query" if endpoint == "availability" else "body"
        assert body["errors"] == [{"loc": [source, "stylist"], "msg": body["detail"], "type": code}]
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    ("params", "loc", "detail"),
    [
        (
            {"date": "2027-02-30"},
            "date",
            "date: Input should be a valid date or datetime, day value is outside",
        ),
        ({"date": "16/03/2027"}, "date", "date: Give a date as YYYY-MM-DD, for example 2027-03-15."),
        ({"date": "1803600000"}, "date", "date: Give a date as YYYY-MM-DD"),
        ({"date": ""}, "date", "date: Give a date as YYYY-MM-DD"),
        ({"date": MISSING}, "date", "date: This field is required."),
        ({"service": "haircut"}, "service", "service: Input should be a valid integer"),
        ({"service": "0"}, "service", "service: Input should be greater than or equal to 1."),
        ({"service": str(2**63)}, "service", "service: Input should be less than or equal to"),
        ({"stylist": "ben"}, "stylist", "stylist: Input should be a valid integer"),
    ],
)
def test_it_refuses_a_malformed_availability_query_with_a_readable_message(client, demo, params, loc, detail):
    query = {"service": demo.haircut.pk, "date": demo.next_working_day().isoformat(), **params}

    response = get(client, "/availability", **{k: v for k, v in query.items() if v is not MISSING})

    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith(detail)
    assert body["code"] == "invalid"
    assert [error["loc"] for error in body["errors"]] == [["query", loc]]


# --- Booking ----------------------------------------------------------------------


def test_it_books_an_appointment(client, demo, at_monday_morning):
    body = booking(demo.local(TUESDAY, 10), service=demo.haircut, stylist=demo.ben, phone="+1 (415) 555-0100")
    body["customer"]["name"] = "  Alex Doe "

    response = post(client, "/appointments", body)

    assert response.status_code == 201
    data = response.json()
    token = data["manage_token"]
    assert read_manage_token(token) == data["id"]
    assert data == {
        "id": data["id"],
        "service": demo.haircut.pk,
        "stylist": demo.ben.pk,
        "start": "2027-03-16T10:00:00-07:00",
        "end": "2027-03-16T11:00:00-07:00",
        "status": "confirmed",
        "price": "50.00",
        "items": [
            {
                "service": demo.haircut.pk,
                "stylist": demo.ben.pk,
                "start": "2027-03-16T10:00:00-07:00",
                "end": "2027-03-16T11:00:00-07:00",
                "price": "50.00",
            }
        ],
        "customer": {"name": "Alex Doe", "email": "alex@example.com"},
        "manage_token": token,
        "manage_url": f"http://testserver/booking/{token}/",
    }
    appointment = Appointment.objects.get()
    assert appointment.pk == data["id"]
    assert appointment.starts_at == datetime(2027, 3, 16, 17, 0, tzinfo=UTC)
    assert (appointment.customer_name, appointment.customer_phone) == ("Alex Doe", "+1 (415) 555-0100")
    assert b"555" not in response.content  # the phone number is never echoed


@pytest.mark.parametrize(
    "start", ["2027-03-16T17:00:00+00:00", "2027-03-16t17:00:00z", "2027-03-16T12:00:00-05:00"]
)
def test_it_books_a_start_given_in_any_offset(client, demo, at_monday_morning, start):
    response = post(client, "/appointments", booking(start, service=demo.haircut, stylist=demo.ben))

    assert response.status_code == 201
    assert response.json()["start"] == "2027-03-16T10:00:00-07:00"


def test_it_books_without_a_csrf_token(demo, at_monday_morning):
    client = Client(enforce_csrf_checks=True)

    response = post(client, "/appointments", booking(demo.local(TUESDAY, 10), service=demo.haircut))

    assert response.status_code == 201


def test_it_accepts_names_and_phone_numbers_at_their_limits(client, demo, at_monday_morning):
    body = booking(demo.local(TUESDAY, 10), service=demo.haircut, name="N" * 100, phone="0" * 32)

    response = post(client, "/appointments", body)

    assert response.status_code == 201
    assert Appointment.objects.get().customer_name == "N" * 100


def test_it_books_without_a_phone_number(client, demo, at_monday_morning):
    body = booking(demo.local(TUESDAY, 10), service=demo.haircut, phone=None)

    response = post(client, "/appointments", body)

    assert response.status_code == 201
    assert Appointment.objects.get().customer_phone == ""


def _taken(demo):
    AppointmentFactory(
        service=demo.haircut,
        stylist=demo.ben,
        starts_at=demo.local(TUESDAY, 10),
        customer_email="b@example.com",
    )


@pytest.mark.parametrize(
    ("refusal", "start", "setup"),
    [
        (Refusal.IN_THE_PAST, "2027-03-15T09:00:00-07:00", None),
        (Refusal.TOO_SOON, "2027-03-15T10:00:00-07:00", None),
        (Refusal.BEYOND_HORIZON, "2027-04-15T10:00:00-07:00", None),
        (Refusal.CLOSED, "2027-03-16T10:00:00-07:00", lambda demo: ClosureFactory(date=TUESDAY)),
        (Refusal.OUTSIDE_HOURS, "2027-03-16T12:00:00-07:00", None),  # runs into the lunch break
        (Refusal.OUTSIDE_HOURS, "2027-03-21T10:00:00-07:00", None),  # a Sunday
        (Refusal.OFF_GRID, "2027-03-16T10:15:00-07:00", None),
        (Refusal.OFF_GRID, "2027-03-16T10:00:01-07:00", None),
        (
            Refusal.TIME_OFF,
            "2027-03-16T10:00:00-07:00",
            lambda demo: TimeOffFactory(
                stylist=demo.ben, start=demo.local(TUESDAY, 9), end=demo.local(TUESDAY, 18)
            ),
        ),
        (Refusal.TAKEN, "2027-03-16T10:00:00-07:00", _taken),
        (Refusal.TAKEN, "2027-03-16T10:30:00-07:00", _taken),
        (Refusal.TAKEN, "2027-03-16T09:30:00-07:00", _taken),
    ],
    ids=lambda value: value.name.lower() if isinstance(value, Refusal) else None,
)
def test_it_answers_409_when_the_time_is_not_free(client, demo, at_monday_morning, refusal, start, setup):
    if setup is not None:
        setup(demo)
    appointments_before = Appointment.objects.count()

    response = post(client, "/appointments", booking(start, service=demo.haircut, stylist=demo.ben))

    assert response.status_code == 409
    assert response.json() == {"detail": refusal.value, "code": refusal.name.lower()}
    assert Appointment.objects.count() == appointments_before


def test_it_answers_409_when_nobody_offers_the_service(client, demo, at_monday_morning):
    unstaffed = ServiceFactory(name="Beard trim")

    response = post(client, "/appointments", booking(demo.local(TUESDAY, 10), service=unstaffed))

    assert response.status_code == 409
    assert response.json() == {"detail": Problem.NO_STYLIST.value, "code": "no_stylist"}


def test_it_answers_409_to_the_second_of_two_identical_bookings(client, demo, at_monday_morning):
    body = booking(demo.local(TUESDAY, 10), service=demo.colour, stylist=demo.ana)

    assert post(client, "/appointments", body).status_code == 201
    response = post(client, "/appointments", body)
    someone_else = post(
        client, "/appointments", {**body, "customer": {"name": "B", "email": "b@example.com"}}
    )

    assert response.status_code == someone_else.status_code == 409
    assert response.json()["code"] == "already_booked"
    assert someone_else.json()["code"] == "taken"
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize("both", [False, True])
def test_it_asks_for_either_a_service_or_items(client, demo, both):
    body = booking(demo.local(demo.next_working_day(), 10), service=demo.haircut)
    if both:
        body["items"] = [{"service": demo.haircut.pk}]
    else:
        del body["service"]

    response = post(client, "/appointments", body)

    assert response.status_code == 422
    message = "Give either service (and stylist) or items, not both and not neither."
    assert response.json() == {
        "detail": message,
        "code": "invalid",
        "errors": [{"loc": ["body"], "msg": message, "type": "items_or_service"}],
    }


@pytest.mark.parametrize(
    ("field", "value", "loc", "detail"),
    [
        (("start",), MISSING, "start", "start: This field is required."),
        (("customer",), MISSING, "customer", "customer: This field is required."),
        (("customer", "name"), MISSING, "customer.name", "customer.name: This field is required."),
        (("customer", "email"), MISSING, "customer.email", "customer.email: This field is required."),
        (("service",), "haircut", "service", "service: Input should be a valid integer"),
        (("service",), 1.5, "service", "service: Input should be a valid integer"),
        (("service",), 0, "service", "service: Input should be greater than or equal to 1."),
        (
            ("service",),
            2**63,
            "service",
            "service: Input should be less than or equal to 9223372036854775807.",
        ),
        (("stylist",), "ben", "stylist", "stylist: Input should be a valid integer"),
        (("start",), 1805216400, "start", "start: Give an ISO 8601 date and time as a string"),
        (("start",), "next Tuesday at ten", "start", "start: Give an ISO 8601 date and time, for example"),
        (("start",), "2027-03-16T10:00:00", "start", "start: A UTC offset is required (such as -07:00 or Z)"),
        (("start",), "2027-03-16", "start", "start: A UTC offset is required"),
        (("start",), "9999-12-31T12:00:00Z", "start", "start: That date is out of range."),
        (("start",), "0001-01-01T00:00:00+00:00", "start", "start: That date is out of range."),
        (("customer",), "Alex Doe", "customer", "customer: Input should be a valid dictionary"),
        (
            ("customer", "name"),
            "",
            "customer.name",
            "customer.name: String should have at least 1 character.",
        ),
        (
            ("customer", "name"),
            "   ",
            "customer.name",
            "customer.name: Enter a name with at least one letter",
        ),
        (
            ("customer", "name"),
            "N" * 101,
            "customer.name",
            "customer.name: String should have at most 100 char",
        ),
        (
            ("customer", "name"),
            "Alex\x00Doe",
            "customer.name",
            "customer.name: Enter a name with at least one",
        ),
        (("customer", "name"), 42, "customer.name", "customer.name: Input should be a valid string."),
        (
            ("customer", "email"),
            "alex-at-example.com",
            "customer.email",
            "customer.email: Enter a valid e-mail",
        ),
        (("customer", "email"), "alex@example", "customer.email", "customer.email: Enter a valid e-mail"),
        (
            ("customer", "email"),
            "a" * 243 + "@example.com",
            "customer.email",
            "customer.email: String should have",
        ),
        (
            ("customer", "phone"),
            "0" * 33,
            "customer.phone",
            "customer.phone: String should have at most 32 char",
        ),
        (
            ("customer", "phone"),
            "call me",
            "customer.phone",
            "customer.phone: Enter a phone number with digits",
        ),
        (("customer", "phone"), "+()-", "customer.phone", "customer.phone: Enter a phone number with digits"),
        (("stylst",), 1, "stylst", "stylst: This field is not part of the request; check its spelling."),
    ],
)
def test_it_refuses_a_malformed_booking_with_a_readable_message(client, demo, field, value, loc, detail):
    body = copy.deepcopy(booking(demo.local(demo.next_working_day(), 10), service=demo.haircut))
    *parents, key = field
    target = functools.reduce(lambda node, name: node[name], parents, body)
    if value is MISSING:
        del target[key]
    else:
        target[key] = value

    response = post(client, "/appointments", body)

    assert response.status_code == 422
    data = response.json()
    assert data["detail"].startswith(detail)
    assert data["code"] == "invalid"
    assert [error["loc"] for error in data["errors"]] == [["body", *loc.split(".")]]
    assert data["errors"][0]["msg"].rstrip(".") in data["detail"]
    assert not Appointment.objects.exists()


def test_it_refuses_text_that_is_not_unicode(client, demo):
    body = json.dumps(booking(demo.local(demo.next_working_day(), 10), service=demo.haircut, name="NAME"))

    response = post(client, "/appointments", body.replace("NAME", "Al\\udc80ex"))

    assert response.status_code == 422
    assert response.json()["detail"] == "customer.name: Text must be valid Unicode."


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ('{"service": 1,', 400, "The request body is not valid JSON: Expecting property name enclosed in"),
        (b'{"service": "\xff"}', 400, "The request body is not valid JSON"),
        ("[]", 422, "The request body must be a JSON object."),
        ('"book me"', 422, "The request body must be a JSON object."),
        ("", 422, "The request body must be a JSON object; it is empty."),
    ],
    ids=["truncated", "not-utf8", "array", "string", "empty"],
)
def test_it_refuses_a_body_that_is_not_a_json_object(client, demo, body, status, detail):
    response = post(client, "/appointments", body)

    assert response.status_code == status
    assert response.json()["detail"].startswith(detail)
    assert response.json()["code"] == ("invalid_json" if status == 400 else "invalid")


def test_it_refuses_an_oversized_body_with_413(client, demo, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = booking(demo.local(demo.next_working_day(), 10), service=demo.haircut)
    assert len(json.dumps(body)) > 100

    response = post(client, "/appointments", body)

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large.", "code": "too_large"}


def test_it_turns_a_model_validation_error_into_a_422(client, demo, monkeypatch):
    # Only reachable if the models' rules outgrow the schema's: no 500 even then.
    def stricter(**kwargs):
        raise DjangoValidationError({"customer_name": ["Ensure this value has at most 80 characters."]})

    monkeypatch.setattr(services, "visit_book", stricter)

    response = post(
        client, "/appointments", booking(demo.local(demo.next_working_day(), 10), service=demo.haircut)
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": "customer.name: Ensure this value has at most 80 characters.",
        "code": "invalid",
        "errors": [
            {
                "loc": ["body", "customer", "name"],
                "msg": "Ensure this value has at most 80 characters.",
                "type": "invalid",
            }
        ],
    }


# --- Reading and cancelling with the token ----------------------------------------


@pytest.fixture
def booked(client, demo, at_monday_morning):
    return book(client, demo, demo.local(TUESDAY, 10), stylist=demo.ben)


def test_it_shows_an_appointment_to_the_holder_of_its_token(client, demo, booked, time_machine):
    time_machine.move_to(MONDAY_MORNING + timedelta(hours=1), tick=False)

    response = get(client, f"/appointments/{booked['id']}", token=booked["manage_token"])

    assert response.status_code == 200
    # Exactly what booking returned; in particular the token it was given, not a
    # fresh one, which would extend the link's life on every read.
    assert response.json() == booked


def test_it_still_accepts_a_token_just_before_it_expires(client, booked, time_machine):
    time_machine.move_to(MONDAY_MORNING + timedelta(days=179), tick=False)

    assert get(client, f"/appointments/{booked['id']}", token=booked["manage_token"]).status_code == 200


def _tokens(booked, other) -> dict[str, str | None]:
    token = booked["manage_token"]
    return {
        "missing": None,
        "empty": "",
        "garbage": "not-a-token",
        "forged": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "another appointment's": other["manage_token"],
        "too long": token + "x" * 300,
    }


@pytest.mark.parametrize(
    "kind", ["missing", "empty", "garbage", "forged", "another appointment's", "too long"]
)
@pytest.mark.parametrize("action", ["read", "cancel"])
def test_it_answers_404_without_the_appointments_own_token(client, demo, booked, kind, action):
    other = book(client, demo, demo.local(TUESDAY, 10), stylist=demo.ana)
    token = _tokens(booked, other)[kind]
    url = f"/appointments/{booked['id']}" + ("/cancel" if action == "cancel" else "")
    query = "" if token is None else f"?token={token}"

    response = get(client, url + query) if action == "read" else post(client, url + query)

    assert response.status_code == 404
    assert response.json() == {"detail": Problem.APPOINTMENT_NOT_FOUND.value, "code": "appointment_not_found"}
    assert b"alex@example.com" not in response.content
    assert Appointment.objects.get(pk=booked["id"]).status == "confirmed"


@pytest.mark.parametrize("action", ["read", "cancel"])
def test_it_answers_404_once_the_token_has_expired(client, booked, time_machine, action):
    time_machine.move_to(MONDAY_MORNING + timedelta(days=181), tick=False)
    url = f"/appointments/{booked['id']}" + ("/cancel" if action == "cancel" else "")

    response = (get if action == "read" else post)(client, f"{url}?token={booked['manage_token']}")

    assert response.status_code == 404
    assert response.json()["code"] == "appointment_not_found"


def test_it_answers_a_token_for_a_vanished_appointment_like_a_forged_one(client, demo):
    token = make_manage_token(UNKNOWN_ID)

    read = get(client, f"/appointments/{UNKNOWN_ID}", token=token)
    cancel = post(client, f"/appointments/{UNKNOWN_ID}/cancel?token={token}")

    assert read.status_code == cancel.status_code == 404
    assert (
        read.json()
        == cancel.json()
        == {"detail": Problem.APPOINTMENT_NOT_FOUND.value, "code": "appointment_not_found"}
    )


def test_it_refuses_a_malformed_appointment_id(client, demo):
    response = get(client, "/appointments/first", token="x")

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "appointment_id"]


def test_it_cancels_an_appointment_once(client, demo, booked):
    url = f"/appointments/{booked['id']}/cancel?token={booked['manage_token']}"

    response = post(client, url)

    assert response.status_code == 200
    assert response.json() == {**booked, "status": "cancelled"}
    assert Appointment.objects.get(pk=booked["id"]).status == "cancelled"
    again = post(client, url)
    assert again.status_code == 409
    assert again.json() == {"detail": Problem.ALREADY_CANCELLED.value, "code": "already_cancelled"}
    shown = get(client, f"/appointments/{booked['id']}", token=booked["manage_token"])
    assert shown.json()["status"] == "cancelled"


def test_it_refuses_to_cancel_an_appointment_that_has_started(client, demo, booked, time_machine):
    time_machine.move_to(demo.local(TUESDAY, 10), tick=False)

    response = post(client, f"/appointments/{booked['id']}/cancel?token={booked['manage_token']}")

    assert response.status_code == 409
    assert response.json() == {"detail": Problem.ALREADY_STARTED.value, "code": "already_started"}
    assert Appointment.objects.get(pk=booked["id"]).status == "confirmed"


class WithoutCustomerPages:
    urlpatterns = [path("api/v1/", api.urls)]


def test_it_leaves_out_the_customer_link_where_there_are_no_customer_pages(client, demo, booked, settings):
    settings.ROOT_URLCONF = WithoutCustomerPages

    response = get(client, f"/appointments/{booked['id']}", token=booked["manage_token"])

    assert response.status_code == 200
    assert response.json()["manage_url"] is None


# --- The API as a whole -----------------------------------------------------------


def test_it_answers_unknown_api_addresses_with_a_json_404(client, db):
    for url in (f"{API}/appointment", f"{API}/services/", f"{API}/services/1/stylists"):
        response = client.get(url)

        assert response.status_code == 404
        assert response.json() == {
            "detail": "There is nothing at this address. See /api/v1/docs.",
            "code": "not_found",
        }


TOO_MANY_PARAMETERS = "&".join(f"p{n}=1" for n in range(1001))


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/services"),
        ("get", "/stylists?service=1"),
        ("get", "/availability?service=1&date=2027-03-16"),
        ("post", "/appointments"),
        ("get", "/appointments/1?token=x"),
        ("post", "/appointments/1/cancel?token=x"),
    ],
)
def test_it_answers_too_many_query_parameters_with_a_json_400_on_every_route(
    client, demo, caplog, method, url
):
    address = f"{API}{url}{'&' if '?' in url else '?'}{TOO_MANY_PARAMETERS}"
    body = json.dumps(booking("2027-03-16T10:00:00-07:00", service=demo.haircut))

    if method == "get":
        response = documented(client.get(address))
    else:
        response = documented(client.post(address, body, content_type="application/json"))

    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request has too many query parameters; at most 1000 are allowed.",
        "code": "too_many_parameters",
    }
    assert not Appointment.objects.exists()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # no traceback logged


def test_it_answers_too_many_query_parameters_with_a_json_400_at_unknown_addresses(client, db):
    response = client.get(f"{API}/nothing-here?{TOO_MANY_PARAMETERS}")

    assert response.status_code == 400
    assert response.json()["code"] == "too_many_parameters"


EXPECTED_OPERATIONS = {
    "/api/v1/services": {"get": {"200", "400"}},
    "/api/v1/stylists": {"get": {"200", "400", "404", "422"}},
    "/api/v1/availability": {"get": {"200", "400", "404", "422"}},
    "/api/v1/availability/next": {"get": {"200", "400", "404", "422"}},
    "/api/v1/appointments": {"post": {"201", "400", "404", "409", "413", "422", "429"}},
    "/api/v1/appointments/{appointment_id}": {"get": {"200", "400", "404", "422"}},
    "/api/v1/appointments/{appointment_id}/cancel": {"post": {"200", "400", "404", "409", "422", "429"}},
    "/api/v1/appointments/{appointment_id}/reschedule": {
        "post": {"200", "400", "404", "409", "413", "422", "429"}
    },
    "/api/v1/waitlist": {"post": {"201", "400", "404", "409", "413", "422", "429"}},
    "/api/v1/waitlist/{entry_id}": {"delete": {"200", "400", "404", "422", "429"}},
}


def test_it_publishes_a_valid_openapi_document_of_every_operation(client, db):
    response = client.get(f"{API}/openapi.json")

    assert response.status_code == 200
    document = response.json()
    validate_openapi_document(document)
    operations = {
        url: {method: set(operation["responses"]) for method, operation in methods.items()}
        for url, methods in document["paths"].items()
    }
    assert operations == EXPECTED_OPERATIONS
    assert document == openapi()  # what the other tests check against is what is served


def test_it_documents_the_limits_of_a_booking(client, db):
    schemas = client.get(f"{API}/openapi.json").json()["components"]["schemas"]
    customer = schemas["CustomerIn"]["properties"]
    appointment = schemas["AppointmentIn"]

    assert (customer["name"]["minLength"], customer["name"]["maxLength"]) == (1, 100)
    assert "pattern" in customer["name"]
    assert (customer["email"]["maxLength"], customer["email"]["format"]) == (254, "email")
    phone = customer["phone"]["anyOf"][0]
    assert phone["maxLength"] == 32
    assert re.fullmatch(phone["pattern"], "+1 (415) 555-0100")
    assert not re.fullmatch(phone["pattern"], "call me")
    assert appointment["properties"]["start"]["format"] == "date-time"
    assert appointment["properties"]["service"]["anyOf"][0]["minimum"] == 1
    assert appointment["properties"]["items"]["anyOf"][0]["maxItems"] == 5
    assert sorted(appointment["required"]) == ["customer", "start"]
    assert appointment["additionalProperties"] is False


def test_it_serves_interactive_documentation(client, db):
    response = client.get(f"{API}/docs")

    assert response.status_code == 200
    assert b"openapi.json" in response.content


# --- Booking twice --------------------------------------------------------------------


def post_with_key(client: Client, body: dict, key: str) -> HttpResponse:
    return documented(
        client.post(
            f"{API}/appointments",
            json.dumps(body),
            content_type="application/json",
            headers={"Idempotency-Key": key},
        )
    )


def test_it_answers_a_repeated_idempotency_key_with_the_first_booking(client, demo, at_monday_morning):
    body = booking(demo.local(TUESDAY, 10), service=demo.haircut)
    key = "4f1b9c7e-8d2a-4c3b-9e5f-0a1b2c3d4e5f"

    first = post_with_key(client, body, key)
    # The same request, spelled differently: another offset, the keys reordered.
    again_body = {**body, "start": "2027-03-16T17:00:00Z"}
    again = post_with_key(client, dict(reversed(again_body.items())), key)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotency-Key"] == key
    assert Appointment.objects.count() == 1


def test_it_refuses_an_idempotency_key_reused_for_another_booking(client, demo, at_monday_morning):
    key = "4f1b9c7e-8d2a-4c3b-9e5f-0a1b2c3d4e5f"
    post_with_key(client, booking(demo.local(TUESDAY, 10), service=demo.haircut), key)

    other = post_with_key(client, booking(demo.local(TUESDAY, 14), service=demo.haircut), key)

    assert other.status_code == 422
    assert other.json()["code"] == "request_key_reused"
    assert "new key" in other.json()["detail"]
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize("key", ["short", "x" * 256, "with a space in the key"])
def test_it_refuses_a_malformed_idempotency_key(client, demo, at_monday_morning, key):
    response = post_with_key(client, booking(demo.local(TUESDAY, 10), service=demo.haircut), key)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert Appointment.objects.count() == 0


def test_it_forgets_an_idempotency_key_after_a_day(client, demo, time_machine):
    time_machine.move_to(MONDAY_MORNING, tick=False)
    key = "4f1b9c7e-8d2a-4c3b-9e5f-0a1b2c3d4e5f"
    body = booking(demo.local(TUESDAY, 14), service=demo.haircut, stylist=demo.ben)
    first = post_with_key(client, body, key)
    time_machine.move_to(MONDAY_MORNING + timedelta(hours=23, minutes=59), tick=False)
    assert post_with_key(client, body, key).json()["id"] == first.json()["id"]

    time_machine.move_to(MONDAY_MORNING + timedelta(hours=24), tick=False)
    later = post_with_key(client, body, key)

    # Booked again from scratch: Ben is taken by the first booking now.
    assert later.status_code == 409
    assert later.json()["code"] in {"taken", "already_booked"}


def test_it_refuses_the_same_customer_the_same_service_at_the_same_start(client, demo, at_monday_morning):
    start = demo.local(TUESDAY, 10)
    post(client, "/appointments", booking(start, service=demo.haircut, stylist=demo.ana))

    # Ben is free then, but this customer already holds a haircut at 10:00.
    again = post(
        client,
        "/appointments",
        booking(start, service=demo.haircut, stylist=demo.ben, email="ALEX@example.com"),
    )

    assert again.status_code == 409
    assert again.json() == {"detail": Problem.ALREADY_BOOKED.value, "code": "already_booked"}
    assert b"manage" not in again.content and b"token" not in again.content
    assert Appointment.objects.count() == 1
    # Someone else may book Ben then, and this customer another service or time.
    assert (
        post(client, "/appointments", booking(start, service=demo.haircut, email="b@example.com")).status_code
        == 201
    )
    other = booking(demo.local(TUESDAY, 14), service=demo.haircut)
    assert post(client, "/appointments", other).status_code == 201
