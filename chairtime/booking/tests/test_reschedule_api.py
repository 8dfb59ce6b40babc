"""POST /api/v1/appointments/{id}/reschedule and the change notice on the API's
cancel, through HTTP; each answer checked against the OpenAPI document."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.test import Client

from chairtime.booking.models import Appointment
from chairtime.booking.tests.test_api import (
    API,
    TUESDAY,
    at_monday_morning,
    book,
    booking,
    documented,
    post,
    post_with_key,
)
from chairtime.messages.models import Message

__all__ = ["at_monday_morning"]  # a fixture, used by name

KEY = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def reschedule(client: Client, booked: dict, body, *, token=None, key=None) -> HttpResponse:
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {"Idempotency-Key": key} if key else {}
    url = f"{API}/appointments/{booked['id']}/reschedule?token={token or booked['manage_token']}"
    return documented(client.post(url, data, content_type="application/json", headers=headers))


def test_it_moves_an_appointment_and_answers_as_a_booking_does(client, demo, at_monday_morning):
    booked = book(client, demo, demo.local(TUESDAY, 10), stylist=demo.ana)

    response = reschedule(client, booked, {"start": demo.local(TUESDAY, 10, 30).isoformat()})

    assert response.status_code == 200, response.content
    moved = response.json()
    assert moved["id"] == booked["id"]
    assert moved["start"] == "2027-03-16T10:30:00-07:00"
    assert moved["end"] == "2027-03-16T11:30:00-07:00"
    assert moved["stylist"] == demo.ana.pk
    assert moved["price"] == booked["price"]
    assert [item["start"] for item in moved["items"]] == ["2027-03-16T10:30:00-07:00"]
    read = client.get(f"{API}/appointments/{booked['id']}?token={booked['manage_token']}")
    assert read.json()["start"] == moved["start"]  # the same link reads the new time
    assert Message.objects.filter(kind=Message.Kind.VISIT_CHANGED).count() == 1


def test_null_is_any_stylist_and_absent_keeps_the_stylist(client, demo, at_monday_morning):
    booked = book(client, demo, demo.local(TUESDAY, 10), stylist=demo.ana)
    book(client, demo, demo.local(TUESDAY, 14), stylist=demo.ana)

    kept = reschedule(client, booked, {"start": demo.local(TUESDAY, 11).isoformat()})
    assert kept.json()["stylist"] == demo.ana.pk
    taken = reschedule(client, booked, {"start": demo.local(TUESDAY, 14).isoformat()})
    assert taken.status_code == 409
    assert taken.json()["code"] == "taken"
    anyone = reschedule(client, booked, {"start": demo.local(TUESDAY, 14).isoformat(), "stylist": None})
    assert anyone.status_code == 200
    assert anyone.json()["stylist"] == demo.ben.pk


def test_it_moves_a_visit_with_a_stylist_per_service(client, demo, at_monday_morning):
    body = {
        "items": [{"service": demo.colour.pk, "stylist": demo.ana.pk}, {"service": demo.haircut.pk}],
        "start": demo.local(TUESDAY, 9).isoformat(),
        "customer": {"name": "Alex Doe", "email": "visit@example.com"},
    }
    booked = post(client, "/appointments", body).json()

    response = reschedule(
        client,
        booked,
        {"start": demo.local(TUESDAY, 13, 30).isoformat(), "items": [{}, {"stylist": demo.ben.pk}]},
    )

    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert [(i["stylist"], i["start"][11:16]) for i in items] == [
        (demo.ana.pk, "13:30"),
        (demo.ben.pk, "15:30"),
    ]
    wrong = reschedule(client, booked, {"start": demo.local(TUESDAY, 14).isoformat(), "items": [{}]})
    assert (wrong.status_code, wrong.json()["code"]) == (422, "visit_shape")


def test_it_refuses_a_wrong_token_like_a_missing_appointment(client, demo, at_monday_morning):
    booked = book(client, demo, demo.local(TUESDAY, 10))

    response = reschedule(client, booked, {"start": demo.local(TUESDAY, 11).isoformat()}, token="forged")

    assert response.status_code == 404
    assert response.json()["code"] == "appointment_not_found"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, "start"),
        ({"start": "2027-03-16T10:30:00"}, "start"),
        ({"start": "2027-03-16T10:30:00-07:00", "stylst": 1}, "stylst"),
        ({"start": "2027-03-16T10:30:00-07:00", "stylist": None, "items": [{}]}, ""),
    ],
)
def test_it_explains_a_malformed_body(client, demo, at_monday_morning, body, where):
    booked = book(client, demo, demo.local(TUESDAY, 10))

    response = reschedule(client, booked, body)

    assert response.status_code == 422
    assert where in response.json()["detail"]


def test_a_cancelled_appointment_cannot_be_moved(client, demo, at_monday_morning):
    booked = book(client, demo, demo.local(TUESDAY, 10))
    post(client, f"/appointments/{booked['id']}/cancel?token={booked['manage_token']}")

    response = reschedule(client, booked, {"start": demo.local(TUESDAY, 11).isoformat()})

    assert response.status_code == 409
    assert response.json()["code"] == "appointment_cancelled"
    assert "book a new time" in response.json()["detail"]


def test_the_same_time_changes_nothing_and_sends_nothing(client, demo, at_monday_morning):
    booked = book(client, demo, demo.local(TUESDAY, 10))

    response = reschedule(client, booked, {"start": booked["start"]})

    assert response.status_code == 200
    assert response.json()["start"] == booked["start"]
    assert not Message.objects.filter(kind=Message.Kind.VISIT_CHANGED).exists()


def test_a_repeated_idempotency_key_moves_once(client, demo, at_monday_morning):
    booked = book(client, demo, demo.local(TUESDAY, 10))
    body = {"start": demo.local(TUESDAY, 11).isoformat()}

    first = reschedule(client, booked, body, key=KEY)
    # Meanwhile the customer moves it again without a key; a late retry of the
    # first must not move it back.
    reschedule(client, booked, {"start": demo.local(TUESDAY, 15).isoformat()})
    again = reschedule(client, booked, {"start": "2027-03-16T18:00:00Z"}, key=KEY)

    assert first.status_code == again.status_code == 200
    assert again["Idempotency-Key"] == KEY
    assert again.json()["start"] == "2027-03-16T15:00:00-07:00"
    assert Message.objects.filter(kind=Message.Kind.VISIT_CHANGED).count() == 2
    other = reschedule(client, booked, {"start": demo.local(TUESDAY, 16).isoformat()}, key=KEY)
    assert (other.status_code, other.json()["code"]) == (422, "request_key_reused")
    bad = reschedule(client, booked, body, key="short")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_idempotency_key")


def test_a_key_used_to_book_is_not_taken_for_a_reschedule(client, demo, at_monday_morning):
    booked = post_with_key(client, booking(demo.local(TUESDAY, 10), service=demo.haircut), KEY).json()

    response = reschedule(client, booked, {"start": demo.local(TUESDAY, 11).isoformat()}, key=KEY)

    assert response.status_code == 200, response.content
    assert response.json()["start"] == "2027-03-16T11:00:00-07:00"


# --- The change notice ----------------------------------------------------------------


@pytest.fixture
def day_notice(demo):
    demo.salon.change_notice_minutes = 24 * 60
    demo.salon.phone = "+1 555 0199"
    demo.salon.save()
    return demo


def test_inside_the_notice_moving_and_cancelling_are_refused_with_the_phone(client, day_notice, time_machine):
    time_machine.move_to(day_notice.local(TUESDAY, 9) - timedelta(days=2), tick=False)
    booked = book(client, day_notice, day_notice.local(TUESDAY, 10))
    time_machine.move_to(day_notice.local(TUESDAY, 10) - timedelta(hours=23), tick=False)

    moved = reschedule(client, booked, {"start": day_notice.local(TUESDAY, 15).isoformat()})
    cancelled = post(client, f"/appointments/{booked['id']}/cancel?token={booked['manage_token']}")

    for response in (moved, cancelled):
        assert response.status_code == 409
        assert response.json()["code"] == "too_late_to_change"
        assert "call the salon at +1 555 0199" in response.json()["detail"]
    assert Appointment.objects.get().is_confirmed


def test_the_openapi_document_lists_the_reschedule_and_its_key(client, db):
    document = client.get(f"{API}/openapi.json").json()

    operation = document["paths"]["/api/v1/appointments/{appointment_id}/reschedule"]["post"]
    assert {"200", "404", "409", "422", "429"} <= set(operation["responses"])
    assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]
