"""What every e-mail says: the salon's address and phone, the time in the salon's
zone with its name, the manage link, in a plain-text and an HTML part; sent
through a real SMTP server on loopback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar

from chairtime.booking import selectors, services
from chairtime.booking.models import Appointment
from chairtime.booking.services import ItemRequest
from chairtime.messages import outbox
from chairtime.messages.models import Message
from chairtime.messages.tests.conftest import run_worker

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "500 Market St & 2nd, San Francisco, CA 94105"
PHONE = "+1 415 555 0100"


@pytest.fixture
def salon(demo_tx):
    demo_tx.salon.address = ADDRESS
    demo_tx.salon.phone = PHONE
    demo_tx.salon.save()
    return demo_tx


def book(demo, hour: int = 10) -> list[Appointment]:
    return services.visit_book(
        items=[ItemRequest(demo.haircut.pk, demo.ben.pk)],
        start=demo.local(demo.next_working_day(), hour),
        customer_name="Alex Doe",
        customer_email="alex@example.com",
    )


def move(appointment: Appointment, by: timedelta) -> list[Appointment]:
    """What a reschedule writes, then owes (visit_changed, by another change)."""
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=appointment.starts_at + by, ends_at=appointment.ends_at + by
    )
    visit = selectors.visit_appointment_list(appointment)
    outbox._owe(Message.Kind.VISIT_CHANGED, visit, None)
    outbox.plan_reminders(visit)
    return visit


def email_of_kind(smtp, kind: str):
    (message,) = Message.objects.filter(kind=kind, state="sent")
    (email,) = [e for e in smtp.received if e["X-Chairtime-Message"] == str(message.pk)]
    return email


def calendar_parts(email):
    return [p for p in email.iter_attachments() if p.get_content_type() == "text/calendar"]


def test_every_kind_of_email_names_the_salon_the_time_in_its_zone_and_the_manage_link(
    salon, smtp, time_machine
):
    (appointment,) = book(salon)
    run_worker()
    (appointment,) = move(appointment, timedelta(hours=4))  # 10:00 -> 14:00
    run_worker()
    time_machine.move_to(appointment.starts_at - timedelta(hours=2), tick=True)
    run_worker()  # the 2-hour reminder of 14:00 (the 24-hour one is skipped: superseded)
    services.appointment_cancel(appointment_id=appointment.pk)
    run_worker()

    kinds = {
        "visit_booked": ("is booked", "10:00 AM"),
        "visit_changed": ("is moved to", "2:00 PM"),
        "reminder": ("Reminder: your appointment", "2:00 PM"),
        "visit_cancelled": ("is cancelled", "2:00 PM"),
    }
    for kind, (subject, time) in kinds.items():
        email = email_of_kind(smtp, kind)
        assert subject in email["Subject"], kind
        zone_abbreviation = appointment.starts_at.astimezone(salon.salon.tz).tzname()  # PST or PDT
        text = email.get_body(("plain",)).get_content()
        html = email.get_body(("html",)).get_content()
        for body in (text, html):
            assert f"{time} \u2013" in body, (kind, body)
            assert zone_abbreviation in body and "America/Los_Angeles" in body, kind
            assert f"Phone: {PHONE}" in body, kind
            assert "https://salon.example/booking/" in body, kind
        assert ADDRESS in text, kind
        assert ADDRESS.replace("&", "&amp;") in html, kind
    assert [len(calendar_parts(email_of_kind(smtp, kind))) for kind in kinds] == [1, 1, 0, 1]


def test_a_salon_without_address_or_phone_leaves_those_lines_out(demo_tx, smtp):
    book(demo_tx)
    run_worker()

    (email,) = smtp.received
    text = email.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.rstrip().endswith("See you soon,\nDemo Salon")
    assert "Phone" not in email.get_body(("html",)).get_content()


def test_a_change_of_time_is_not_confirmed_at_the_old_time(salon, smtp):
    (appointment,) = book(salon)
    move(appointment, timedelta(hours=4))

    run_worker()

    (email,) = smtp.received  # only the change, at the new time
    assert "is moved to" in email["Subject"]
    assert dict(Message.objects.exclude(kind="reminder").values_list("kind", "state")) == {
        "visit_booked": "skipped",
        "visit_changed": "sent",
    }


def test_the_calendar_event_is_requested_moved_and_cancelled_as_one(salon, smtp):
    (appointment,) = book(salon)
    run_worker()
    (moved,) = move(appointment, timedelta(hours=4))
    run_worker()
    services.appointment_cancel(appointment_id=appointment.pk)
    run_worker()

    calendars = [
        Calendar.from_ical(calendar_parts(email_of_kind(smtp, kind))[0].get_payload(decode=True))
        for kind in ("visit_booked", "visit_changed", "visit_cancelled")
    ]
    methods = [str(c["METHOD"]) for c in calendars]
    booked, changed, cancelled = (c.walk("VEVENT")[0] for c in calendars)
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]
    assert booked["UID"] == changed["UID"] == cancelled["UID"]
    assert booked["SEQUENCE"] < changed["SEQUENCE"] < cancelled["SEQUENCE"]
    assert booked.decoded("DTSTART") == appointment.starts_at
    assert changed.decoded("DTSTART") == moved.starts_at
    assert str(changed["STATUS"]) == "CONFIRMED" and str(cancelled["STATUS"]) == "CANCELLED"
    assert {str(e["LOCATION"]) for e in (booked, changed, cancelled)} == {ADDRESS}
    assert [len(e.walk("VALARM")) for e in (booked, changed, cancelled)] == [1, 1, 0]
