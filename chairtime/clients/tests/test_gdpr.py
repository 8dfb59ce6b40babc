"""A client's data on request (GDPR): the export, and erasure with the salon's
records kept anonymised."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from chairtime.booking import services
from chairtime.booking.models import Appointment, WaitlistEntry
from chairtime.clients import services as client_cards
from chairtime.clients.models import Client, ClientAppointment, ColourFormula
from chairtime.clients.tests.conftest import CREATED, make_card, visit_of
from chairtime.messages import outbox
from chairtime.messages.models import Message

DAY = date(2027, 3, 15)  # a Monday
NOW = datetime(2027, 3, 12, 18, 0, tzinfo=UTC)
AFTER = datetime(2027, 3, 20, tzinfo=UTC)  # the visits are over


@pytest.fixture
def booked(demo):
    """Alex's two visits (booked online: card, links and messages as in real life)
    and a formula; and Sam, another client, who must not be touched. No reminders
    (the salon sends none here), so the messages are the visits' own."""
    demo.salon.reminder_minutes = ""
    demo.salon.save()
    visits = [
        services.appointment_book(
            service_id=demo.haircut.pk,
            stylist_id=demo.ana.pk,
            start=demo.local(DAY, hh),
            customer_name="Alex Doe",
            customer_email="Alex@example.com",
            customer_phone="+1 415 555 0100",
            now=NOW,
        )
        for hh in (10, 14)
    ]
    services.appointment_cancel(appointment_id=visits[1].pk, now=NOW)
    sam = services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=demo.ben.pk,
        start=demo.local(DAY, 10),
        customer_name="Sam Roe",
        customer_email="sam@example.com",
        now=NOW,
    )
    card = Client.objects.get(email="alex@example.com")
    card.notes = "Prefers Ana."
    card.save()
    ColourFormula.objects.create(
        client=card, appointment=visits[0], date=DAY, text="6.1, 20 vol", created_at=NOW
    )
    return card, visits, sam


def test_the_export_is_a_json_download_of_everything_about_the_client(client, demo, desk, booked, caplog):
    card, visits, _ = booked
    client.force_login(desk)

    with caplog.at_level(logging.INFO, logger="chairtime.clients"):
        response = client.get(f"/staff/clients/{card.pk}/export/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="client-{card.pk}.json"'
    data = json.loads(response.content)
    assert data["client"]["name"] == "Alex Doe"
    assert data["client"]["email"] == "alex@example.com"
    assert data["client"]["notes"] == "Prefers Ana."
    assert [f["text"] for f in data["colour_formulas"]] == ["6.1, 20 vol"]
    assert [(a["id"], a["status"]) for a in data["appointments"]] == [
        (visits[0].pk, "confirmed"),
        (visits[1].pk, "cancelled"),
    ]
    assert data["appointments"][0]["starts_at"] == "2027-03-15T17:00:00+00:00"
    # Two confirmations and a cancellation, all to Alex; nothing of Sam's.
    assert sorted(m["kind"] for m in data["messages"]) == ["visit_booked", "visit_booked", "visit_cancelled"]
    assert {m["recipient"] for m in data["messages"]} == {"Alex@example.com"}
    assert "Sam" not in response.content.decode()
    assert "client data exported" in caplog.text


def test_the_confirm_page_says_what_erasing_does(client, demo, manager, booked):
    card, _, _ = booked
    client.force_login(manager)

    response = client.get(f"/staff/clients/{card.pk}/erase/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Erase Alex Doe?</h1>" in page
    assert "cannot be undone" in page
    assert "2 appointments are kept" in page
    assert Client.objects.get(pk=card.pk).name == "Alex Doe"  # a GET erases nothing


def test_erasing_needs_the_delete_permission(client, demo, desk, booked):
    card, _, _ = booked
    client.force_login(desk)

    assert client.get(f"/staff/clients/{card.pk}/erase/").status_code == 403
    assert client.post(f"/staff/clients/{card.pk}/erase/").status_code == 403
    assert Client.objects.get(pk=card.pk).erased_at is None


def test_erasing_blanks_the_card_and_keeps_the_appointments_anonymised(
    client, demo, manager, booked, caplog, time_machine
):
    card, visits, sam = booked
    time_machine.move_to(AFTER, tick=False)
    client.force_login(manager)

    with caplog.at_level(logging.INFO, logger="chairtime.clients"):
        response = client.post(f"/staff/clients/{card.pk}/erase/")

    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.name, card.email, card.phone, card.notes) == ("", None, "", "")
    assert card.erased_at == AFTER
    assert card.erased_by == manager
    assert not ColourFormula.objects.exists()
    kept = Appointment.objects.filter(pk__in=[v.pk for v in visits]).order_by("pk")
    assert [(a.customer_name, a.customer_email, a.customer_phone) for a in kept] == [
        ("Erased client", "", ""),
        ("Erased client", "", ""),
    ]
    assert [a.status for a in kept] == ["confirmed", "cancelled"]  # the salon's records stay
    assert set(ClientAppointment.objects.filter(client=card).values_list("appointment_id", flat=True)) == {
        v.pk for v in visits
    }
    alex_messages = Message.objects.exclude(appointment=sam)
    assert alex_messages.count() == 3
    assert set(alex_messages.values_list("recipient", "last_error")) == {("", "")}
    assert "pending" not in set(alex_messages.values_list("state", flat=True))
    # Sam is untouched.
    sam.refresh_from_db()
    assert (sam.customer_name, sam.customer_email) == ("Sam Roe", "sam@example.com")
    assert Message.objects.get(appointment=sam).recipient == "sam@example.com"
    assert Client.objects.get(email="sam@example.com").name == "Sam Roe"
    # Who and when, in the log; never the name.
    record = next(r for r in caplog.records if r.getMessage() == "client erased")
    assert (record.client_id, record.erased_by, record.appointments, record.formulas) == (
        card.pk,
        manager.pk,
        2,
        1,
    )
    assert "Alex" not in caplog.text

    page = client.get(f"/staff/clients/{card.pk}/").content.decode()
    assert "Erased on 2027-03-19 17:00 PDT" in page and "by manager" in page  # the salon's time
    assert "Save notes" not in page and "Erase this client" not in page
    exported = json.loads(client.get(f"/staff/clients/{card.pk}/export/").content)
    assert "Alex" not in json.dumps(exported) and "alex@" not in json.dumps(exported).lower()


def test_an_erased_card_takes_no_notes_and_is_not_erased_twice(client, demo, manager, booked, time_machine):
    card, _, _ = booked
    time_machine.move_to(AFTER, tick=False)
    client_cards.client_erase(client_id=card.pk, by=manager)
    client.force_login(manager)

    notes = client.post(f"/staff/clients/{card.pk}/notes/", {"notes": "again"})
    again = client.post(f"/staff/clients/{card.pk}/erase/")

    assert notes.status_code == 409
    assert "This client was erased" in notes.content.decode()
    assert again.status_code == 409
    assert Client.objects.get(pk=card.pk).notes == ""


def test_it_will_not_erase_a_client_with_a_visit_to_come(client, demo, manager, time_machine):
    card = make_card(demo)
    visit_of(card, demo, datetime(2027, 3, 15, 17, tzinfo=UTC))
    visit_of(card, demo, datetime(2026, 2, 2, 17, tzinfo=UTC))
    time_machine.move_to(CREATED + timedelta(days=400))  # 2027-02-09: one visit is still to come
    client.force_login(manager)

    response = client.post(f"/staff/clients/{card.pk}/erase/")

    assert response.status_code == 409
    assert "This client has an appointment still to come: cancel it first" in response.content.decode()
    card.refresh_from_db()
    assert card.erased_at is None and card.name == "Alex Doe"
    assert not Appointment.objects.filter(customer_name="Erased client").exists()


def test_erasing_leaves_and_blanks_the_client_s_waitlist_places_and_their_messages(
    client, demo, manager, booked, time_machine
):
    card, _, _ = booked
    places = {
        email: WaitlistEntry.objects.create(
            service=demo.haircut,
            date=AFTER.date() + timedelta(days=3),
            customer_name=email.split("@")[0],
            customer_email=email,
            customer_phone="+1 415 555 0100",
            created_at=NOW,
        )
        for email in ("ALEX@example.com", "sam@example.com")
    }
    for place in places.values():
        outbox.waitlist_joined(place, now=NOW)
    time_machine.move_to(AFTER, tick=False)
    client.force_login(manager)

    assert client.post(f"/staff/clients/{card.pk}/erase/").status_code == 302

    alex, sam = (WaitlistEntry.objects.get(pk=p.pk) for p in places.values())
    assert (alex.customer_name, alex.customer_email, alex.customer_phone, alex.state) == (
        "Erased client",
        "",
        "",
        "left",
    )
    assert set(Message.objects.filter(waitlist_entry=alex).values_list("recipient", "state")) == {
        ("", "skipped")
    }
    assert (sam.customer_email, sam.state) == ("sam@example.com", "waiting")
    assert Message.objects.get(waitlist_entry=sam).recipient == "sam@example.com"
