"""Customers' e-mails, end to end: booked or cancelled through the API or the
services, delivered by the worker through a real SMTP server on loopback."""

from __future__ import annotations

import itertools
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from icalendar import Calendar

from chairtime.booking import services
from chairtime.booking.models import Appointment
from chairtime.booking.services import ItemRequest
from chairtime.messages import outbox, tasks
from chairtime.messages.models import Message
from chairtime.messages.tests.conftest import run_worker, run_workers_at_once

pytestmark = pytest.mark.django_db(transaction=True)

_customers = itertools.count()


@pytest.fixture(autouse=True)
def no_reminders(demo_tx):
    """These tests follow confirmations and cancellations; reminders (test_reminders)
    would add messages due days later."""
    demo_tx.salon.reminder_minutes = ""
    demo_tx.salon.save()


def api_book(client, demo, start, *, stylist=None, email=None) -> dict:
    response = client.post(
        "/api/v1/appointments",
        {
            "service": demo.haircut.pk,
            "stylist": stylist.pk if stylist else demo.ben.pk,
            "start": start.isoformat(),
            "customer": {"name": "Alex Doe", "email": email or f"alex{next(_customers)}@example.com"},
        },
        content_type="application/json",
    )
    return response


def calendar_of(email) -> Calendar:
    (part,) = [p for p in email.iter_attachments() if p.get_content_type() == "text/calendar"]
    return Calendar.from_ical(part.get_payload(decode=True))


def event_of(calendar: Calendar):
    (event,) = calendar.walk("VEVENT")
    return event


def test_it_delivers_a_booking_confirmation_with_its_calendar_event(client, demo_tx, smtp):
    start = demo_tx.local(demo_tx.next_working_day(), 10)

    response = api_book(client, demo_tx, start, email="alex@example.com")
    assert response.status_code == 201, response.content
    run_worker()

    (email,) = smtp.received
    assert email["To"] == "alex@example.com"
    assert email["Subject"].startswith("Your appointment at Demo Salon on ")
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    for body in (text, html):
        assert "10:00 AM" in body  # the salon's wall-clock time, not UTC's 18:00
        assert "America/Los_Angeles" in body
        assert "Haircut with Ben" in body
        assert "https://salon.example/booking/" in body
    appointment = Appointment.objects.get(pk=response.json()["id"])
    event = event_of(calendar := calendar_of(email))
    assert str(calendar["METHOD"]) == "REQUEST"
    assert event["UID"] == f"visit-{appointment.visit_id}@chairtime"
    assert event["SEQUENCE"] == 0
    dtstart = event.decoded("DTSTART")
    assert dtstart.tzinfo == ZoneInfo("America/Los_Angeles")
    assert dtstart == appointment.starts_at  # the same instant
    assert event.decoded("DTEND") == appointment.ends_at
    assert str(event["STATUS"]) == "CONFIRMED"
    assert calendar.walk("VTIMEZONE")  # calendars need the zone's rules
    message = Message.objects.get()
    assert (message.state, message.attempts, message.kind) == ("sent", 1, "visit_booked")
    assert message.sent_at is not None


def test_it_confirms_a_visit_of_two_services_as_one_event(demo_tx, smtp):
    start = demo_tx.local(demo_tx.next_working_day(), 9)

    first, second = services.visit_book(
        items=[
            ItemRequest(demo_tx.colour.pk, demo_tx.ana.pk),
            ItemRequest(demo_tx.haircut.pk, demo_tx.ben.pk),
        ],
        start=start,
        customer_name="Alex Doe",
        customer_email="alex@example.com",
    )
    run_worker()

    (email,) = smtp.received
    text = email.get_body(("plain",)).get_content()
    assert "Colour with Ana" in text and "Haircut with Ben" in text
    event = event_of(calendar_of(email))
    assert event.decoded("DTSTART") == first.starts_at
    assert event.decoded("DTEND") == second.ends_at


def test_it_delivers_a_cancellation_that_removes_the_calendar_event(client, demo_tx, smtp):
    start = demo_tx.local(demo_tx.next_working_day(), 10)
    booked = api_book(client, demo_tx, start).json()
    run_worker()

    response = client.post(f"/api/v1/appointments/{booked['id']}/cancel?token={booked['manage_token']}")
    assert response.status_code == 200, response.content
    run_worker()

    confirmation, cancellation = smtp.received
    assert "cancelled" in cancellation["Subject"]
    assert "is cancelled" in cancellation.get_body(("plain",)).get_content()
    booked_event, cancelled_event = event_of(calendar_of(confirmation)), event_of(calendar_of(cancellation))
    assert str(calendar_of(cancellation)["METHOD"]) == "CANCEL"
    assert cancelled_event["UID"] == booked_event["UID"]
    assert cancelled_event["SEQUENCE"] > booked_event["SEQUENCE"]
    assert str(cancelled_event["STATUS"]) == "CANCELLED"


def test_it_confirms_at_once_while_the_smtp_server_is_down_and_delivers_when_it_is_back(
    client, demo_tx, smtp, time_machine
):
    smtp.stop()
    start = demo_tx.local(demo_tx.next_working_day(), 10)

    response = api_book(client, demo_tx, start)
    assert response.status_code == 201  # the booking does not wait for the mail server
    run_worker()

    message = Message.objects.get()
    assert (message.state, message.attempts) == ("pending", 1)
    assert "Connection" in message.last_error
    assert message.next_attempt_at > timezone.now()  # backing off

    smtp.start()
    run_worker()
    assert smtp.received == []  # not before its back-off
    time_machine.move_to(message.next_attempt_at + timedelta(seconds=1), tick=True)
    run_worker()

    assert len(smtp.received) == 1
    message.refresh_from_db()
    assert (message.state, message.attempts, message.last_error) == ("sent", 2, "")


def test_it_retries_with_a_longer_wait_when_the_server_refuses(demo_tx, smtp, time_machine, settings):
    settings.MESSAGES_RETRY_SECONDS = 10
    smtp.inbox.refusing = True
    book(demo_tx)

    waits = []
    for _ in range(3):
        run_worker()
        message = Message.objects.get()
        waits.append(round((message.next_attempt_at - timezone.now()).total_seconds()))
        time_machine.move_to(message.next_attempt_at + timedelta(seconds=1), tick=True)
    assert waits == [10, 20, 40]
    assert "451" in message.last_error
    smtp.inbox.refusing = False
    run_worker()

    assert len(smtp.received) == 1
    assert Message.objects.get().attempts == 4


def test_it_gives_up_after_the_last_attempt(demo_tx, smtp, time_machine, settings):
    settings.MESSAGES_MAX_ATTEMPTS = 2
    smtp.stop()
    book(demo_tx)

    run_worker()
    time_machine.move_to(Message.objects.get().next_attempt_at + timedelta(seconds=1), tick=True)
    run_worker()

    message = Message.objects.get()
    assert (message.state, message.attempts) == ("failed", 2)
    assert not DBTaskResult.objects.ready().exists()


def test_a_refused_booking_sends_nothing(client, demo_tx, smtp):
    start = demo_tx.local(demo_tx.next_working_day(), 10)
    assert api_book(client, demo_tx, start).status_code == 201

    refused = api_book(client, demo_tx, start)  # Ben is taken at 10:00
    assert refused.status_code == 409
    run_worker()

    assert Message.objects.count() == 1
    assert DBTaskResult.objects.count() == 1
    assert len(smtp.received) == 1


def test_a_booking_rolled_back_after_its_message_was_written_leaves_no_trace(demo_tx, smtp, monkeypatch):
    write = outbox.visit_booked

    def write_then_fail(appointments, **kwargs):
        write(appointments, **kwargs)
        raise RuntimeError("a later step of the booking failed")

    monkeypatch.setattr(outbox, "visit_booked", write_then_fail)
    with pytest.raises(RuntimeError):
        book(demo_tx)
    run_worker()

    assert not Appointment.objects.exists()
    assert not Message.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert smtp.received == []


def test_it_does_not_confirm_a_visit_cancelled_before_its_turn(demo_tx, smtp):
    (appointment,) = book(demo_tx)
    services.appointment_cancel(appointment_id=appointment.pk)

    run_worker()

    (email,) = smtp.received
    assert "cancelled" in email["Subject"]
    states = dict(Message.objects.values_list("kind", "state"))
    assert states == {"visit_booked": "skipped", "visit_cancelled": "sent"}


def test_a_message_whose_recipient_was_erased_is_skipped_not_retried(demo_tx, smtp):
    # The state an erasure leaves a message in that a worker had claimed and failed:
    # waiting again, without an address (chairtime/clients' erasure blanks it).
    (appointment,) = book(demo_tx)
    Message.objects.filter(appointment=appointment).update(recipient="", attempts=1)

    run_worker()

    assert smtp.received == []
    assert set(Message.objects.values_list("state", flat=True)) == {"skipped"}


def test_two_workers_never_send_one_message_twice(demo_tx, smtp):
    day = demo_tx.next_working_day()
    for hour in (9, 10, 11, 14, 15, 16):
        for stylist in (demo_tx.ana, demo_tx.ben):
            book(demo_tx, demo_tx.local(day, hour), stylist)
    # A second task for every message, as the sweep could give: the message's own
    # claim must hold even when the queue hands one message to two workers.
    for message_id in Message.objects.values_list("pk", flat=True):
        tasks.deliver.enqueue(message_id)

    run_workers_at_once(2)

    sent = sorted(int(email["X-Chairtime-Message"]) for email in smtp.received)
    assert sent == sorted(Message.objects.values_list("pk", flat=True))  # each once
    assert len(sent) == 12
    assert set(Message.objects.values_list("state", "attempts")) == {("sent", 1)}


def test_the_sweep_resends_what_a_killed_worker_left_behind(demo_tx, smtp, time_machine):
    book(demo_tx)
    message = Message.objects.get()
    # A worker claimed the message and its task, then was killed before sending.
    assert outbox.claim(message.pk, timezone.now()) is not None
    DBTaskResult.objects.update(status="RUNNING")

    run_worker()
    assert outbox.sweep() == 0  # its claim still holds: it may yet be sent
    assert smtp.received == []
    time_machine.move_to(timezone.now() + outbox.claim_for() + timedelta(seconds=1), tick=True)
    assert outbox.sweep() == 1
    run_worker()

    assert len(smtp.received) == 1
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("sent", 2)


def book(demo, start=None, stylist=None) -> list[Appointment]:
    return services.visit_book(
        items=[ItemRequest(demo.haircut.pk, (stylist or demo.ben).pk)],
        start=start or demo.local(demo.next_working_day(), 10),
        customer_name="Alex Doe",
        customer_email=f"alex{next(_customers)}@example.com",
    )


def test_a_storm_of_bookings_with_the_server_stopped_midway_loses_and_repeats_nothing(
    demo_tx, smtp, time_machine, settings
):
    day = demo_tx.next_working_day()
    starts = [demo_tx.local(day, hour) for hour in (9, 10, 11, 14, 15, 16, 17)]
    slots = [(start, stylist) for start in starts for stylist in (demo_tx.ana, demo_tx.ben)]
    thirds = [slots[:5], slots[5:10], slots[10:]]

    for start, stylist in thirds[0]:
        book(demo_tx, start, stylist)
    run_workers_at_once(2)
    smtp.stop()
    for start, stylist in thirds[1]:
        book(demo_tx, start, stylist)
    run_workers_at_once(2)
    smtp.start()
    for start, stylist in thirds[2]:
        book(demo_tx, start, stylist)
    run_workers_at_once(2)
    time_machine.move_to(timezone.now() + timedelta(seconds=settings.MESSAGES_RETRY_SECONDS + 1), tick=True)
    run_workers_at_once(2)

    sent = [int(email["X-Chairtime-Message"]) for email in smtp.received]
    booked = len(slots)
    retried = Message.objects.filter(attempts__gt=1).count()
    assert (len(sent), len(set(sent)), retried) == (booked, booked, len(thirds[1]))
    assert set(Message.objects.values_list("state", flat=True)) == {"sent"}
