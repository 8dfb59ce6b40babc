"""Writes to client cards: the attach rule, staff attaching, notes, formulas,
and erasure on request (GDPR).

The attach rule (docs/clients.md): an online booking joins the card of its salon
whose e-mail is exactly the booking's, compared lower-cased; without a card for
that address it starts one from what the booker typed; a booking without an
e-mail joins no card and starts none. Name and phone never match a card, and a
booking never changes a card's details: someone who types a stranger's address
adds a visit to that card, visible there with the name they typed, and staff
can move it (``attach``), but they can neither read nor change the card.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from chairtime.booking.models import Appointment
from chairtime.clients.models import Client, ClientAppointment, ColourFormula, normalise_email
from chairtime.messages.models import Message

logger = logging.getLogger(__name__)

# Stored on the appointments of an erased client: data, not a sentence, so it stays
# the same whatever the language of the manager who erased them.
ERASED_NAME = "Erased client"


class ClientError(Exception):
    """A refusal, with a sentence for staff in the language of the request."""


def attach_booked(appointments: Sequence[Appointment], *, now: datetime) -> Client | None:
    """Attach a visit just booked online to its client's card by the attach rule;
    returns the card, or None for a booking without an e-mail address. Call inside
    the booking's transaction, after the appointments are written: the link
    commits or rolls back with them."""
    lead = min(appointments, key=lambda a: (a.position, a.pk))
    email = normalise_email(lead.customer_email)
    if email is None:
        return None
    salon_id = lead.visit.salon_id if lead.visit_id else 1  # the release before visits had one salon
    card = _locked_card(salon_id, email) or _new_card(salon_id, email, lead, now)
    ClientAppointment.objects.bulk_create(
        [
            ClientAppointment(appointment=a, client=card, how=ClientAppointment.How.EMAIL, attached_at=now)
            for a in appointments
        ]
    )
    return card


def _locked_card(salon_id: int, email: str) -> Client | None:
    # Locked: an erasure of this card (which takes the same row lock) either
    # finishes first, and the card no longer has this address, or waits for the
    # booking and then sees its visit (and refuses, as it is still to come).
    return Client.objects.select_for_update().filter(salon_id=salon_id, email=email).first()


def _new_card(salon_id: int, email: str, lead: Appointment, now: datetime) -> Client:
    try:
        # A savepoint: two first bookings with one address race to start its card;
        # the unique (salon, email) lets one win, and the other, instead of losing
        # its booking to the IntegrityError, joins the winner's card.
        with transaction.atomic():
            return Client.objects.create(
                salon_id=salon_id,
                name=lead.customer_name,
                email=email,
                phone=lead.customer_phone,
                created_at=now,
            )
    except IntegrityError:
        card = _locked_card(salon_id, email)
        if card is None:
            raise
        return card


def attach(*, client: Client, appointment_ids: Sequence[int], now: datetime | None = None) -> int:
    """Staff attach appointments to a card (moving them from another card, if any);
    returns how many. The explicit way to join what the attach rule keeps apart
    (a booking with another address, or none)."""
    if client.is_erased:
        raise ClientError(gettext("This client was erased: nothing can be attached to the card."))
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(Appointment.objects.filter(pk__in=appointment_ids).values_list("pk", flat=True))
        ClientAppointment.objects.filter(appointment_id__in=ids).delete()
        ClientAppointment.objects.bulk_create(
            [
                ClientAppointment(
                    appointment_id=pk, client=client, how=ClientAppointment.How.STAFF, attached_at=now
                )
                for pk in ids
            ]
        )
    return len(ids)


def client_start(*, salon_id: int, name: str, phone: str, now: datetime | None = None) -> Client:
    """A card staff start for a customer who has no e-mail address (a phone or
    walk-in customer); one with an address gets theirs by the attach rule."""
    return Client.objects.create(
        salon_id=salon_id, name=name, phone=phone, email=None, created_at=now or timezone.now()
    )


def client_update_notes(*, client: Client, notes: str) -> None:
    if client.is_erased:
        raise ClientError(gettext("This client was erased: the card cannot be written to."))
    client.notes = notes
    client.save(update_fields=["notes"])


def formula_add(
    *,
    client: Client,
    day: date,
    text: str,
    staff: AbstractBaseUser | None,
    appointment_id: int | None = None,
    now: datetime | None = None,
) -> ColourFormula:
    """A dated colour formula on the card, optionally for one of its visits."""
    if client.is_erased:
        raise ClientError(gettext("This client was erased: the card cannot be written to."))
    if (
        appointment_id is not None
        and not client.appointment_links.filter(appointment_id=appointment_id).exists()
    ):
        raise ClientError(gettext("That appointment is not one of this client's."))
    return ColourFormula.objects.create(
        client=client,
        appointment_id=appointment_id,
        date=day,
        text=text,
        staff=staff,
        created_at=now or timezone.now(),
    )


def client_erase(*, client_id: int, by: AbstractBaseUser, now: datetime | None = None) -> Client:
    """Erase a client on request: the card's personal data blanked, its colour
    formulas deleted, its appointments kept for the salon's records with the
    customer's name, e-mail and phone replaced, the client's waitlist places left
    and blanked the same way, and the messages about them with their recipient
    blanked (those still waiting are not sent). Who and when are
    kept on the card and written to the log.

    Refused while the client has an appointment still to come: cancel it first
    (the customer is then told), or it would be kept without a way to reach them."""
    now = now or timezone.now()
    with transaction.atomic():
        client = Client.objects.select_for_update().filter(pk=client_id).first()
        if client is None:
            raise ClientError(gettext("There is no such client."))
        if client.is_erased:
            raise ClientError(gettext("This client was already erased."))
        appointments = Appointment.objects.filter(client_link__client=client)
        upcoming = appointments.filter(status=Appointment.Status.CONFIRMED, ends_at__gt=now).count()
        if upcoming:
            raise ClientError(
                ngettext(
                    "This client has an appointment still to come: cancel it first"
                    " (the customer is told), then erase the client.",
                    "This client has %(count)s appointments still to come: cancel them first"
                    " (the customer is told), then erase the client.",
                    upcoming,
                )
                % {"count": upcoming}
            )
        ids = list(appointments.values_list("pk", flat=True))
        visit_ids = list(appointments.exclude(visit=None).values_list("visit_id", flat=True).distinct())
        Appointment.objects.filter(pk__in=ids).update(
            customer_name=ERASED_NAME, customer_email="", customer_phone=""
        )
        # Here, not at the top: the waitlist attaches the visits it books to cards.
        from chairtime.booking import waitlist

        waiting = waitlist.waitlist_erase_in_transaction(
            email=client.email or "", erased_name=ERASED_NAME, now=now
        )
        about = Message.objects.filter(
            Q(appointment_id__in=ids) | Q(visit_id__in=visit_ids) | Q(waitlist_entry_id__in=waiting)
        )
        # Delivery errors can quote the address: they go too.
        about.filter(state=Message.State.PENDING).update(state=Message.State.SKIPPED)
        messages = about.update(recipient="", last_error="")
        formulas, _ = client.formulas.all().delete()
        client.name = client.phone = client.notes = ""
        client.email = None
        client.erased_at = now
        client.erased_by = by
        client.save()
    logger.info(
        "client erased",
        extra={
            "client_id": client.pk,
            "erased_by": by.pk,
            "appointments": len(ids),
            "messages": messages,
            "formulas": formulas,
        },
    )
    return client
