"""Reads: what the pages, the API and the booking service need to know.

The availability reads are bounded by the day asked for. Busy time is read from
the holds, through their unique (stylist, start) and (unit, start) indexes, with a
range that starts ``MAX_HOLD_DURATION`` before the local day (a hold that began
the evening before may still overlap it), so a salon with a million past
appointments costs the same to query as a new one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import connections, router
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from chairtime.booking import availability
from chairtime.booking.availability import Phase, Policy, Resources, StylistSchedule, Treatment, VisitItem
from chairtime.booking.errors import BookingError, Problem
from chairtime.booking.models import (
    MAX_BUFFER_MINUTES,
    MAX_SERVICE_DURATION,
    Appointment,
    Closure,
    Hold,
    ResourceUnit,
    Salon,
    Service,
    ServicePhase,
    SpecialHours,
    Stylist,
    StylistService,
    TimeOff,
    WorkingHours,
)

if TYPE_CHECKING:  # the catalog reads through these selectors
    from chairtime.booking.catalog import Catalog


# No hold lasts longer: a service's whole span plus both buffers.
MAX_HOLD_DURATION = MAX_SERVICE_DURATION + 2 * timedelta(minutes=MAX_BUFFER_MINUTES)


def service_list() -> QuerySet[Service]:
    return Service.objects.filter(is_active=True)


def service_get(service_id: int) -> Service | None:
    return Service.objects.filter(pk=service_id, is_active=True).first()


def service_map(service_ids: Iterable[int]) -> dict[int, Service]:
    """The bookable ones of these services, by id: one query."""
    found = Service.objects.filter(pk__in=set(service_ids), is_active=True)
    return {service.pk: service for service in found}


def stylist_offer_map(asked: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Stylist]:
    """Of these (stylist id, service id) pairs, those where the stylist is active
    and offers the service, with the stylist: one query. (Why a pair is missing:
    :func:`stylist_for_booking`.)"""
    asked = set(asked)
    if not asked:
        return {}
    found = StylistService.objects.select_related("stylist").filter(
        stylist_id__in={stylist for stylist, _ in asked},
        service_id__in={service for _, service in asked},
        stylist__is_active=True,
    )
    return {
        (row.stylist_id, row.service_id): row.stylist
        for row in found
        if (row.stylist_id, row.service_id) in asked
    }


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


def visit_appointment_list(appointment: Appointment) -> list[Appointment]:
    """The appointments of ``appointment``'s visit, in order (itself alone for one
    the release before visits wrote)."""
    if appointment.visit_id is None:
        return [appointment]
    return list(
        Appointment.objects.select_related("service", "stylist")
        .filter(visit_id=appointment.visit_id)
        .order_by("position", "pk")
    )


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
    special_hours: dict[int | None, dict[date, list]] | None = None,
) -> Policy:
    """The salon's booking policy, with its closures between first_day and last_day
    (none when no days are given), from ``catalog`` when given, else the database
    (``special_hours``: those days' special hours, already read with the salon's)."""
    closures: Iterable[date] = ()
    special: dict[date, list] = {}
    if first_day is not None and last_day is not None and catalog is not None:
        closures = catalog.closures_between(first_day, last_day)
        special = catalog.special_hours_between(None, first_day, last_day)
    elif first_day is not None and last_day is not None:
        closures = Closure.objects.filter(date__gte=first_day, date__lte=last_day).values_list(
            "date", flat=True
        )
        if special_hours is None:
            special_hours = special_hours_by_stylist(first_day, last_day, salon_wide=True)
        special = special_hours.get(None, {})
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
    legacy: bool = False,
    special_hours: dict[int | None, dict[date, list]] | None = None,
    ignoring: Collection[int] = (),
    now: datetime | None = None,
) -> list[StylistSchedule]:
    """Each stylist's hours, time off and busy time around the local days
    first_day..last_day, in the order of ``stylists``: four indexed queries,
    whatever the number of stylists; one (the holds) when the hours and time off
    come from ``catalog`` (read paths only: the booking service passes none).
    ``legacy``: see :func:`stylist_busy_by_id`; ``special_hours``: the stylists'
    special hours of those days, when already read; ``ignoring``: appointment ids
    whose busy time does not count (see :func:`stylist_busy_by_id`)."""
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
        special = (
            special_hours
            if special_hours is not None
            else special_hours_by_stylist(first_day, last_day, stylist_ids=ids)
        )
        for h in WorkingHours.objects.filter(stylist_id__in=ids).order_by("weekday", "start"):
            hours[h.stylist_id][h.weekday].append((h.start, h.end))
        for t in TimeOff.objects.filter(
            stylist_id__in=ids, start__lt=window_end, end__gt=window_start
        ).order_by("start"):
            time_off[t.stylist_id].append((t.start, t.end))

    bookings = stylist_busy_by_id(ids, window_start, window_end, legacy=legacy, ignoring=ignoring, now=now)

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


def stylist_busy_by_id(
    stylist_ids: Sequence[int],
    window_start: datetime,
    window_end: datetime,
    *,
    legacy: bool = False,
    ignoring: Collection[int] = (),
    now: datetime | None = None,
) -> dict[int, list[tuple[datetime, datetime]]]:
    """The stylists' busy spans (their holds) that may overlap the window, by id.

    ``legacy`` adds, as busy from start to end, the confirmed appointments the
    release before visits wrote while this one was rolling out (no visit, so no
    holds; see migration 0005). The booking service asks for them, on its locked
    state; the pages do not need to (a time they offer wrongly is refused).

    ``ignoring``: ids of appointments whose holds do not count, the visit being
    moved: its own current time must not stand in the way of its new one (moving
    a visit half an hour later overlaps itself).

    ``now``: a waitlist offer's holds count until it (see _holds_starting_between)."""
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for stylist_id, starts_at, ends_at in _holds_starting_between(
        "stylist_id", stylist_ids, window_start - MAX_HOLD_DURATION, window_end, ignoring, now
    ):
        busy[stylist_id].append((starts_at, ends_at))
    if legacy:
        for stylist_id, starts_at, ends_at in (
            Appointment.objects.filter(
                stylist_id__in=stylist_ids,
                visit__isnull=True,
                confirmed_starts_at__gte=window_start - MAX_SERVICE_DURATION,
                confirmed_starts_at__lt=window_end,
            )
            .exclude(pk__in=list(ignoring))
            .values_list("stylist_id", "starts_at", "ends_at")
        ):
            busy[stylist_id].append((starts_at, ends_at))
    return busy


def resource_state(
    resource_ids: Iterable[int],
    window_start: datetime,
    window_end: datetime,
    *,
    catalog: Catalog | None = None,
    ignoring: Collection[int] = (),
    now: datetime | None = None,
) -> Resources:
    """Every unit of these resources with its holds that may overlap the window
    (but those of the appointments ``ignoring``): one indexed query (two without
    ``catalog``), none for no resources."""
    wanted = sorted(set(resource_ids))
    if not wanted:
        return availability.NO_RESOURCES
    units: dict[int, dict[int, list]] = defaultdict(dict)
    if catalog is not None:
        for resource_id in wanted:
            for unit_id in catalog.units.get(resource_id, ()):
                units[resource_id][unit_id] = []
    else:
        for unit_id, resource_id in ResourceUnit.objects.filter(resource_id__in=wanted).values_list(
            "pk", "resource_id"
        ):
            units[resource_id][unit_id] = []
    unit_resource = {unit_id: resource_id for resource_id, by_unit in units.items() for unit_id in by_unit}
    for unit_id, starts_at, ends_at in _holds_starting_between(
        "unit_id", list(unit_resource), window_start - MAX_HOLD_DURATION, window_end, ignoring, now
    ):
        units[unit_resource[unit_id]][unit_id].append((starts_at, ends_at))
    return Resources(units)


def _holds_starting_between(
    owner: str,
    owner_ids: Sequence[int],
    since: datetime,
    until: datetime,
    ignoring: Collection[int] = (),
    now: datetime | None = None,
) -> list[tuple[int, datetime, datetime]]:
    """(owner id, start, end) of the holds of these stylists or units (``owner``:
    "stylist_id" or "unit_id") that start in [since, until), by start: a range of
    the unique (owner, starts_at) index; without those of the appointments
    ``ignoring`` (a filter on the rows the index found: a visit has a few), and
    without a waitlist offer's holds whose ``held_until`` is not after ``now``
    (an expired hold never blocks a time, even before the expiry task ran).

    Written in SQL because it is most of an availability answer: Django's ORM
    spent 0.7 ms building this one query, which then ran in 0.05 ms on SQLite
    and 0.36 ms on PostgreSQL (measured in-process, 500 runs). Values go in and
    come out through the database's own adapters and converters, as the ORM's do."""
    if not owner_ids:
        return []
    connection = connections[router.db_for_read(Hold)]
    ops = connection.ops
    table = ops.quote_name(Hold._meta.db_table)
    column, start, end = (ops.quote_name(name) for name in (owner, "starts_at", "ends_at"))
    placeholders = ", ".join(["%s"] * len(owner_ids))
    ignored = sorted(set(ignoring))
    held_until = ops.quote_name("held_until")
    but = f" AND ({held_until} IS NULL OR {held_until} > %s)"
    if ignored:
        # An offer's holds have no appointment: NULL NOT IN (...) is not true.
        appointment = ops.quote_name("appointment_id")
        but += f" AND ({appointment} IS NULL OR {appointment} NOT IN ({', '.join(['%s'] * len(ignored))}))"
    sql = (
        f"SELECT {column}, {start}, {end} FROM {table} "  # noqa: S608 - names from the model, values as parameters
        f"WHERE {column} IN ({placeholders}) AND {start} >= %s AND {start} < %s{but} ORDER BY {start}"
    )
    params = [
        *owner_ids,
        ops.adapt_datetimefield_value(since),
        ops.adapt_datetimefield_value(until),
        ops.adapt_datetimefield_value(now or timezone.now()),
        *ignored,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    convert = getattr(ops, "convert_datetimefield_value", None)  # SQLite, MySQL: text or naive UTC
    if convert is None:  # PostgreSQL's driver returns aware datetimes
        return rows
    field = Hold._meta.get_field("starts_at")
    return [
        (owner_id, convert(s, field, connection), convert(e, field, connection)) for owner_id, s, e in rows
    ]


@dataclass(frozen=True)
class Offer:
    """A service as one stylist offers it: their own treatment (phases, buffers)
    and price, or the service's."""

    stylist_id: int
    treatment: Treatment
    price: Decimal

    @property
    def duration_minutes(self) -> int:
        return int(self.treatment.duration.total_seconds() // 60)

    @property
    def resource_ids(self) -> set[int]:
        return {resource for phase in self.treatment.phases for resource in phase.resources}


# (minutes, processing, resource ids) of one phase
PhaseRow = tuple[int, bool, tuple[int, ...]]


def make_offer(
    service: Service,
    stylist_id: int,
    *,
    price: Decimal | None,
    duration_minutes: int | None,
    phases: Sequence[PhaseRow],
) -> Offer:
    """The Offer of ``service`` by a stylist from their own figures (None: the
    service's) and the phases that apply to them (theirs, else the standard)."""
    steps = tuple(
        Phase(timedelta(minutes=minutes), processing, resources) for minutes, processing, resources in phases
    ) or (Phase(timedelta(minutes=duration_minutes or service.duration_minutes)),)
    treatment = Treatment(
        steps,
        buffer_before=timedelta(minutes=service.buffer_before_minutes),
        buffer_after=timedelta(minutes=service.buffer_after_minutes),
    )
    return Offer(stylist_id, treatment, service.price if price is None else price)


def phase_rows(service_ids: Iterable[int]) -> dict[tuple[int, int | None], list[PhaseRow]]:
    """The phases of these services, by (service id, stylist id or None for the
    standard ones), in order: one query."""
    # One row per phase and resource it needs (a LEFT JOIN: None for a phase that
    # needs none), in order: one query where two would read the same rows.
    phases: dict[int, tuple[int, int | None, int, bool]] = {}
    needs: dict[int, list[int]] = defaultdict(list)
    for phase_id, service_id, stylist_id, minutes, processing, resource_id in (
        ServicePhase.objects.filter(service_id__in=list(service_ids))
        .order_by("service_id", "stylist_id", "position", "pk")
        .values_list("pk", "service_id", "stylist_id", "minutes", "processing", "resources")
    ):
        phases[phase_id] = (service_id, stylist_id, minutes, processing)
        if resource_id is not None:
            needs[phase_id].append(resource_id)
    rows: dict[tuple[int, int | None], list[PhaseRow]] = defaultdict(list)
    for phase_id, (service_id, stylist_id, minutes, processing) in phases.items():
        rows[(service_id, stylist_id)].append((minutes, processing, tuple(sorted(needs[phase_id]))))
    return rows


def resource_ids_for_services(service_ids: Iterable[int]) -> list[int]:
    """The resources any phase of these services needs, whoever does them."""
    return sorted(
        set(
            ServicePhase.resources.through.objects.filter(
                servicephase__service_id__in=list(service_ids)
            ).values_list("resource_id", flat=True)
        )
    )


def offer_map(services: Sequence[Service], stylist_ids: Iterable[int]) -> dict[tuple[int, int], Offer]:
    """How each of the stylists offers each of the services they offer, by
    (service id, stylist id), from the database (the booking service's read,
    on its locked state): two queries."""
    ids = list(stylist_ids)
    by_id = {service.pk: service for service in services}
    phases = phase_rows(by_id)
    offers = {}
    for stylist_id, service_id, price, duration in StylistService.objects.filter(
        service_id__in=list(by_id), stylist_id__in=ids
    ).values_list("stylist_id", "service_id", "price", "duration_minutes"):
        service = by_id[service_id]
        offers[(service_id, stylist_id)] = make_offer(
            service,
            stylist_id,
            price=price,
            duration_minutes=duration,
            phases=phases.get((service_id, stylist_id)) or phases.get((service_id, None), ()),
        )
    return offers


@dataclass(frozen=True)
class DaySlots:
    day: date
    # start (aware, in the salon's zone) -> ids of the stylists free then for the
    # visit's first service
    starts: dict[datetime, list[int]]


# What a customer asks for: each service of the visit, in order, with the
# stylists who may do it (one named stylist, or every suitable one).
Wanted = Sequence[tuple[Service, Sequence[Stylist]]]


def _wanted(service: Service | None, stylists: Sequence[Stylist] | None, items: Wanted | None) -> Wanted:
    if items is not None:
        return items
    if service is None or stylists is None:
        raise TypeError("give the service and its stylists, or the visit's items")
    return [(service, stylists)]


@dataclass(frozen=True)
class VisitSearch:
    """Everything the pure rules need to answer for a visit over some days."""

    policy: Policy
    schedules: dict[int, StylistSchedule]
    items: list[VisitItem]
    resources: Resources
    offers: dict[tuple[int, int], Offer]  # (service id, stylist id) -> Offer


def visit_search(
    salon: Salon,
    wanted: Wanted,
    first_day: date,
    last_day: date,
    *,
    catalog: Catalog | None = None,
    legacy: bool = False,
    ignoring: Collection[int] = (),
    now: datetime | None = None,
) -> VisitSearch:
    """The visit's rules, schedules, treatments and resources around the local days:
    with ``catalog``, one query for the stylists' holds and one for the resources'
    (when a treatment needs any). ``legacy``, ``ignoring``: see
    :func:`stylist_busy_by_id`."""
    stylists = list({s.pk: s for _, candidates in wanted for s in candidates}.values())
    special = None
    if catalog is None:
        # The salon's and the stylists' special hours in one query.
        special = special_hours_by_stylist(
            first_day, last_day, stylist_ids=[s.pk for s in stylists], salon_wide=True
        )
    policy = salon_policy(salon, first_day, last_day, catalog=catalog, special_hours=special)
    schedules = stylist_schedules(
        stylists,
        salon,
        first_day,
        last_day,
        catalog=catalog,
        legacy=legacy,
        special_hours=special,
        ignoring=ignoring,
        now=now,
    )
    if catalog is not None:
        offers = {
            (service.pk, s.pk): offer
            for service, candidates in wanted
            for s in candidates
            if (offer := catalog.offer(service, s.pk)) is not None
        }
    else:
        offers = offer_map([service for service, _ in wanted], [s.pk for s in stylists])
    items = [
        VisitItem(
            tuple(
                (s.pk, offers[(service.pk, s.pk)].treatment)
                for s in candidates
                if (service.pk, s.pk) in offers
            )
        )
        for service, candidates in wanted
    ]
    window_start, _ = availability.day_bounds(first_day, salon.tz)
    _, window_end = availability.day_bounds(last_day, salon.tz)
    needed = {resource for offer in offers.values() for resource in offer.resource_ids}
    return VisitSearch(
        policy,
        {schedule.stylist_id: schedule for schedule in schedules},
        items,
        resource_state(needed, window_start, window_end, catalog=catalog, ignoring=ignoring, now=now),
        offers,
    )


def slot_list(
    *,
    salon: Salon,
    service: Service | None = None,
    stylists: Sequence[Stylist] | None = None,
    items: Wanted | None = None,
    day: date,
    now: datetime,
    catalog: Catalog | None = None,
    ignoring: Collection[int] = (),
) -> DaySlots:
    """The free starts on local ``day`` of ``service`` with any of ``stylists``, or
    of the visit of ``items`` (its services back to back); ``ignoring``: ids of
    appointments whose time counts as free (a visit's own, when it is moved)."""
    search = visit_search(
        salon, _wanted(service, stylists, items), day, day, catalog=catalog, ignoring=ignoring, now=now
    )
    if not all(item.options for item in search.items):
        return DaySlots(day, {})
    return DaySlots(
        day,
        availability.free_visit_starts(
            search.schedules, search.policy, day, search.items, now, search.resources
        ),
    )


def _horizon(
    salon: Salon, wanted: Wanted, now: datetime, catalog: Catalog | None, ignoring: Collection[int] = ()
) -> tuple[date, VisitSearch]:
    """Local today and the visit's search for the whole booking horizon: a few
    queries (one or two with ``catalog``), however many days."""
    today = availability.local_today(salon_policy(salon), now)
    last_day = today + timedelta(days=salon.horizon_days)
    return today, visit_search(salon, wanted, today, last_day, catalog=catalog, ignoring=ignoring, now=now)


def bookable_day_list(
    *,
    salon: Salon,
    service: Service | None = None,
    stylists: Sequence[Stylist] | None = None,
    items: Wanted | None = None,
    now: datetime,
    catalog: Catalog | None = None,
    ignoring: Collection[int] = (),
) -> list[tuple[date, int]]:
    """Every local date customers may book now, with how many start times are free
    on it (0 for a full or closed day); ``ignoring``: see :func:`slot_list`."""
    today, search = _horizon(salon, _wanted(service, stylists, items), now, catalog, ignoring)
    days = [today + timedelta(days=n) for n in range(salon.horizon_days + 1)]
    if not all(item.options for item in search.items):
        return [(day, 0) for day in days]
    open_days = set(availability.bookable_dates(search.policy, now))
    return [
        (
            day,
            len(
                availability.free_visit_starts(
                    search.schedules, search.policy, day, search.items, now, search.resources
                )
            )
            if day in open_days
            else 0,
        )
        for day in days
    ]


def first_free_start_list(
    *,
    salon: Salon,
    service: Service | None = None,
    stylists: Sequence[Stylist] | None = None,
    items: Wanted | None = None,
    now: datetime,
    limit: int,
    catalog: Catalog | None = None,
) -> list[datetime]:
    """The next ``limit`` free starts of ``service`` with any of ``stylists`` (or of
    the visit of ``items``), from ``now`` to the end of the booking horizon, across
    days ("first available")."""
    _, search = _horizon(salon, _wanted(service, stylists, items), now, catalog)
    if not all(item.options for item in search.items):
        return []
    return [
        start
        for start, _ in availability.first_free_visit_starts(
            search.schedules, search.policy, search.items, now, limit, search.resources
        )
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
