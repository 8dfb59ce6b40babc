"""The change e-mail: a visit moved through the API reaches the customer through
a real SMTP server on loopback, with the new time and the updated calendar event."""

from __future__ import annotations

import pytest

from chairtime.messages.models import Message
from chairtime.messages.tests.conftest import run_worker
from chairtime.messages.tests.test_delivery import api_book, calendar_of, event_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_delivers_the_new_time_and_moves_the_calendar_event(client, demo_tx, smtp):
    day = demo_tx.next_working_day()
    booked = api_book(client, demo_tx, demo_tx.local(day, 10), email="alex@example.com").json()
    run_worker()

    response = client.post(
        f"/api/v1/appointments/{booked['id']}/reschedule?token={booked['manage_token']}",
        {"start": demo_tx.local(day, 15, 30).isoformat()},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    run_worker()

    confirmation, change = smtp.received
    assert change["To"] == "alex@example.com"
    assert "moved" in change["Subject"]
    for body in (change.get_body(("plain",)).get_content(), change.get_body(("html",)).get_content()):
        assert "3:30 PM" in body  # the salon's wall-clock time
        assert "10:00 AM" not in body
        assert "America/Los_Angeles" in body
        assert "https://salon.example/booking/" in body
        assert "has a new time" in body and "is booked for" not in body
        assert "moves it in your calendar" in body
    booked_event, moved_event = event_of(calendar_of(confirmation)), event_of(calendar_of(change))
    assert str(calendar_of(change)["METHOD"]) == "REQUEST"
    assert moved_event["UID"] == booked_event["UID"]  # the same event, updated
    assert moved_event["SEQUENCE"] > booked_event["SEQUENCE"]
    assert moved_event.decoded("DTSTART") == demo_tx.local(day, 15, 30)
    assert Message.objects.get(kind=Message.Kind.VISIT_CHANGED).state == Message.State.SENT


def test_a_change_cancelled_before_its_turn_is_not_sent(client, demo_tx, smtp):
    day = demo_tx.next_working_day()
    booked = api_book(client, demo_tx, demo_tx.local(day, 10)).json()
    token = booked["manage_token"]
    client.post(
        f"/api/v1/appointments/{booked['id']}/reschedule?token={token}",
        {"start": demo_tx.local(day, 11).isoformat()},
        content_type="application/json",
    )
    client.post(f"/api/v1/appointments/{booked['id']}/cancel?token={token}")

    run_worker()

    kinds = dict(Message.objects.values_list("kind", "state"))
    assert kinds[Message.Kind.VISIT_CHANGED] == Message.State.SKIPPED
    assert [m["Subject"] for m in smtp.received if "moved" in m["Subject"]] == []
