"""Reads: what the pages, the API and the booking service need to know.

The availability reads are bounded by the day asked for. Appointments are found
through the (stylist, confirmed_starts_at) unique index with a range that starts
``MAX_SERVICE_DURATION`` before the local day (an appointment that began the
evening before may still overlap it), so a salon with a million past
appointments costs the same to query as a new one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Prefetch, Q, QuerySet

from chairtime.booking import availability
from chairtime.booking.availability import Policy, StylistSchedule
from chairtime.booking.errors import BookingError, Problem
from chairtime.booking.models import (
    MAX_SERVICE_DURATION,
    Appointment,
    Closure,
    Salon,
    Service,
    SpecialHours,
    Stylist,
    TimeOff,
    WorkingHours,
)

if TYPE_CHECKING:  # the catalog reads through these selectors
    from chairtime.booking.catalog import Catalog


def service_list() -> QuerySet[Service]:
    return Service.objects.filter(is_active=True)


def service_get(service_id: int) -> Service | None:
    return Service.objects.filter(pk=service_id, is_active=True).first()


def stylist_list_for_service(service: Service | int) -> QuerySet[Stylist]:
    return Stylist.objects.filter(is_active=True, services=service)


def stylist_get_for_service(stylist_id: int, service: Service) -> Stylist | None:
    return stylist_list_for_service(service).filter(pk=stylist_id).first()


def stylist_for_booking(stylist_id: int, service: Service) -> Stylist:
    """The stylist, if they take bookings for ``service``; otherwise a BookingError
    that tells "no such stylist" from "does not offer this service"."""
    stylist = stylist_get_for_service(stylist_id, service)
    if stylist is not None:
        return stylist
    if Stylist.objects.filter(pk=stylist_id, is_active=True).exists():
        raise BookingError(Problem.STYLIST_DOES_NOT_OFFER)
    raise BookingError(Problem.STYLIST_NOT_FOUND)


def appointment_get(appointment_id: int) -> Appointment | None:
    return Appointment.objects.select_related("service", "stylist").filter(pk=appointment_id).first()


def closed_day_set(
    stylists: Iterable[Stylist], days: Sequence[date], *, catalog: Catalog | None = None
) -> set[date]:
    """Those of ``days`` on which the salon is closed or none of ``stylists`` works
    (by their weekly hours or their special hours of the day): "Closed" rather
    than "Fully booked" on the day list."""
    if not days:
        return set()
    stylists = list(stylists)
    if catalog is not None:
        closures = catalog.closures_between(days[0], days[-1])
        working = {weekday for s in stylists for weekday in catalog.weekly_hours(s.pk)}
        special = {day for s in stylists for day in catalog.special_hours_between(s.pk, days[0], days[-1])}
    else:
        closures = frozenset(
            Closure.objects.filter(date__gte=days[0], date__lte=days[-1]).values_list("date", flat=True)
        )
        working = set(
            WorkingHours.objects.filter(stylist__in=stylists).values_list("weekday", flat=True).distinct()
        )
        by_stylist = special_hours_by_stylist(days[0], days[-1], stylist_ids=[s.pk for s in stylists])
        special = {day for by_day in by_stylist.values() for day in by_day}
    return {day for day in days if day in closures or (day.weekday() not in working and day not in special)}


def salon_policy(
    salon: Salon,
    first_day: date | None = None,
    last_day: date | None = None,
    *,
    catalog: Catalog | None = None,
) -> Policy:
    """The salon's booking policy, with its closures between first_day and last_day
    (none when no days are given), from ``catalog`` when given, else the database."""
    closures: Iterable[date] = ()
    special: dict[date, list] = {}
    if first_day is not None and last_day is not None and catalog is not None:
        closures = catalog.closures_between(first_day, last_day)
        special = catalog.special_hours_between(None, first_day, last_day)
    elif first_day is not None and last_day is not None:
        closures = Closure.objects.filter(date__gte=first_day, date__lte=last_day).values_list(
            "date", flat=True
        )
        special = special_hours_by_stylist(first_day, last_day, salon_wide=True).get(None, {})
    return Policy(
        time_zone=salon.tz,
        slot_minutes=salon.slot_minutes,
        min_notice=timedelta(minutes=salon.min_notice_minutes),
        horizon_days=salon.horizon_days,
        closures=frozenset(closures),
        special_hours=special,
    )


def special_hours_by_stylist(
    first_day: date, last_day: date, *, stylist_ids: Iterable[int] = (), salon_wide: bool = False
) -> dict[int | None, dict[date, list]]:
    """Special hours between the local days, by stylist id (None: the salon's),
    then date: [(start, end), ...]. One indexed query."""
    wanted = Q(stylist_id__in=list(stylist_ids))
    if salon_wide:
        wanted |= Q(stylist__isnull=True)
    found: dict[int | None, dict[date, list]] = defaultdict(lambda: defaultdict(list))
    for stylist_id, day, start, end in (
        SpecialHours.objects.filter(wanted, date__gte=first_day, date__lte=last_day)
        .order_by("date", "start")
        .values_list("stylist_id", "date", "start", "end")
    ):
        found[stylist_id][day].append((start, end))
    return found


def stylist_schedules(
    stylists: Sequence[Stylist],
    salon: Salon,
    first_day: date,
    last_day: date,
    *,
    catalog: Catalog | None = None,
) -> list[StylistSchedule]:
    """Each stylist's hours, time off and confirmed appointments around the local
    days first_day..last_day, in the order of ``stylists``: three indexed queries,
    whatever the number of stylists; one (the appointments) when the hours and time
    off come from ``catalog`` (read paths only: the booking service passes none)."""
    window_start, _ = availability.day_bounds(first_day, salon.tz)
    _, window_end = availability.day_bounds(last_day, salon.tz)
    ids = [s.pk for s in stylists]

    hours: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    time_off: dict[int, tuple | list] = defaultdict(list)
    special: dict[int | None, dict[date, list]] = {}
    if catalog is not None:
        for pk in ids:
            hours[pk] = catalog.weekly_hours(pk)  # type: ignore[assignment]
            time_off[pk] = catalog.time_off_between(pk, window_start, window_end)
            special[pk] = catalog.special_hours_between(pk, first_day, last_day)
    else:
        special = special_hours_by_stylist(first_day, last_day, stylist_ids=ids)
        for h in WorkingHours.objects.filter(stylist_id__in=ids).order_by("weekday", "start"):
            hours[h.stylist_id][h.weekday].append((h.start, h.end))
        for t in TimeOff.objects.filter(
            stylist_id__in=ids, start__lt=window_end, end__gt=window_start
        ).order_by("start"):
            time_off[t.stylist_id].append((t.start, t.end))

    bookings: dict[int, list] = defaultdict(list)
    for stylist_id, starts_at, ends_at in (
        Appointment.objects.filter(
            stylist_id__in=ids,
            confirmed_starts_at__gte=window_start - MAX_SERVICE_DURATION,
            confirmed_starts_at__lt=window_end,
        )
        .order_by("confirmed_starts_at")
        .values_list("stylist_id", "starts_at", "ends_at")
    ):
        bookings[stylist_id].append((starts_at, ends_at))

    return [
        StylistSchedule(
            stylist_id=s.pk,
            weekly_hours=dict(hours[s.pk]),
            time_off=tuple(time_off[s.pk]),
            bookings=tuple(bookings[s.pk]),
            special_hours=special.get(s.pk, {}),
        )
        for s in stylists
    ]


@dataclass(frozen=True)
class DaySlots:
    day: date
    # start (aware, in the salon's zone) -> ids of the stylists free then
    starts: dict[datetime, list[int]]


def slot_list(
    *,
    salon: Salon,
    service: Service,
    stylists: Sequence[Stylist],
    day: date,
    now: datetime,
    catalog: Catalog | None = None,
) -> DaySlots:
    """The free start times of ``service`` on local ``day`` with any of ``stylists``."""
    policy = salon_policy(salon, day, day, catalog=catalog)
    schedules = stylist_schedules(stylists, salon, day, day, catalog=catalog)
    return DaySlots(day, availability.free_starts_any(schedules, policy, day, service.duration, now))


def _horizon(
    salon: Salon, stylists: Sequence[Stylist], now: datetime, catalog: Catalog | None
) -> tuple[date, Policy, list[StylistSchedule]]:
    """Local today, the policy and the stylists' schedules for the whole booking
    horizon: three queries (one with ``catalog``), however many days."""
    today = availability.local_today(salon_policy(salon), now)
    last_day = today + timedelta(days=salon.horizon_days)
    policy = salon_policy(salon, today, last_day, catalog=catalog)
    return today, policy, stylist_schedules(stylists, salon, today, last_day, catalog=catalog)


def bookable_day_list(
    *,
    salon: Salon,
    service: Service,
    stylists: Sequence[Stylist],
    now: datetime,
    catalog: Catalog | None = None,
) -> list[tuple[date, int]]:
    """Every local date customers may book now, with how many start times are free
    on it (0 for a full or closed day)."""
    today, policy, schedules = _horizon(salon, stylists, now, catalog)
    open_days = set(availability.bookable_dates(policy, now))
    days = [today + timedelta(days=n) for n in range(salon.horizon_days + 1)]
    return [
        (
            day,
            len(availability.free_starts_any(schedules, policy, day, service.duration, now))
            if day in open_days
            else 0,
        )
        for day in days
    ]


def first_free_start_list(
    *,
    salon: Salon,
    service: Service,
    stylists: Sequence[Stylist],
    now: datetime,
    limit: int,
    catalog: Catalog | None = None,
) -> list[datetime]:
    """The next ``limit`` free starts of ``service`` with any of ``stylists``, from
    ``now`` to the end of the booking horizon, across days ("first available")."""
    _, policy, schedules = _horizon(salon, stylists, now, catalog)
    return [
        start for start, _ in availability.first_free_starts(schedules, policy, service.duration, now, limit)
    ]


def appointment_list_for_day(*, salon: Salon, day: date) -> dict[Stylist, list[Appointment]]:
    """The staff day view: every active stylist (and any inactive one with
    appointments that day) with the appointments that start on local ``day``."""
    day_start, day_end = availability.day_bounds(day, salon.tz)
    appointments = Prefetch(
        "appointments",
        queryset=Appointment.objects.filter(starts_at__gte=day_start, starts_at__lt=day_end)
        .select_related("service")
        .order_by("starts_at"),
        to_attr="day_appointments",
    )
    stylists = Stylist.objects.filter(pk__in=_stylist_ids_for_day(day_start, day_end)).prefetch_related(
        appointments
    )
    return {s: s.day_appointments for s in stylists}


def _stylist_ids_for_day(day_start: datetime, day_end: datetime) -> Iterable[int]:
    active = set(Stylist.objects.filter(is_active=True).values_list("pk", flat=True))
    busy = set(
        Appointment.objects.filter(starts_at__gte=day_start, starts_at__lt=day_end).values_list(
            "stylist_id", flat=True
        )
    )
    return active | busy
