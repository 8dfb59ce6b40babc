"""Reads for the client pages: search, the card, and the data export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

from chairtime.booking.models import Appointment, Salon
from chairtime.clients.models import Client, ClientAppointment, ColourFormula, phone_digits
from chairtime.messages.models import Message

PAGE_SIZE = 25
MIN_PHONE_DIGITS = 3  # fewer digits would match most numbers


def search_text(raw: str) -> str:
    """What a search box sent, as a query: at most 100 characters, without control
    characters (they match no card, and PostgreSQL refuses a NUL in a query)."""
    return "".join(ch for ch in raw[:100] if ch.isprintable()).strip()


def client_search(*, salon: Salon, query: str, stylist_id: int | None = None) -> QuerySet[Client]:
    """Cards whose name or e-mail contains ``query`` (any case), or whose phone
    contains its digits; every card when ``query`` is empty. Erased cards are
    not listed: nothing is left on them to find. With ``stylist_id``, only that
    stylist's clients (``is_client_of``)."""
    cards = Client.objects.filter(salon=salon, erased_at=None).order_by("name", "pk")
    if stylist_id is not None:
        cards = cards.filter(pk__in=_cards_of_stylist(stylist_id))
    query = query.strip()
    if not query:
        return cards
    # Case-insensitive on every database: PostgreSQL's UPPER() LIKE, SQLite's
    # LIKE, MariaDB's _ci collation. A match inside a name cannot use a B-tree,
    # so this reads the salon's cards (thousands, not millions: docs/clients.md).
    wanted = Q(name__icontains=query) | Q(email__icontains=query)
    digits = phone_digits(query)
    if len(digits) >= MIN_PHONE_DIGITS:
        wanted |= Q(phone_digits__contains=digits)
    return cards.filter(wanted)


def client_search_page(
    *, salon: Salon, query: str, page: str | int | None, stylist_id: int | None = None
) -> Page:
    """One page of the search: out-of-range or non-numeric pages give the nearest."""
    cards = client_search(salon=salon, query=query, stylist_id=stylist_id)
    return Paginator(cards, PAGE_SIZE).get_page(page)


def is_client_of(client: Client, stylist_id: int | None) -> bool:
    """Whether the card has a visit (any appointment, past or to come, kept or
    cancelled) with that stylist: what makes someone a stylist's client."""
    return _cards_of_stylist(stylist_id).filter(client=client).exists()


def _cards_of_stylist(stylist_id: int | None) -> QuerySet[ClientAppointment]:
    """The client ids of the cards with a visit with that stylist."""
    return ClientAppointment.objects.filter(appointment__stylist_id=stylist_id).values("client_id")


@dataclass
class Card:
    client: Client
    upcoming: list[Appointment]  # soonest first
    past: list[Appointment]  # latest first, cancelled ones included
    formulas: list[ColourFormula]
    late_cancels: int
    no_shows: int | None  # None: not recorded yet (see no_show_count)


def client_card(*, client: Client, salon: Salon, now: datetime) -> Card:
    """Everything the card page shows, in two queries whatever the history."""
    appointments = list(
        Appointment.objects.filter(client_link__client=client)
        .select_related("service", "stylist")
        .order_by("-starts_at", "-pk")
    )
    formulas = list(client.formulas.select_related("staff", "appointment__service"))
    upcoming = [a for a in reversed(appointments) if a.is_confirmed and a.ends_at > now]
    past = [a for a in appointments if not (a.is_confirmed and a.ends_at > now)]
    return Card(
        client=client,
        upcoming=upcoming,
        past=past,
        formulas=formulas,
        late_cancels=late_cancel_count(appointments, notice_minutes=salon.change_notice_minutes),
        no_shows=no_show_count(appointments),
    )


def _visits(appointments: list[Appointment]) -> dict[int, list[Appointment]]:
    # A visit of several services is one visit to count, not several.
    visits: dict[int, list[Appointment]] = {}
    for appointment in appointments:
        key = appointment.visit_id if appointment.visit_id is not None else -appointment.pk
        visits.setdefault(key, []).append(appointment)
    return visits


def late_cancel_count(appointments: list[Appointment], *, notice_minutes: int) -> int:
    """Visits cancelled within the salon's change notice of their start (the time
    after which customers can no longer cancel online, Salon.change_notice_minutes):
    with no notice, only a cancellation at the start itself would count."""
    notice = timedelta(minutes=notice_minutes)
    late = 0
    for members in _visits(appointments).values():
        start = min(a.starts_at for a in members)
        cancelled = [a.cancelled_at for a in members if a.cancelled_at is not None]
        if len(cancelled) == len(members) and max(cancelled) >= start - notice:
            late += 1
    return late


def no_show_count(appointments: list[Appointment]) -> int | None:
    """Visits the client did not come to. The HOOK for the front desk's attendance
    (issue 12, statuses): appointments do not record a no-show yet, so this says
    None ("not recorded") rather than a 0 that would read as a fact. Once the desk
    records it, count the visits whose status says so here, from ``appointments``
    (already loaded: no query)."""
    return None


def client_export(*, client: Client, salon: Salon) -> dict:
    """Everything the salon holds about a client, for a data request (GDPR art. 15
    and 20): the card, its formulas, its appointments and the messages sent about
    them. Times in UTC, ISO 8601."""
    appointments = list(
        Appointment.objects.filter(client_link__client=client)
        .select_related("service", "stylist")
        .order_by("starts_at", "pk")
    )
    ids = [a.pk for a in appointments]
    visit_ids = {a.visit_id for a in appointments if a.visit_id is not None}
    messages = Message.objects.filter(Q(appointment_id__in=ids) | Q(visit_id__in=visit_ids)).order_by(
        "created_at", "pk"
    )
    return {
        "salon": {"name": salon.name, "address": salon.address, "phone": salon.phone},
        "client": {
            "id": client.pk,
            "name": client.name,
            "email": client.email or "",
            "phone": client.phone,
            "notes": client.notes,
            "created_at": _iso(client.created_at),
            "erased_at": _iso(client.erased_at),
        },
        "colour_formulas": [
            {
                "date": formula.date.isoformat(),
                "text": formula.text,
                "appointment_id": formula.appointment_id,
                "created_at": _iso(formula.created_at),
            }
            for formula in client.formulas.order_by("date", "pk")
        ],
        "appointments": [
            {
                "id": a.pk,
                "visit_id": a.visit_id,
                "service": a.service.name,
                "stylist": a.stylist.name,
                "starts_at": _iso(a.starts_at),
                "ends_at": _iso(a.ends_at),
                "status": a.status,
                "customer_name": a.customer_name,
                "customer_email": a.customer_email,
                "customer_phone": a.customer_phone,
                "price": str(a.price),
                "booked_at": _iso(a.created_at),
                "cancelled_at": _iso(a.cancelled_at),
            }
            for a in appointments
        ],
        "messages": [
            {
                "kind": m.kind,
                "recipient": m.recipient,
                "appointment_id": m.appointment_id,
                "state": m.state,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
            }
            for m in messages
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
