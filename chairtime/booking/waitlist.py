"""The waitlist: customers waiting for a time of a service on a day with none
left, and the freed times held for them (issue 11).

How a freed time reaches the first in line, whatever the concurrency:

- Whatever frees time (``services.visit_cancel_in_transaction``, a move in
  ``services._reschedule_locked``: customers, the API, the front desk, the back
  office's schedule changes) enqueues the ``waitlist_offer`` task for that day in
  its own transaction (``services.waitlist_time_freed``), so the task exists if
  and only if the change committed. Joining enqueues it too: a time freed while
  the customer was joining is offered then.
- :func:`waitlist_offer_freed_time` locks the day's waiting entries (first in
  the global order, as a visit's row: no booking locks them), then every stylist
  and resource their services could use, as a booking does, and for each entry
  in the order they joined finds the first free start on the locked state. It
  writes the offer and its Hold rows, with ``held_until`` its expiry: from then
  on every read and every booking sees the time as taken (and the database
  constraints guard it as any booked time), until the hold ends.
- The offer's link books it (:func:`waitlist_offer_take`): the entry's and the
  offer's rows, then the booking's own locks; the offer's holds are deleted and
  the time booked by the booking service's own path (re-checked on the locked
  state) in one transaction. Refused once the hold has ended.
- At the expiry the ``waitlist_expire`` task lapses the offer, deletes its holds
  and offers the time to the next in line. An expired hold never blocks anyone
  meanwhile: reads ignore holds whose ``held_until`` has passed, and a booking
  deletes them under its locks before writing (``services.clear_lapsed_holds``).

One offer per entry: an entry whose offer lapsed is EXPIRED (the e-mail says
so); the customer may join again. Holding one time for one person and moving on
keeps the line moving for everyone behind them.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.db import IntegrityError
from django.utils import timezone

from chairtime.booking import availability, selectors, services, tasks
from chairtime.booking.availability import Refusal
from chairtime.booking.errors import BookingError, Problem
from chairtime.booking.models import Appointment, Hold, Salon, WaitlistEntry, WaitlistOffer
from chairtime.booking.transactions import run_durable
from chairtime.clients import services as client_cards
from chairtime.messages import outbox as messages

logger = logging.getLogger("chairtime.booking")

# The task offers a day's times to at most this many entries in one transaction:
# a day that frees a whole afternoon gets the rest on the next run (enqueued).
OFFERS_PER_RUN = 20


def waitlist_join(
    *,
    service_id: int,
    stylist_id: int | None,
    day: date,
    customer_name: str,
    customer_email: str,
    customer_phone: str = "",
    now: datetime | None = None,
) -> WaitlistEntry:
    """Put the customer on the waitlist of ``service_id`` (with ``stylist_id``, or
    anyone: None) on the salon-local ``day``; returns the entry. The same customer
    (e-mail) waiting for the same already returns that entry, so a form sent
    twice joins once. Owes the WAITLIST_JOINED e-mail (with the leave link).

    Refused (BookingError) for a service or stylist that does not exist, a
    stylist who does not offer it, a day outside today..the booking horizon
    (waitlist_day), and a day that still has a free time for it
    (times_available: the customer should book that)."""
    now = now or timezone.now()
    language = services.customer_language()
    customer_email = customer_email.strip()
    salon = Salon.cached()
    service = selectors.service_get(service_id)
    if service is None:
        raise BookingError(Problem.SERVICE_NOT_FOUND)
    stylists = (
        [selectors.stylist_for_booking(stylist_id, service)]
        if stylist_id is not None
        else list(selectors.stylist_list_for_service(service))
    )
    if not stylists:
        raise BookingError(Problem.NO_STYLIST)
    today = availability.local_today(selectors.salon_policy(salon), now)
    if not today <= day <= today + timedelta(days=salon.horizon_days):
        raise BookingError(Problem.WAITLIST_DAY)
    if selectors.slot_list(salon=salon, service=service, stylists=stylists, day=day, now=now).starts:
        raise BookingError(Problem.TIMES_AVAILABLE)

    def join() -> WaitlistEntry:
        same = WaitlistEntry.objects.filter(
            salon=salon,
            service=service,
            stylist_id=stylist_id,
            date=day,
            customer_email__iexact=customer_email,
            state__in=[WaitlistEntry.State.WAITING, WaitlistEntry.State.OFFERED],
        ).first()
        if same is not None:
            return same
        entry = WaitlistEntry(
            salon=salon,
            service=service,
            stylist_id=stylist_id,
            date=day,
            customer_name=customer_name.strip(),
            customer_email=customer_email,
            customer_phone=customer_phone.strip(),
            created_at=now,
            language=language,
        )
        entry.full_clean(exclude=["salon", "service", "stylist"])
        entry.save(force_insert=True)
        messages.waitlist_joined(entry, now=now)
        # A time freed while this customer was joining found nobody waiting.
        tasks.waitlist_offer.enqueue(day.isoformat())
        return entry

    entry = run_durable(join, what="waitlist_join")
    logger.info("waitlist joined", extra={"waitlist_entry_id": entry.pk, "service_id": service_id})
    return entry


def waitlist_leave(*, entry_id: int, now: datetime | None = None) -> WaitlistEntry:
    """Take the entry off the waitlist (the e-mail's link). An offer held for it
    is withdrawn and its time offered to the next in line. Leaving twice, or
    after booking, changes nothing."""
    now = now or timezone.now()

    def leave() -> WaitlistEntry:
        entry = WaitlistEntry.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None:
            raise BookingError(Problem.WAITLIST_ENTRY_NOT_FOUND)
        if not entry.is_open:
            return entry
        _withdraw(entry, now)
        entry.save(update_fields=["state", "closed_at"])
        return entry

    return run_durable(leave, what="waitlist_leave")


def waitlist_offer_freed_time(*, day: date, now: datetime | None = None) -> list[WaitlistOffer]:
    """Offer the free times of the salon-local ``day`` to its waitlist, first come
    first served: each waiting entry, in the order they joined, gets the first
    start free for its service and stylist (any: whoever is free), held for
    ``Salon.waitlist_hold_minutes`` (never past the start's minimum notice).
    Returns the offers made. The ``waitlist_offer`` task runs it."""
    now = now or timezone.now()
    try:
        offers, more = run_durable(lambda: _offer_locked(day, now), what="waitlist_offer")
    except IntegrityError:
        # Only reachable if something wrote past the lock; a constraint held, and
        # that writer has the time: nothing is offered (the next change offers again).
        logger.warning("waitlist offer refused by a database constraint", extra={"day": day.isoformat()})
        return []
    if more:
        tasks.waitlist_offer.enqueue(day.isoformat())
    for offer in offers:
        logger.info(
            "waitlist offer made",
            extra={"waitlist_offer_id": offer.pk, "waitlist_entry_id": offer.entry_id},
        )
    return offers


def _offer_locked(day: date, now: datetime) -> tuple[list[WaitlistOffer], bool]:
    salon = Salon.load()
    waiting = WaitlistEntry.objects.filter(salon=salon, date=day, state=WaitlistEntry.State.WAITING)
    # The entries' rows first (no booking takes them): two runs for one day queue
    # here, and an entry that leaves meanwhile waits or is seen gone.
    entries = list(waiting.select_for_update().order_by("created_at", "pk")[: OFFERS_PER_RUN + 1])
    if not entries:
        return [], False
    today = availability.local_today(selectors.salon_policy(salon), now)
    if day < today:  # the day is over: nothing will ever be offered
        waiting.update(state=WaitlistEntry.State.EXPIRED, closed_at=now)
        return [], False
    more = len(entries) > OFFERS_PER_RUN
    entries = entries[:OFFERS_PER_RUN]
    items = [services.ItemRequest(e.service_id, e.stylist_id) for e in entries]
    # Every stylist and resource any of them could take, in the one global order,
    # at once: locking entry by entry would take stylists out of order.
    locked, locked_resources = services._lock_for(items)
    services.clear_lapsed_holds(locked, locked_resources, now)
    offers = []
    for entry, item in zip(entries, items, strict=True):
        try:
            wanted = services._candidates([item], locked)
        except BookingError:  # the service or the stylist is gone: nothing to offer
            continue
        if not all(candidates for _, candidates in wanted):
            continue
        # Reads the holds written for the entries before this one, in this transaction.
        search = selectors.visit_search(salon, wanted, day, day, legacy=True, now=now)
        starts = availability.free_visit_starts(
            search.schedules, search.policy, day, search.items, now, search.resources
        )
        if not starts:
            continue
        start = min(starts)
        _, plan = services._plan_locked(salon, wanted, start, now, locked_resources)
        if isinstance(plan, Refusal):  # cannot happen on the locked state; never hold a misfit
            logger.warning("waitlist start refused on re-check", extra={"waitlist_entry_id": entry.pk})
            continue
        offers.append(_hold(entry, plan.placements[0], salon, now))
    return offers, more


def _hold(
    entry: WaitlistEntry, placement: availability.Placement, salon: Salon, now: datetime
) -> WaitlistOffer:
    # The hold ends when booking it online would close anyway (minimum notice).
    expires_at = min(
        now + timedelta(minutes=salon.waitlist_hold_minutes),
        placement.start - timedelta(minutes=salon.min_notice_minutes),
    )
    offer = WaitlistOffer.objects.create(
        entry=entry,
        stylist_id=placement.stylist_id,
        starts_at=placement.start,
        ends_at=placement.end,
        expires_at=expires_at,
        created_at=now,
    )
    Hold.objects.bulk_create(
        [
            *(
                Hold(
                    offer=offer,
                    stylist_id=placement.stylist_id,
                    starts_at=s,
                    ends_at=e,
                    held_until=expires_at,
                )
                for s, e in placement.busy
            ),
            *(
                Hold(offer=offer, unit_id=unit, starts_at=s, ends_at=e, held_until=expires_at)
                for unit, s, e in placement.units
            ),
        ]
    )
    entry.state = WaitlistEntry.State.OFFERED
    entry.save(update_fields=["state"])
    messages.waitlist_offered(offer, now=now)
    tasks.waitlist_expire.using(run_after=expires_at).enqueue(offer.pk)
    return offer


def waitlist_offer_take(*, offer_id: int, now: datetime | None = None) -> list[Appointment]:
    """Book the time held by the offer for its customer, in one step; returns the
    visit's appointments (one). Taking it again returns the same appointment.

    The offer's holds are deleted and the time booked through the booking
    service's own locked path (stylists, resources, re-check, write, the
    confirmation e-mail) in one transaction: refused (offer_expired) once the
    hold has ended, and, like any booking, if the time no longer fits the
    salon's rules (too_soon, ...), in which case nothing changes.

    The visit is in the language the customer takes it in (their request's),
    as any booking; the place's own language only covers the waitlist's e-mails."""
    now = now or timezone.now()
    language = services.customer_language()

    def take() -> list[Appointment]:
        row = WaitlistOffer.objects.filter(pk=offer_id).values("entry_id").first()
        if row is None:
            raise BookingError(Problem.OFFER_NOT_FOUND)
        entry = WaitlistEntry.objects.select_for_update().get(pk=row["entry_id"])
        offer = WaitlistOffer.objects.select_for_update().get(pk=offer_id)
        if offer.state == WaitlistOffer.State.TAKEN and offer.appointment_id is not None:
            return selectors.visit_appointment_list(offer.appointment)
        if entry.state == WaitlistEntry.State.LEFT:
            raise BookingError(Problem.OFFER_WITHDRAWN)
        if offer.state != WaitlistOffer.State.OPEN or offer.expires_at <= now:
            raise BookingError(Problem.OFFER_EXPIRED)
        items = [services.ItemRequest(entry.service_id, offer.stylist_id)]
        # The booking's locks before its holds go: no one reads the time as free
        # until this commits, and then it is booked.
        services._lock_for(items)
        Hold.objects.filter(offer=offer).delete()
        appointments = services._book_locked(
            items=items,
            start=offer.starts_at,
            now=now,
            customer_name=entry.customer_name,
            customer_email=entry.customer_email,
            customer_phone=entry.customer_phone,
            language=language,
        )
        offer.state = WaitlistOffer.State.TAKEN
        offer.appointment = appointments[0]
        offer.save(update_fields=["state", "appointment"])
        entry.state = WaitlistEntry.State.BOOKED
        entry.closed_at = now
        entry.save(update_fields=["state", "closed_at"])
        messages.visit_booked(appointments, now=now)
        client_cards.attach_booked(appointments, now=now)
        return appointments

    try:
        appointments = run_durable(take, what="waitlist_offer_take")
    except IntegrityError:
        # Only reachable if something wrote past the lock; a constraint held.
        logger.warning(
            "waitlist offer refused by a database constraint", extra={"waitlist_offer_id": offer_id}
        )
        raise BookingError(Refusal.TAKEN) from None
    logger.info(
        "waitlist offer taken", extra={"waitlist_offer_id": offer_id, "appointment_id": appointments[0].pk}
    )
    return appointments


def waitlist_offer_expire(*, offer_id: int, now: datetime | None = None) -> str:
    """The ``waitlist_expire`` task: lapse the offer once its hold has ended
    (entry EXPIRED, holds deleted) and offer the time to the next in line.
    Returns what happened; an offer taken, withdrawn or not yet due is left."""
    now = now or timezone.now()

    def expire() -> str:
        row = WaitlistOffer.objects.filter(pk=offer_id).values("entry_id").first()
        if row is None:
            return "gone"
        entry = WaitlistEntry.objects.select_for_update().get(pk=row["entry_id"])
        offer = WaitlistOffer.objects.select_for_update().get(pk=offer_id)
        if offer.state != WaitlistOffer.State.OPEN:
            return offer.state
        if offer.expires_at > now:
            return "not yet"
        _lapse(offer)
        if entry.state == WaitlistEntry.State.OFFERED:
            entry.state = WaitlistEntry.State.EXPIRED
            entry.closed_at = now
            entry.save(update_fields=["state", "closed_at"])
        return "lapsed"

    return run_durable(expire, what="waitlist_expire")


def waitlist_erase_in_transaction(*, email: str, erased_name: str, now: datetime) -> list[int]:
    """Erase a customer's waitlist places (a client's erasure, chairtime/clients),
    inside the caller's transaction: places still open are left first (a time
    held for them goes to the next in line), then every place of the address
    keeps no name, address or phone, and their messages no recipient (those
    waiting are not sent). Returns the places' ids."""
    if not email:
        return []
    entries = list(
        WaitlistEntry.objects.select_for_update().filter(customer_email__iexact=email).order_by("pk")
    )
    for entry in entries:
        if entry.is_open:
            _withdraw(entry, now)
    for entry in entries:
        entry.customer_name, entry.customer_email, entry.customer_phone = erased_name, "", ""
    WaitlistEntry.objects.bulk_update(
        entries, ["state", "closed_at", "customer_name", "customer_email", "customer_phone"]
    )
    return [entry.pk for entry in entries]


def _withdraw(entry: WaitlistEntry, now: datetime) -> None:
    """The open entry (its row locked) leaves the line: its open offer lapses and
    the entry is LEFT (not saved: the caller saves what else it changed)."""
    for offer in entry.offers.select_for_update().filter(state=WaitlistOffer.State.OPEN):
        _lapse(offer)
    entry.state = WaitlistEntry.State.LEFT
    entry.closed_at = now


def _lapse(offer: WaitlistOffer) -> None:
    """End an open offer (its rows locked): its holds go and its time is offered
    again, by the task, in this transaction."""
    offer.state = WaitlistOffer.State.LAPSED
    offer.save(update_fields=["state"])
    Hold.objects.filter(offer=offer).delete()
    tasks.waitlist_offer.enqueue(offer.entry.date.isoformat())
