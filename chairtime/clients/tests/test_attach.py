"""The attach rule: an online booking joins a card by e-mail only (docs/clients.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from chairtime.booking import services
from chairtime.booking.models import Appointment, Salon
from chairtime.booking.tests.factories import AppointmentFactory
from chairtime.clients import backfill
from chairtime.clients import services as client_cards
from chairtime.clients.models import Client, ClientAppointment

DAY = date(2027, 3, 15)  # a Monday
NOW = datetime(2027, 3, 12, 18, 0, tzinfo=UTC)


def book(demo, hh: int, *, email: str, name: str = "Alex Doe", phone: str = "", stylist=None) -> Appointment:
    return services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=(stylist or demo.ana).pk,
        start=demo.local(DAY, hh),
        customer_name=name,
        customer_email=email,
        customer_phone=phone,
        now=NOW,
    )


def card_of(appointment: Appointment) -> Client | None:
    link = ClientAppointment.objects.filter(appointment=appointment).select_related("client").first()
    return link.client if link else None


def test_it_starts_a_card_from_a_first_booking(demo):
    appointment = book(demo, 10, email="  Alex@Example.COM ", phone="+1 415 555 0100")

    card = card_of(appointment)
    assert card is not None
    assert (card.name, card.email, card.phone, card.phone_digits) == (
        "Alex Doe",
        "alex@example.com",
        "+1 415 555 0100",
        "14155550100",
    )
    assert card.salon == demo.salon
    assert card.created_at == NOW
    assert appointment.client_link.how == "email"


def test_it_attaches_every_service_of_a_visit(demo):
    visit = services.visit_book(
        items=[
            services.ItemRequest(demo.colour.pk, demo.ana.pk),
            services.ItemRequest(demo.haircut.pk, None),
        ],
        start=demo.local(DAY, 9),
        customer_name="Alex Doe",
        customer_email="alex@example.com",
        now=NOW,
    )
    assert {card_of(a).pk for a in visit} == {Client.objects.get().pk}
    assert ClientAppointment.objects.count() == 2


def test_a_later_booking_with_the_address_in_other_case_joins_the_card_without_changing_it(demo):
    first = book(demo, 10, email="alex@example.com", phone="+1 415 555 0100")
    second = book(demo, 14, email="ALEX@example.com", name="Someone Else", phone="+44 20 7946 0000")

    card = card_of(first)
    assert card_of(second) == card
    card.refresh_from_db()
    # The second booker typed another name and phone: the card keeps its own, and
    # the appointment keeps what its booker typed.
    assert (card.name, card.phone) == ("Alex Doe", "+1 415 555 0100")
    assert second.customer_name == "Someone Else"
    assert Client.objects.count() == 1


def test_the_same_name_and_phone_with_another_address_never_join_a_card(demo):
    known = Client.objects.create(
        salon=demo.salon, name="Alex Doe", email="alex@example.com", phone="+1 415 555 0100", created_at=NOW
    )
    appointment = book(demo, 10, email="alex.doe@example.org", phone="+1 415 555 0100")

    assert card_of(appointment) != known
    assert Client.objects.count() == 2
    assert not known.appointment_links.exists()


def test_a_booking_without_an_address_starts_no_card(demo):
    appointment = AppointmentFactory.build(customer_email="", visit=None)
    assert client_cards.attach_booked([appointment], now=NOW) is None
    assert not Client.objects.exists()


def test_a_refused_booking_leaves_no_card(demo):
    book(demo, 10, email="first@example.com")
    with pytest.raises(services.BookingError):
        book(demo, 10, email="second@example.com")  # Ana is taken at 10:00

    assert list(Client.objects.values_list("email", flat=True)) == ["first@example.com"]


def test_after_an_erasure_the_address_starts_a_new_card(demo):
    old = card_of(book(demo, 10, email="alex@example.com"))
    staff = User.objects.create_user("manager", is_staff=True)
    later = datetime(2027, 3, 16, 12, tzinfo=UTC)  # the visit is over
    client_cards.client_erase(client_id=old.pk, by=staff, now=later)

    new = card_of(book(demo, 14, email="alex@example.com"))
    assert new != old
    assert new.email == "alex@example.com"


def test_staff_attach_moves_an_appointment_to_another_card(demo):
    appointment = book(demo, 10, email="alex@example.com")
    other = Client.objects.create(salon=demo.salon, name="Alex D.", email=None, created_at=NOW)

    assert client_cards.attach(client=other, appointment_ids=[appointment.pk], now=NOW) == 1

    assert card_of(appointment) == other
    assert ClientAppointment.objects.get(appointment=appointment).how == "staff"


def models_now():
    return SimpleNamespace(
        Appointment=Appointment, Client=Client, ClientAppointment=ClientAppointment, Salon=Salon
    )


def test_the_backfill_attaches_earlier_appointments_by_address_in_batches(demo):
    made = [
        AppointmentFactory(
            customer_email=email,
            customer_name=name,
            stylist=demo.ana,
            service=demo.haircut,
            starts_at=datetime(2027, 3, 15, 16 + n, tzinfo=UTC),
        )
        for n, (email, name) in enumerate(
            [("alex@example.com", "Alex"), ("ALEX@example.com", "Alex again"), ("sam@example.com", "Sam")]
        )
    ]
    Appointment.objects.filter(pk=made[2].pk).update(customer_email="")  # no address: no card
    AppointmentFactory(customer_email="kim@example.com", stylist=demo.ben, service=demo.haircut)

    attached = backfill.backfill(models=models_now(), now=NOW, batch_size=2)

    assert attached == 3
    alex = Client.objects.get(email="alex@example.com")
    assert alex.name == "Alex"  # the earliest appointment's
    assert set(alex.appointment_links.values_list("appointment_id", flat=True)) == {made[0].pk, made[1].pk}
    assert set(Client.objects.values_list("email", flat=True)) == {"alex@example.com", "kim@example.com"}
    assert set(ClientAppointment.objects.values_list("how", flat=True)) == {"backfill"}

    # Again: nothing more (it only adds what is missing).
    assert backfill.backfill(models=models_now(), now=NOW, batch_size=2) == 0
    assert Client.objects.count() == 2


def test_the_backfill_command_leaves_a_booked_card_alone(demo, capsys):
    booked = book(demo, 10, email="alex@example.com")
    earlier = AppointmentFactory(
        customer_email="Alex@example.com",
        stylist=demo.ben,
        service=demo.haircut,
        starts_at=datetime(2027, 3, 1, 17, tzinfo=UTC),
    )

    call_command("clients_backfill", "--batch-size", "1")

    assert "Attached 1 appointment(s)" in capsys.readouterr().out
    assert card_of(earlier) == card_of(booked)
    assert ClientAppointment.objects.get(appointment=booked).how == "email"
