"""When the schedule changes under bookings: which appointments no longer fit,
and what staff decided for each.

Time off, a closure, special hours, new weekly hours or a service a stylist stops
offering can leave appointments already booked outside what their stylist works.
None may stay "Confirmed" there in silence: the back office (``admin.py``'s
``ScheduleChangeGuard``) saves the change, asks :func:`affected_appointment_list`
inside the same transaction, and when anything is affected rolls the change back
and lists it; staff then decide per appointment to keep it (a
:class:`~chairtime.booking.models.ScheduleException`) or to cancel it with a
message to the customer, and the change is saved again with
:func:`apply_decisions`, in one transaction.

Locking: the change locks its stylists (all of them for a salon-wide change)
before it writes, as a booking does before it reads. A booking racing the change
therefore either committed before it (and is listed) or waits for it and then
re-checks against the new schedule (and is refused).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Max, Min, Q
from django.utils.translation import gettext, gettext_noop

from chairtime.booking import availability, selectors, services
from chairtime.booking.errors import BookingError, Problem
from chairtime.booking.models import (
    Appointment,
    Salon,
    ScheduleException,
    Stylist,
    StylistService,
)

# Appointments further ahead than this are not looked at (nothing can be booked
# there online; a bound keeps a save of weekly hours cheap).
LOOK_AHEAD = timedelta(days=400)

# Why an appointment no longer fits. Kept in English, as written here, in a kept
# appointment's ScheduleException.reason (one row, whoever reads it, in whatever
# language): reason_text() shows it in the reader's language.
_REASONS = {
    availability.Refusal.CLOSED: gettext_noop("the salon is closed that day"),
    availability.Refusal.OUTSIDE_HOURS: gettext_noop("outside the stylist's hours"),
    availability.Refusal.TIME_OFF: gettext_noop("the stylist is away"),
}
NOT_OFFERED = gettext_noop("the stylist no longer offers this service")
NOT_ACTIVE = gettext_noop("the stylist is no longer active")


def reason_text(reason: str) -> str:
    """A reason from this module in the active language (a reason written
    before it was translated, or by hand, as it is)."""
    return gettext(reason) if reason else reason


class Decision(enum.StrEnum):
    KEEP = "keep"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Scope:
    """What a change can affect: these stylists (None: all), these local days
    (None: from today on)."""

    stylist_ids: tuple[int, ...] | None
    first_day: date | None = None
    last_day: date | None = None

    @classmethod
    def union(cls, scopes: Iterable[Scope]) -> Scope:
        """One scope covering all of these (a bulk change)."""
        scopes = list(scopes)
        if not scopes:
            return cls(())
        ids = (
            None
            if any(s.stylist_ids is None for s in scopes)
            else tuple(sorted({i for s in scopes for i in s.stylist_ids or ()}))
        )
        firsts, lasts = [s.first_day for s in scopes], [s.last_day for s in scopes]
        return cls(
            ids,
            None if None in firsts else min(firsts),  # type: ignore[type-var]
            None if None in lasts else max(lasts),  # type: ignore[type-var]
        )


@dataclass(frozen=True)
class Affected:
    appointment: Appointment
    reason: str  # English, as stored; reason_text() for a page

    @property
    def reason_text(self) -> str:
        return reason_text(self.reason)


def lock(scope: Scope) -> list[int]:
    """Lock the scope's stylists, in the bookings' order; before the change writes."""
    ids = scope.stylist_ids
    if ids is None:
        ids = tuple(Stylist.objects.values_list("pk", flat=True))
    return services.lock_stylists(ids)


def affected_appointment_list(scope: Scope, *, now: datetime) -> list[Affected]:
    """The confirmed appointments from ``now`` on, within the scope, that the
    schedule as it stands (in this transaction) no longer allows, except those
    staff kept for their time and stylist; in order of start."""
    salon = Salon.load()
    today = now.astimezone(salon.tz).date()
    first_day = max(scope.first_day or today, today)
    window_end = now + LOOK_AHEAD
    if scope.last_day is not None:
        window_end = min(window_end, availability.day_bounds(scope.last_day, salon.tz)[1])
    window_start = max(now, availability.day_bounds(first_day, salon.tz)[0])
    if window_start >= window_end:
        return []
    wanted = Q(status=Appointment.Status.CONFIRMED, starts_at__gte=window_start, starts_at__lt=window_end)
    if scope.stylist_ids is not None:
        wanted &= Q(stylist_id__in=scope.stylist_ids)
    mine = Q(holds__stylist__isnull=False)
    appointments = list(
        Appointment.objects.filter(wanted)
        .select_related("service", "stylist", "schedule_exception")
        .annotate(
            busy_from=Min("holds__starts_at", filter=mine), busy_until=Max("holds__ends_at", filter=mine)
        )
        .order_by("starts_at", "pk")
    )
    if not appointments:
        return []
    last_day = max(a.starts_at for a in appointments).astimezone(salon.tz).date()
    stylists = sorted({a.stylist for a in appointments}, key=lambda s: s.pk)
    policy = selectors.salon_policy(salon, first_day, last_day)
    schedules = {
        schedule.stylist_id: schedule
        for schedule in selectors.stylist_schedules(stylists, salon, first_day, last_day)
    }
    offered = set(StylistService.objects.filter(stylist__in=stylists).values_list("stylist_id", "service_id"))
    found = []
    for appointment in appointments:
        reason = _reason(appointment, policy, schedules, offered)
        if reason is None:
            continue
        kept = getattr(appointment, "schedule_exception", None)
        if kept is not None and kept.covers(appointment):
            continue
        found.append(Affected(appointment, reason))
    return found


def _reason(
    appointment: Appointment,
    policy: availability.Policy,
    schedules: Mapping[int, availability.StylistSchedule],
    offered: set[tuple[int, int]],
) -> str | None:
    if not appointment.stylist.is_active:
        return NOT_ACTIVE
    if (appointment.stylist_id, appointment.service_id) not in offered:
        return NOT_OFFERED
    # The span it occupies, buffers included: its stylist's holds (none for a row
    # the release before visits wrote and migration 0006 has not reached yet).
    start = min(filter(None, [appointment.starts_at, appointment.busy_from]))
    end = max(filter(None, [appointment.ends_at, appointment.busy_until]))
    refusal = availability.misfit(schedules[appointment.stylist_id], policy, start, end)
    return None if refusal is None else _REASONS[refusal]


def apply_decisions(
    affected: Iterable[Affected], decisions: Mapping[int, Decision], *, user, now: datetime
) -> dict[Decision, int]:
    """Carry out staff's decision for each affected appointment, inside the
    change's transaction: keep it as an exception, or cancel its visit (the
    customer is told, through the outbox). Returns how many of each."""
    done = dict.fromkeys(Decision, 0)
    cancelled_visits: set[int | None] = set()
    for item in affected:
        appointment = item.appointment
        decision = decisions[appointment.pk]
        if decision is Decision.KEEP:
            ScheduleException.objects.update_or_create(
                appointment=appointment,
                defaults={
                    "starts_at": appointment.starts_at,
                    "stylist_id": appointment.stylist_id,
                    "reason": item.reason,
                    "kept_by": user,
                    "kept_at": now,
                },
            )
        elif appointment.visit_id is None or appointment.visit_id not in cancelled_visits:
            try:
                services.visit_cancel_in_transaction(appointment_id=appointment.pk, by_staff=True, now=now)
            except BookingError as e:
                if e.code != Problem.ALREADY_CANCELLED.code:  # the customer was quicker: done
                    raise
            cancelled_visits.add(appointment.visit_id)
        done[decision] += 1
    return done
