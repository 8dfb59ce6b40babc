"""Writes: booking, moving and cancelling visits (one or several services back to back).

The rules these functions keep, whatever the number of concurrent requests:
never one stylist in two busy spans (working phases, buffers) at once, and never
one resource unit (a basin, a colour station) held twice at once. In order:

1. ``now`` is captured once, so every check in a request agrees on the time.
2. One durable transaction takes its locks in one global order: first the
   request's key, when it has one (a form's nonce, an API ``Idempotency-Key``),
   then the rows of the stylists the booking could make less available, by
   primary key (``SELECT ... FOR UPDATE`` on the stylist table alone, so no query
   plan can take them in another order), then the rows of the resources its
   services' phases need, by primary key.
3. Everything the decision depends on is read after the locks: the salon's
   settings, the services, who offers them at which price and length, phases,
   hours, time off, closures, the stylists' and the units' holds. ``load_salon``
   locks the same rows in the same order before it writes, so a booking never
   mixes old settings with new hours.
4. Availability is computed again on the locked state (``availability.plan_visit``):
   whatever the customer saw on the page, only what is free now counts.
5. Then the visit is written: its appointments, and their holds. The database
   constraints are the last line of defence should a code path ever skip the
   lock: on PostgreSQL exclusion constraints on overlapping holds per stylist and
   per unit, everywhere a unique (stylist, start) and (unit, start) of holds, a
   unique (stylist, start) of appointments and a unique (service, customer's
   e-mail, start).

Moving a visit (``visit_reschedule``) takes the same road: the request's key, the
visit's row, every stylist involved (old and new), the resources; the new time is
planned with the visit's own holds ignored, and written in place (same ids).
Online cancels and moves stop at the salon's change notice; staff (``by_staff``)
are never bound by it.

Waitlist offers hold a freed time with Hold rows too (``Hold.offer``, see
chairtime/booking/waitlist.py): they count as busy until their ``held_until``;
each booking and move deletes the expired ones of what it locked before it
writes (:func:`clear_lapsed_holds`), and a cancellation or a move enqueues, in
its transaction, the offer of the time it freed (:func:`waitlist_time_freed`).

A deadlock or lock timeout that still happens (the database's own index locks,
the back office) is retried from the start (transactions.py).

On SQLite ``FOR UPDATE`` does nothing, but the connection begins every
transaction with BEGIN IMMEDIATE (settings.py), which serialises writers.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import get_language, get_supported_language_variant

from chairtime.booking import availability, selectors
from chairtime.booking.availability import Refusal
from chairtime.booking.errors import BookingError, Problem, too_late_to_change
from chairtime.booking.models import (
    Appointment,
    BookingRequest,
    Hold,
    Resource,
    Salon,
    Service,
    Stylist,
    Visit,
    WaitlistEntry,
)
from chairtime.booking.transactions import run_durable
from chairtime.clients import services as client_cards
from chairtime.messages import outbox as messages
from chairtime.ops import metrics

logger = logging.getLogger("chairtime.booking")

# The constraints that keep one resource unit from being held twice at once
# (models.Hold; PostgreSQL's exclusion constraint from migration 0005): the
# databases name them in the error.
_UNIT_CONSTRAINTS = ("hold_unit_no_overlap", "hold_one_start_per_unit")

# A visit of more services than this is refused: the search tries every choice
# of stylists, and no salon books more in one go.
MAX_VISIT_ITEMS = 5


def lock_stylists(stylist_ids: Iterable[int]) -> list[int]:
    """Lock these stylists' rows until the transaction ends; returns the ids of
    those that exist, in the order they were locked.

    Two requests for the same stylist queue here; the second re-reads the
    appointments only after the first has committed, so it sees the new one. The
    query touches the stylist table alone, by primary key, in primary-key order:
    a join (to who offers which service) would let InnoDB lock the joined rows in
    the plan's order, and two shapes of booking could then lock in opposite orders
    and deadlock.
    """
    return _timed_lock(
        "stylists",
        Stylist.objects.filter(pk__in=sorted(set(stylist_ids)))
        .order_by("pk")
        .select_for_update()
        .values_list("pk", flat=True),
    )


def supported_language(code: str | None) -> str:
    """``code`` as one of settings.LANGUAGES: "fr-ca" is "fr"; a language the
    salon does not speak (or none) is settings.LANGUAGE_CODE."""
    try:
        return get_supported_language_variant(code or "")
    except LookupError:
        return settings.LANGUAGE_CODE


def customer_language() -> str:
    """The language the customer is using now: the one LocaleMiddleware activated
    for their request (the switch, else Accept-Language; the API's too). Stored
    with the visit or the waitlist place, because their e-mails are written later
    by a worker that has no request (docs/messages.md)."""
    return supported_language(get_language())


def clear_lapsed_holds(stylist_ids: Iterable[int], resource_ids: Iterable[int], now: datetime) -> int:
    """Delete the holds of waitlist offers that expired by ``now``, of these
    stylists and of these resources' units; returns how many. Call with those
    rows locked, before writing holds: reads already ignore an expired hold
    (selectors), but the unique starts and PostgreSQL's exclusion constraints
    still see its row until it is gone. The offer itself is lapsed by its expiry
    task (chairtime/booking/waitlist.py), which finds its holds gone or deletes them."""
    stylists, resources = sorted(set(stylist_ids)), sorted(set(resource_ids))
    if not stylists and not resources:
        return 0
    lapsed = Hold.objects.filter(offer__isnull=False, held_until__lte=now).filter(
        Q(stylist_id__in=stylists) | Q(unit__resource_id__in=resources)
    )
    # Read first, delete by key only what is there: almost always nothing, and a
    # DELETE with this WHERE would lock (InnoDB) or wait for every offer hold it
    # scans, such as those an offer being taken is deleting.
    ids = list(lapsed.values_list("pk", flat=True))
    return Hold.objects.filter(pk__in=ids).delete()[0] if ids else 0


def waitlist_time_freed(salon: Salon, starts: Iterable[datetime]) -> list[date]:
    """Time on the local days of ``starts`` was freed (a cancellation, a move):
    enqueue, in the caller's transaction, the task that offers it to the first
    in line of each such day's waitlist; returns the days. One indexed query, and
    no task at all for a day nobody waits for."""
    days = {start.astimezone(salon.tz).date() for start in starts}
    return _offer_waiting_days(salon, Q(date__in=days))


def waitlist_hours_changed(first_day: date | None, last_day: date | None, *, now: datetime) -> list[date]:
    """The schedule changed on the local days first_day..last_day (None: from
    today, or without end): new or longer hours may have made time. Enqueue, in
    the caller's transaction, the offer task of each of those days someone waits
    for; returns them. (A change that takes time away offers nothing: the task
    finds no free start.)"""
    salon = Salon.load()
    today = now.astimezone(salon.tz).date()
    days = Q(date__gte=max(first_day or today, today))
    if last_day is not None:
        days &= Q(date__lte=last_day)
    return _offer_waiting_days(salon, days)


def _offer_waiting_days(salon: Salon, days: Q) -> list[date]:
    from chairtime.booking import tasks  # the tasks call back into these services

    waiting = sorted(
        set(
            WaitlistEntry.objects.filter(days, salon=salon, state=WaitlistEntry.State.WAITING)
            .values_list("date", flat=True)
            .distinct()
        )
    )
    for day in waiting:
        tasks.waitlist_offer.enqueue(day.isoformat())
    return waiting


def lock_resources(resource_ids: Iterable[int]) -> list[int]:
    """Lock these resources' rows until the transaction ends (after the stylists:
    the global order), by primary key; returns the ids locked. Two bookings that
    could hold a unit of one resource queue here, whichever stylists they have."""
    return _timed_lock(
        "resources",
        Resource.objects.filter(pk__in=sorted(set(resource_ids)))
        .order_by("pk")
        .select_for_update()
        .values_list("pk", flat=True),
    )


def _timed_lock(lock: str, query: QuerySet) -> list[int]:
    """Run a locking query; its time is the lock wait the metrics report (LockWait)."""
    started = time.perf_counter()
    locked = list(query)
    if locked:
        metrics.lock_wait(lock=lock, milliseconds=(time.perf_counter() - started) * 1000)
    return locked


class Keep(enum.Enum):
    """A moved visit's service keeps the stylist it has (visit_reschedule)."""

    STYLIST = "keep"


KEEP = Keep.STYLIST


@dataclass(frozen=True)
class ItemRequest:
    """One service of a visit as asked: a named stylist, or None for any."""

    service_id: int
    stylist_id: int | None = None


@dataclass(frozen=True)
class RequestKey:
    """What makes a booking request the same request when it is sent again."""

    key: str  # already hashed: see request_key()
    fingerprint: str


def request_key(source: str, key: str, *asked: object) -> RequestKey:
    """The RequestKey of ``key`` from ``source`` ("form", "api") for a request
    that asked ``asked``."""
    digest = hashlib.sha256(f"{source}\0{key}".encode()).hexdigest()
    fingerprint = hashlib.sha256("\0".join(map(str, asked)).encode()).hexdigest()
    return RequestKey(digest, fingerprint)


def appointment_book(
    *,
    service_id: int,
    stylist_id: int | None,
    start: datetime,
    customer_name: str,
    customer_email: str,
    customer_phone: str = "",
    request: RequestKey | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book one service: :func:`visit_book` of one item; returns its appointment."""
    return visit_book(
        items=[ItemRequest(service_id, stylist_id)],
        start=start,
        customer_name=customer_name,
        customer_email=customer_email,
        customer_phone=customer_phone,
        request=request,
        now=now,
    )[0]


def visit_book(
    *,
    items: Sequence[ItemRequest],
    start: datetime,
    customer_name: str,
    customer_email: str,
    customer_phone: str = "",
    request: RequestKey | None = None,
    now: datetime | None = None,
    by_staff: bool = False,
) -> list[Appointment]:
    """Book a visit: ``items``' services back to back from ``start``, each with its
    named stylist or whichever suitable stylist is free (the least busy that day
    first). Booked or refused as a whole; returns its appointments in order.

    With ``request``, a request that already booked (the same key within
    BookingRequest.KEPT_FOR) books nothing and returns the appointments it made,
    waiting for them if they are still being made; the same key with another
    request is refused (Problem.REQUEST_KEY_REUSED).

    ``by_staff``: booked at the front desk, so the salon's minimum notice and
    booking horizon (rules for customers booking online) do not apply. Nothing
    else is relaxed: a start in the past, outside hours, off the grid, or over a
    stylist's or a resource's busy time is refused as for anyone.

    The visit keeps the language active at the call (:func:`customer_language`):
    its e-mails are written in it, and a move keeps it.

    Raises BookingError when a service or stylist does not exist, when the visit
    does not fit at this moment (taken, outside hours, a resource in use, too
    soon, ...), or when the customer already holds a service at its start.
    """
    if timezone.is_naive(start):
        raise ValueError("start must be timezone-aware")
    if not 1 <= len(items) <= MAX_VISIT_ITEMS:
        raise BookingError(Problem.VISIT_SIZE)
    now = now or timezone.now()
    language = customer_language()
    customer_email = customer_email.strip()

    def book() -> tuple[list[Appointment], bool]:
        claim = None
        if request is not None:
            claim = _claim_request(request, now)
            if claim.appointment_id is not None:
                return selectors.visit_appointment_list(claim.appointment), False
        appointments = _book_locked(
            items=items,
            start=start,
            now=now,
            customer_name=customer_name,
            customer_email=customer_email,
            customer_phone=customer_phone,
            by_staff=by_staff,
            language=language,
        )
        if claim is not None:
            claim.appointment = appointments[0]
            claim.save(update_fields=["appointment"])
        messages.visit_booked(appointments, now=now)
        client_cards.attach_booked(appointments, now=now)  # the attach rule: docs/clients.md
        return appointments, True

    try:
        appointments, made = run_durable(book, what="visit_book")
    except IntegrityError as error:
        # Only reachable if something wrote past the lock; a constraint held.
        logger.warning("booking refused by a database constraint", extra={"items": len(items)})
        if _customer_holds([(items[0].service_id, start)], customer_email):
            raise BookingError(Problem.ALREADY_BOOKED) from None
        if any(name in str(error) for name in _UNIT_CONSTRAINTS):
            raise BookingError(Refusal.RESOURCE_BUSY) from None
        raise BookingError(Refusal.TAKEN) from None
    if not made:
        logger.info("booking request repeated", extra={"appointment_id": appointments[0].pk})
        return appointments
    if request is not None:
        _forget_old_requests(now)
    for appointment in appointments:
        logger.info(
            "appointment booked",
            extra={
                "appointment_id": appointment.pk,
                "visit_id": appointment.visit_id,
                "service_id": appointment.service_id,
                "stylist_id": appointment.stylist_id,
            },
        )
    return appointments


def _claim_request(request: RequestKey, now: datetime) -> BookingRequest:
    """Claim ``request``'s key for this transaction: the new claim, or the claim of
    an earlier request with the key, which holds the appointment it made.

    The claim is an INSERT into a unique index: a second request with the key
    waits on it until the first commits (then it finds the first's row) or rolls
    back (then its own claim goes through). The first lock of the global order.
    """
    salon = Salon.load()
    BookingRequest.objects.filter(
        salon=salon, key=request.key, created_at__lte=now - BookingRequest.KEPT_FOR
    ).delete()
    claim = BookingRequest(salon=salon, key=request.key, fingerprint=request.fingerprint, created_at=now)
    try:
        with transaction.atomic():
            claim.save(force_insert=True)
            return claim
    except IntegrityError:
        pass
    earlier = BookingRequest.objects.select_related("appointment").get(salon=salon, key=request.key)
    if earlier.fingerprint != request.fingerprint:
        raise BookingError(Problem.REQUEST_KEY_REUSED)
    return earlier


def _forget_old_requests(now: datetime) -> None:
    """Delete a batch of keys older than BookingRequest.KEPT_FOR (best effort:
    an expired key is ignored anyway, this only keeps the table small)."""
    try:
        old = BookingRequest.objects.filter(created_at__lte=now - BookingRequest.KEPT_FOR)
        BookingRequest.objects.filter(pk__in=list(old.values_list("pk", flat=True)[:200])).delete()
    except DatabaseError:
        logger.warning("could not delete old booking request keys", exc_info=True)


def _customer_holds(
    asked: Sequence[tuple[int, datetime]], customer_email: str, ignoring: Sequence[int] = ()
) -> bool:
    """Whether the customer holds any of these (service id, start)s, but in the
    appointments ``ignoring``."""
    if not customer_email:
        return False
    either = Q()
    for service_id, start in asked:
        either |= Q(service_id=service_id, starts_at=start)
    return (
        Appointment.objects.filter(
            either, status=Appointment.Status.CONFIRMED, customer_email__iexact=customer_email
        )
        .exclude(pk__in=list(ignoring))
        .exists()
    )


def _book_locked(
    *,
    items: Sequence[ItemRequest],
    start: datetime,
    now: datetime,
    customer_name: str,
    customer_email: str,
    customer_phone: str,
    language: str,
    by_staff: bool = False,
) -> list[Appointment]:
    locked, locked_resources = _lock_for(items)
    clear_lapsed_holds(locked, locked_resources, now)

    # From here on everything is read on the locked state.
    salon = Salon.load()
    wanted = _candidates(items, locked)

    # Before any schedule is read: a start in year 1 or 9999 has no day window.
    _check_timing(salon, start, now, by_staff=by_staff)
    if not all(candidates for _, candidates in wanted):
        raise BookingError(Problem.NO_STYLIST)

    search, plan = _plan_locked(salon, wanted, start, now, locked_resources, by_staff=by_staff)
    # The customer's own appointments, in one query: a customer who already holds
    # the first service at the start hears so rather than "taken"; one who holds
    # any of the visit's services at its start is refused.
    if isinstance(plan, Refusal):
        if _customer_holds([(wanted[0][0].pk, start)], customer_email):
            raise BookingError(Problem.ALREADY_BOOKED)
        raise BookingError(plan)
    asked = [
        (service.pk, placement.start) for (service, _), placement in zip(wanted, plan.placements, strict=True)
    ]
    if _customer_holds(asked, customer_email):
        raise BookingError(Problem.ALREADY_BOOKED)
    return _write_visit(wanted, plan, search, now, customer_name, customer_email, customer_phone, language)


def _lock_for(items: Sequence[ItemRequest], also: Iterable[int] = ()) -> tuple[list[int], set[int]]:
    """Lock every stylist who could take each item (and ``also``), then every
    resource the items' phases could need, in the one global order; returns the
    locked stylist and resource ids. Who and which are read without a lock, only
    to know which rows to lock."""
    maybe = list(also)
    for item in items:
        if item.stylist_id is not None:
            maybe.append(item.stylist_id)
        else:
            maybe.extend(selectors.stylist_list_for_service(item.service_id).values_list("pk", flat=True))
    locked = lock_stylists(maybe)
    return locked, set(lock_resources(selectors.resource_ids_for_services(i.service_id for i in items)))


def _check_timing(salon: Salon, start: datetime, now: datetime, *, by_staff: bool) -> None:
    """Refuse a start in the past, too soon or beyond the horizon (the last two
    not for staff). Before any schedule is read: a start in year 1 or 9999 has no
    day window."""
    policy = selectors.salon_policy(salon)
    if by_staff:
        policy = staff_policy(policy, start, now)
    timing = availability.check_timing(policy, start, now)
    if timing is not None:
        raise BookingError(timing)


def _candidates(items: Sequence[ItemRequest], locked: Sequence[int]) -> list[tuple[Service, list[Stylist]]]:
    """Each item's bookable service with who may take it, read on the locked
    state: the named stylist (a precise refusal when they cannot), or those of
    the suitable stylists whose rows are ``locked``."""
    services = selectors.service_map(item.service_id for item in items)
    named = selectors.stylist_offer_map(
        (item.stylist_id, item.service_id) for item in items if item.stylist_id is not None
    )
    wanted: list[tuple[Service, list[Stylist]]] = []
    for item in items:
        service = services.get(item.service_id)
        if service is None:
            raise BookingError(Problem.SERVICE_NOT_FOUND)
        if item.stylist_id is not None:
            # Locked above by its id; a precise refusal when it cannot take the service.
            offered = named.get((item.stylist_id, service.pk))
            candidates = [offered or selectors.stylist_for_booking(item.stylist_id, service)]
        else:
            # A stylist who began to offer the service after the read above is not
            # locked, so not a candidate; one who stopped is not offered.
            candidates = list(
                selectors.stylist_list_for_service(service).filter(pk__in=locked).order_by("pk")
            )
        wanted.append((service, candidates))
    return wanted


def _plan_locked(
    salon: Salon,
    wanted: Sequence[tuple[Service, Sequence[Stylist]]],
    start: datetime,
    now: datetime,
    locked_resources: set[int],
    *,
    ignoring: Sequence[int] = (),
    keep: Sequence[int] | None = None,
    by_staff: bool = False,
) -> tuple[selectors.VisitSearch, availability.Plan | Refusal]:
    """The visit's search of the start's day and the engine's plan (or refusal),
    on the locked state; ``ignoring``, ``keep``: see :func:`visit_reschedule`;
    ``by_staff``: :func:`staff_policy`."""
    day = start.astimezone(salon.tz).date()
    search = selectors.visit_search(salon, wanted, day, day, legacy=True, ignoring=ignoring, now=now)
    needed = {r for offer in search.offers.values() for r in offer.resource_ids}
    if not needed <= locked_resources:
        # A phase began to need a resource after the read above: lock it too (out
        # of order, so a deadlock is possible and retried) and read again.
        lock_resources(needed - locked_resources)
        clear_lapsed_holds((), needed - locked_resources, now)
        search = selectors.visit_search(salon, wanted, day, day, legacy=True, ignoring=ignoring, now=now)
    plan = availability.plan_visit(
        search.schedules,
        staff_policy(search.policy, start, now) if by_staff else search.policy,
        start,
        _least_busy_first(search, keep),
        now,
        search.resources,
    )
    return search, plan


def staff_policy(policy: availability.Policy, start: datetime, now: datetime) -> availability.Policy:
    """``policy`` without the two rules for online customers: no minimum notice,
    and a horizon that reaches ``start``'s day."""
    tz = policy.time_zone
    days_ahead = (start.astimezone(tz).date() - now.astimezone(tz).date()).days
    return dataclasses.replace(
        policy, min_notice=timedelta(0), horizon_days=max(policy.horizon_days, days_ahead)
    )


def _least_busy_first(
    search: selectors.VisitSearch, keep: Sequence[int] | None = None
) -> list[availability.VisitItem]:
    """Each service's stylists, the least busy that day first (spreading the
    work), then in their order; with ``keep`` (a stylist id per item), that
    stylist before anyone (a moved visit stays with its stylists if it can)."""
    load = {sid: len(schedule.bookings) for sid, schedule in search.schedules.items()}
    kept = keep or [None] * len(search.items)
    return [
        availability.VisitItem(
            tuple(
                sorted(
                    item.options,
                    key=lambda option, mine=mine: (option[0] != mine, load[option[0]], option[0]),
                )
            )
        )
        for item, mine in zip(search.items, kept, strict=True)
    ]


def _write_visit(
    wanted: Sequence[tuple[Service, Sequence[Stylist]]],
    plan: availability.Plan,
    search: selectors.VisitSearch,
    now: datetime,
    customer_name: str,
    customer_email: str,
    customer_phone: str,
    language: str,
) -> list[Appointment]:
    visit = Visit.objects.create(created_at=now, language=language)
    stylists = {s.pk: s for _, candidates in wanted for s in candidates}
    appointments = []
    holds = []
    for position, ((service, _), placement) in enumerate(zip(wanted, plan.placements, strict=True)):
        appointment = Appointment(
            visit=visit,
            position=position,
            service=service,
            stylist=stylists[placement.stylist_id],
            starts_at=placement.start,  # aware UTC instants: absolute arithmetic
            ends_at=placement.end,
            customer_name=customer_name.strip(),
            customer_email=customer_email,
            customer_phone=customer_phone.strip(),
            price=search.offers[(service.pk, placement.stylist_id)].price,
            created_at=now,
        )
        # validate_constraints=False: the unique constraints are checked by the INSERT
        # itself; checking them here too would only add queries. The service and
        # the stylist were read on the locked state and the visit was just written:
        # validating those foreign keys would read each row again (one query each).
        appointment.full_clean(exclude=_READ_UNDER_LOCK, validate_constraints=False)
        appointment.save(force_insert=True)
        appointments.append(appointment)
        holds.extend(_holds(appointment, placement))
    Hold.objects.bulk_create(holds)
    return appointments


def _holds(appointment: Appointment, placement: availability.Placement) -> list[Hold]:
    """The holds of ``appointment`` placed so: its stylist's busy spans, its units'."""
    return [
        *(
            Hold(appointment=appointment, stylist_id=placement.stylist_id, starts_at=s, ends_at=e)
            for s, e in placement.busy
        ),
        *(
            Hold(appointment=appointment, unit_id=unit, starts_at=s, ends_at=e)
            for unit, s, e in placement.units
        ),
    ]


# The appointment fields full_clean() need not check: see _write_visit.
_READ_UNDER_LOCK = ["service", "stylist", "visit"]


def check_change_notice(salon: Salon, first_start: datetime, now: datetime) -> None:
    """Refuse an online change or cancellation of a visit starting at
    ``first_start`` once the salon's notice has begun (Salon.change_notice_minutes
    before the start): too_late_to_change, with the salon's phone. Staff are never
    bound by it (the services' ``by_staff``)."""
    if now > first_start - timedelta(minutes=salon.change_notice_minutes):
        raise too_late_to_change(salon.change_notice_minutes, salon.phone)


def change_closes_at(salon: Salon, first_start: datetime) -> datetime:
    """When customers can no longer change or cancel online a visit starting then."""
    return first_start - timedelta(minutes=salon.change_notice_minutes)


def appointment_cancel(
    *, appointment_id: int, by_staff: bool = False, now: datetime | None = None
) -> Appointment:
    """Cancel the visit of a confirmed appointment that has not started yet: every
    service of it, whose time (stylists, resources) is free again as soon as this
    returns. Returns the appointment asked for.

    Unless ``by_staff``, refused with too_late_to_change inside the salon's
    change notice (:func:`check_change_notice`)."""
    now = now or timezone.now()

    def cancel() -> Appointment:
        return visit_cancel_in_transaction(appointment_id=appointment_id, by_staff=by_staff, now=now)

    appointment = run_durable(cancel, what="appointment_cancel")
    logger.info(
        "appointment cancelled", extra={"appointment_id": appointment.pk, "visit_id": appointment.visit_id}
    )
    return appointment


def visit_cancel_in_transaction(*, appointment_id: int, by_staff: bool, now: datetime) -> Appointment:
    """:func:`appointment_cancel`'s work, inside the caller's transaction: for a
    change that must cancel appointments atomically with itself (the back office's
    schedule changes). Locks the visit's row, then its appointments."""
    row = Appointment.objects.filter(pk=appointment_id).values("visit_id").first()
    if row is None:
        raise BookingError(Problem.APPOINTMENT_NOT_FOUND)
    if row["visit_id"] is not None:
        # The visit's row first: two cancellations of one visit (through two
        # of its appointments) queue here instead of locking items crosswise.
        Visit.objects.select_for_update().filter(pk=row["visit_id"]).first()
        wanted = Appointment.objects.filter(visit_id=row["visit_id"])
    else:  # written by the release before visits
        wanted = Appointment.objects.filter(pk=appointment_id)
    appointments = list(wanted.select_for_update().order_by("pk"))
    confirmed = [a for a in appointments if a.status == Appointment.Status.CONFIRMED]
    if not confirmed:
        raise BookingError(Problem.ALREADY_CANCELLED)
    if min(a.starts_at for a in confirmed) <= now:
        raise BookingError(Problem.ALREADY_STARTED)
    salon = Salon.load()
    if not by_staff:
        check_change_notice(salon, min(a.starts_at for a in confirmed), now)
    for appointment in confirmed:
        appointment.status = Appointment.Status.CANCELLED
        appointment.cancelled_at = now
        appointment.save(update_fields=["status", "cancelled_at"])
    Hold.objects.filter(appointment__in=confirmed).delete()
    messages.visit_cancelled(appointments, now=now)
    waitlist_time_freed(salon, (a.starts_at for a in confirmed))
    return next(a for a in appointments if a.pk == appointment_id)


# A moved visit's appointments wait here, each at its own second, while they are
# given their new times: see _move_visit.
_PARKED = datetime(1971, 1, 1, tzinfo=UTC)


def visit_reschedule(
    *,
    appointment_id: int,
    start: datetime,
    stylists: Sequence[int | Keep | None] | None = None,
    by_staff: bool = False,
    request: RequestKey | None = None,
    now: datetime | None = None,
) -> list[Appointment]:
    """Move the visit of ``appointment_id`` (all its services, back to back as
    booked) to ``start``; returns its appointments in order, with their new times.

    ``stylists``: one per service of the visit, in order: a stylist id, None
    for whichever suitable stylist is free (the visit's current one first), or
    KEEP for the one it has; without it every service keeps its stylist. The
    appointments keep their ids (so the manage link stays valid); their
    stylists, times and holds change, and the price where the stylist does (the
    new stylist's); a VISIT_CHANGED message is owed in the same transaction.

    The same transaction, locks and checks as :func:`visit_book`: the request's
    key, the visit's row (as :func:`appointment_cancel`, so two changes of one
    visit queue), then every stylist the move involves, old and new, then the
    resources, and the new time is checked on the locked state with the visit's
    own holds ignored (a visit moved half an hour later overlaps itself). The new
    time is booked and the old freed at once, or nothing changes.

    A start and stylists that leave every appointment as it is change nothing
    and owe no message (so a client's retry is harmless). Refusals: the
    booking's (taken, resource_busy, too_soon, outside_hours, ...), and
    appointment_cancelled, started_cannot_move, and, unless ``by_staff``,
    too_late_to_change inside the salon's change notice.
    """
    if timezone.is_naive(start):
        raise ValueError("start must be timezone-aware")
    now = now or timezone.now()

    def move() -> tuple[list[Appointment], bool]:
        claim = None
        if request is not None:
            claim = _claim_request(request, now)
            if claim.appointment_id is not None:
                return selectors.visit_appointment_list(claim.appointment), False
        appointments, moved = _reschedule_locked(
            appointment_id=appointment_id, start=start, stylists=stylists, by_staff=by_staff, now=now
        )
        if claim is not None:
            claim.appointment = appointments[0]
            claim.save(update_fields=["appointment"])
        if moved:
            messages.visit_changed(appointments, now=now)
        return appointments, moved

    try:
        appointments, moved = run_durable(move, what="visit_reschedule")
    except IntegrityError as error:
        # Only reachable if something wrote past the lock; a constraint held.
        logger.warning(
            "reschedule refused by a database constraint", extra={"appointment_id": appointment_id}
        )
        if "customer" in str(error):
            raise BookingError(Problem.ALREADY_BOOKED) from None
        if any(name in str(error) for name in _UNIT_CONSTRAINTS):
            raise BookingError(Refusal.RESOURCE_BUSY) from None
        raise BookingError(Refusal.TAKEN) from None
    if request is not None:
        _forget_old_requests(now)
    if moved:
        logger.info(
            "visit moved",
            extra={
                "appointment_id": appointments[0].pk,
                "visit_id": appointments[0].visit_id,
                "by_staff": by_staff,
            },
        )
    return appointments


def _reschedule_locked(
    *,
    appointment_id: int,
    start: datetime,
    stylists: Sequence[int | Keep | None] | None,
    by_staff: bool,
    now: datetime,
) -> tuple[list[Appointment], bool]:
    row = Appointment.objects.filter(pk=appointment_id).values("visit_id").first()
    if row is None:
        raise BookingError(Problem.APPOINTMENT_NOT_FOUND)
    if row["visit_id"] is not None:
        # The visit's row first: a cancellation or another change of this visit
        # waits here, so its appointments are as read below until the commit.
        Visit.objects.select_for_update().filter(pk=row["visit_id"]).first()
        current = list(Appointment.objects.filter(visit_id=row["visit_id"]).order_by("position", "pk"))
    else:  # written by the release before visits
        current = list(Appointment.objects.select_for_update().filter(pk=appointment_id))
    if not all(a.is_confirmed for a in current):
        raise BookingError(Problem.APPOINTMENT_CANCELLED)
    first_start = min(a.starts_at for a in current)
    if first_start <= now:
        raise BookingError(Problem.STARTED_CANNOT_MOVE)
    if stylists is not None and len(stylists) != len(current):
        raise BookingError(Problem.VISIT_SHAPE)
    wishes = [KEEP] * len(current) if stylists is None else list(stylists)
    asked = [a.stylist_id if wish is KEEP else wish for a, wish in zip(current, wishes, strict=True)]
    items = [ItemRequest(a.service_id, stylist_id) for a, stylist_id in zip(current, asked, strict=True)]

    # Every stylist the move involves: those it frees and those it may take.
    locked, locked_resources = _lock_for(items, also=[a.stylist_id for a in current])
    clear_lapsed_holds(locked, locked_resources, now)

    # From here on everything is read on the locked state.
    salon = Salon.load()
    if not by_staff:
        check_change_notice(salon, first_start, now)
    if start == first_start and all(a.stylist_id == s for a, s in zip(current, asked, strict=True)):
        return current, False  # asked to stay where it is
    wanted = _candidates(items, locked)
    # Staff move appointments as they book them: no notice, no horizon.
    _check_timing(salon, start, now, by_staff=by_staff)
    if not all(candidates for _, candidates in wanted):
        raise BookingError(Problem.NO_STYLIST)
    own = [a.pk for a in current]
    search, plan = _plan_locked(
        salon,
        wanted,
        start,
        now,
        locked_resources,
        ignoring=own,
        keep=[a.stylist_id for a in current],
        by_staff=by_staff,
    )
    if isinstance(plan, Refusal):
        raise BookingError(plan)
    taken = [
        (service.pk, placement.start) for (service, _), placement in zip(wanted, plan.placements, strict=True)
    ]
    if _customer_holds(taken, current[0].customer_email, ignoring=own):
        raise BookingError(Problem.ALREADY_BOOKED)
    placements = plan.placements
    if all(
        (a.stylist_id, a.starts_at, a.ends_at) == (p.stylist_id, p.start, p.end)
        for a, p in zip(current, placements, strict=True)
    ):
        return current, False
    freed = [a.starts_at for a in current]
    _move_visit(current, wanted, plan, search)
    waitlist_time_freed(salon, freed)
    return current, True


def _move_visit(
    current: Sequence[Appointment],
    wanted: Sequence[tuple[Service, Sequence[Stylist]]],
    plan: availability.Plan,
    search: selectors.VisitSearch,
) -> None:
    Hold.objects.filter(appointment__in=current).delete()
    if len(current) > 1:
        # The unique (stylist, start) and (service, customer, start) are checked
        # row by row on PostgreSQL and MariaDB: moving one service onto where
        # another of the visit still is (a visit moved by one service's length)
        # would trip them halfway. Each waits first at a time of its own (its id's
        # second after _PARKED), unseen outside this transaction.
        for appointment in current:
            parked = _PARKED + timedelta(seconds=appointment.pk)
            Appointment.objects.filter(pk=appointment.pk).update(
                starts_at=parked, ends_at=parked + timedelta(seconds=1)
            )
    stylists = {s.pk: s for _, candidates in wanted for s in candidates}
    holds = []
    for appointment, (service, _), placement in zip(current, wanted, plan.placements, strict=True):
        if placement.stylist_id != appointment.stylist_id:
            # Another stylist's own price; the same stylist keeps the price booked.
            appointment.price = search.offers[(service.pk, placement.stylist_id)].price
        appointment.stylist = stylists[placement.stylist_id]
        appointment.starts_at = placement.start
        appointment.ends_at = placement.end
        appointment.save(update_fields=["stylist", "starts_at", "ends_at", "price"])
        holds.extend(_holds(appointment, placement))
    Hold.objects.bulk_create(holds)
