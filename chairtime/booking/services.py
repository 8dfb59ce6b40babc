"""Writes: booking and cancelling appointments.

The rule these functions keep is "never two confirmed appointments of one stylist
at overlapping times", whatever the number of concurrent requests. In order:

1. ``now`` is captured once, so every check in a request agrees on the time.
2. One durable transaction locks the rows of the stylists the booking could make
   less available (``SELECT ... FOR UPDATE``, always in primary-key order, so two
   "any stylist" bookings cannot deadlock each other).
3. Availability is computed again on the locked state: whatever the customer saw
   on the page, only what is free now counts.
4. Then the appointment is written. The database constraints are the last line
   of defence should a code path ever skip the lock: on PostgreSQL an exclusion
   constraint on overlapping ranges, everywhere a unique (stylist, start).

On SQLite ``FOR UPDATE`` does nothing, but the connection begins every
transaction with BEGIN IMMEDIATE (settings.py), which serialises writers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from chairtime.booking import availability, selectors
from chairtime.booking.availability import Refusal
from chairtime.booking.errors import BookingError, Problem
from chairtime.booking.models import Appointment, Salon, Service, Stylist

logger = logging.getLogger("chairtime.booking")

# Refusals from the least to the most specific: Refusal is declared in the order
# check_start applies them. When no stylist can take an "any stylist" booking, the
# customer hears the reason that got furthest: "taken" is more useful than
# "outside hours" if one stylist works then but is busy.
_REFUSAL_ORDER = list(Refusal)


def lock_stylists(stylists: QuerySet[Stylist]) -> list[Stylist]:
    """Lock the stylists' rows until the transaction ends.

    Two requests for the same stylist queue here; the second re-reads the
    appointments only after the first has committed, so it sees the new one.
    """
    return list(stylists.select_for_update().order_by("pk"))


def appointment_book(
    *,
    service_id: int,
    stylist_id: int | None,
    start: datetime,
    customer_name: str,
    customer_email: str,
    customer_phone: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Book ``service_id`` at ``start`` with ``stylist_id``, or with whichever
    suitable stylist is free (the least busy that day) when it is None.

    Raises BookingError when the service or stylist does not exist, or when the
    start is not free at this moment (taken, outside hours, too soon, ...).
    """
    if timezone.is_naive(start):
        raise ValueError("start must be timezone-aware")
    now = now or timezone.now()
    try:
        with transaction.atomic(durable=True):
            appointment = _book_locked(
                service_id=service_id,
                stylist_id=stylist_id,
                start=start,
                now=now,
                customer_name=customer_name,
                customer_email=customer_email,
                customer_phone=customer_phone,
            )
    except IntegrityError:
        # Only reachable if something wrote past the lock; the constraint held.
        logger.warning("booking refused by a database constraint", extra={"stylist_id": stylist_id})
        raise BookingError(Refusal.TAKEN) from None
    logger.info(
        "appointment booked",
        extra={
            "appointment_id": appointment.pk,
            "service_id": appointment.service_id,
            "stylist_id": appointment.stylist_id,
        },
    )
    return appointment


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
    salon = Salon.load()
    service = selectors.service_get(service_id)
    if service is None:
        raise BookingError(Problem.SERVICE_NOT_FOUND)

    candidates = selectors.stylist_list_for_service(service)
    if stylist_id is not None:
        candidates = candidates.filter(pk=selectors.stylist_for_booking(stylist_id, service).pk)

    # Before any schedule is read: a start in year 1 or 9999 has no day window.
    timing = availability.check_timing(selectors.salon_policy(salon), start, now)
    if timing is not None:
        raise BookingError(timing)

    stylists = lock_stylists(candidates)
    if not stylists:
        raise BookingError(Problem.NO_STYLIST)

    stylist = _choose_free_stylist(salon, service, stylists, start, now)
    appointment = Appointment(
        service=service,
        stylist=stylist,
        starts_at=start,
        ends_at=start + service.duration,  # an aware instant: absolute arithmetic
        customer_name=customer_name.strip(),
        customer_email=customer_email.strip(),
        customer_phone=customer_phone.strip(),
        price=service.price,
        created_at=now,
    )
    # validate_constraints=False: the unique constraint is checked by the INSERT
    # itself; checking it here too would only add a query.
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
    with transaction.atomic(durable=True):
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
    logger.info("appointment cancelled", extra={"appointment_id": appointment.pk})
    return appointment
