"""Writes: booking and cancelling appointments.

The rule these functions keep is "never two confirmed appointments of one stylist
at overlapping times", whatever the number of concurrent requests. In order:

1. ``now`` is captured once, so every check in a request agrees on the time.
2. One durable transaction takes its locks in one global order: first the
   request's key, when it has one (a form's nonce, an API ``Idempotency-Key``),
   then the rows of the stylists the booking could make less available, by
   primary key (``SELECT ... FOR UPDATE`` on the stylist table alone, so no query
   plan can take them in another order).
3. Everything the decision depends on is read after the locks: the salon's
   settings, the service, who offers it, hours, time off, closures and
   appointments. ``load_salon`` locks the same stylists before it writes, so a
   booking never mixes its old settings with its new hours.
4. Availability is computed again on the locked state: whatever the customer saw
   on the page, only what is free now counts.
5. Then the appointment is written. The database constraints are the last line
   of defence should a code path ever skip the lock: on PostgreSQL an exclusion
   constraint on overlapping ranges, everywhere a unique (stylist, start) and a
   unique (service, customer's e-mail, start).

A deadlock or lock timeout that still happens (the database's own index locks,
the back office) is retried from the start (transactions.py).

On SQLite ``FOR UPDATE`` does nothing, but the connection begins every
transaction with BEGIN IMMEDIATE (settings.py), which serialises writers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from chairtime.booking import availability, selectors
from chairtime.booking.availability import Refusal
from chairtime.booking.errors import BookingError, Problem
from chairtime.booking.models import Appointment, BookingRequest, Salon, Service, Stylist
from chairtime.booking.transactions import run_durable

logger = logging.getLogger("chairtime.booking")

# Refusals from the least to the most specific: Refusal is declared in the order
# check_start applies them. When no stylist can take an "any stylist" booking, the
# customer hears the reason that got furthest: "taken" is more useful than
# "outside hours" if one stylist works then but is busy.
_REFUSAL_ORDER = list(Refusal)


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
    return list(
        Stylist.objects.filter(pk__in=sorted(set(stylist_ids)))
        .order_by("pk")
        .select_for_update()
        .values_list("pk", flat=True)
    )


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
    """Book ``service_id`` at ``start`` with ``stylist_id``, or with whichever
    suitable stylist is free (the least busy that day) when it is None.

    With ``request``, a request that already booked (the same key within
    BookingRequest.KEPT_FOR) books nothing and returns the appointment it made,
    waiting for it if it is still being made; the same key with another request
    is refused (Problem.REQUEST_KEY_REUSED).

    Raises BookingError when the service or stylist does not exist, when the
    start is not free at this moment (taken, outside hours, too soon, ...), or
    when the customer already holds this service at this start.
    """
    if timezone.is_naive(start):
        raise ValueError("start must be timezone-aware")
    now = now or timezone.now()
    customer_email = customer_email.strip()

    def book() -> tuple[Appointment, bool]:
        claim = None
        if request is not None:
            claim = _claim_request(request, now)
            if claim.appointment_id is not None:
                return claim.appointment, False
        appointment = _book_locked(
            service_id=service_id,
            stylist_id=stylist_id,
            start=start,
            now=now,
            customer_name=customer_name,
            customer_email=customer_email,
            customer_phone=customer_phone,
        )
        if claim is not None:
            claim.appointment = appointment
            claim.save(update_fields=["appointment"])
        return appointment, True

    try:
        appointment, made = run_durable(book, what="appointment_book")
    except IntegrityError:
        # Only reachable if something wrote past the lock; a constraint held.
        logger.warning("booking refused by a database constraint", extra={"stylist_id": stylist_id})
        if _customer_holds(service_id, start, customer_email):
            raise BookingError(Problem.ALREADY_BOOKED) from None
        raise BookingError(Refusal.TAKEN) from None
    if not made:
        logger.info("booking request repeated", extra={"appointment_id": appointment.pk})
        return appointment
    if request is not None:
        _forget_old_requests(now)
    logger.info(
        "appointment booked",
        extra={
            "appointment_id": appointment.pk,
            "service_id": appointment.service_id,
            "stylist_id": appointment.stylist_id,
        },
    )
    return appointment


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


def _customer_holds(service_id: int, start: datetime, customer_email: str) -> bool:
    return bool(customer_email) and (
        Appointment.objects.filter(
            service_id=service_id,
            starts_at=start,
            status=Appointment.Status.CONFIRMED,
            customer_email__iexact=customer_email,
        ).exists()
    )


def _book_locked(
    *,
    service_id: int,
    stylist_id: int | None,
    start: datetime,
    now: datetime,
    customer_name: str,
    customer_email: str,
    customer_phone: str,
) -> Appointment:
    # Who could take it, read without a lock only to know which rows to lock.
    if stylist_id is not None:
        maybe = [stylist_id]
    else:
        maybe = list(selectors.stylist_list_for_service(service_id).values_list("pk", flat=True))
    locked = lock_stylists(maybe)

    # From here on everything is read on the locked state.
    salon = Salon.load()
    service = selectors.service_get(service_id)
    if service is None:
        raise BookingError(Problem.SERVICE_NOT_FOUND)
    if stylist_id is not None:
        # Locked above by its id; a precise refusal when it cannot take the service.
        stylists = [selectors.stylist_for_booking(stylist_id, service)]
    else:
        # A stylist who began to offer the service after the read above is not
        # locked, so not a candidate; one who stopped is not offered.
        stylists = list(selectors.stylist_list_for_service(service).filter(pk__in=locked).order_by("pk"))

    # Before any schedule is read: a start in year 1 or 9999 has no day window.
    timing = availability.check_timing(selectors.salon_policy(salon), start, now)
    if timing is not None:
        raise BookingError(timing)
    if not stylists:
        raise BookingError(Problem.NO_STYLIST)
    if _customer_holds(service.pk, start, customer_email):
        raise BookingError(Problem.ALREADY_BOOKED)

    stylist = _choose_free_stylist(salon, service, stylists, start, now)
    appointment = Appointment(
        service=service,
        stylist=stylist,
        starts_at=start,
        ends_at=start + service.duration,  # an aware instant: absolute arithmetic
        customer_name=customer_name.strip(),
        customer_email=customer_email,
        customer_phone=customer_phone.strip(),
        price=service.price,
        created_at=now,
    )
    # validate_constraints=False: the unique constraints are checked by the INSERT
    # itself; checking them here too would only add queries.
    appointment.full_clean(validate_constraints=False)
    appointment.save(force_insert=True)
    return appointment


def _choose_free_stylist(
    salon: Salon, service: Service, stylists: Sequence[Stylist], start: datetime, now: datetime
) -> Stylist:
    day = start.astimezone(salon.tz).date()
    policy = selectors.salon_policy(salon, day, day)
    schedules = selectors.stylist_schedules(stylists, salon, day, day)
    free: list[tuple[int, int, Stylist]] = []
    refusals: list[Refusal] = []
    for order, (stylist, schedule) in enumerate(zip(stylists, schedules, strict=True)):
        refusal = availability.check_start(schedule, policy, start, service.duration, now)
        if refusal is None:
            # Spread the work: the stylist with the fewest appointments that day.
            free.append((len(schedule.bookings), order, stylist))
        else:
            refusals.append(refusal)
    if free:
        return min(free, key=lambda item: item[:2])[2]
    raise BookingError(max(refusals, key=_REFUSAL_ORDER.index))


def appointment_cancel(*, appointment_id: int, now: datetime | None = None) -> Appointment:
    """Cancel a confirmed appointment that has not started yet; its time is free
    again as soon as this returns."""
    now = now or timezone.now()

    def cancel() -> Appointment:
        appointment = Appointment.objects.select_for_update().filter(pk=appointment_id).first()
        if appointment is None:
            raise BookingError(Problem.APPOINTMENT_NOT_FOUND)
        if appointment.status == Appointment.Status.CANCELLED:
            raise BookingError(Problem.ALREADY_CANCELLED)
        if appointment.starts_at <= now:
            raise BookingError(Problem.ALREADY_STARTED)
        appointment.status = Appointment.Status.CANCELLED
        appointment.cancelled_at = now
        appointment.save(update_fields=["status", "cancelled_at"])
        return appointment

    appointment = run_durable(cancel, what="appointment_cancel")
    logger.info("appointment cancelled", extra={"appointment_id": appointment.pk})
    return appointment
