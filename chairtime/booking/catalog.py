"""The salon's configuration as the read paths see it: a per-process snapshot.

The availability API and the booking pages need, on every request, the service,
its stylists, their working hours and time off, and the salon's closures. These
are staff-edited settings that change a few times a week, while availability is
asked for many times a second; read from the database each time they were five of
the six queries of an availability request (profiled: about 70 % of its time).
Only the confirmed appointments, which change with every booking, are still read
per request (``selectors.stylist_schedules``).

How fresh it is:
- in the process that made the change, as soon as the change commits: any save
  or delete of these models (the back office, ``load_salon``, the tests'
  factories) clears it then (``transaction.on_commit``; at once outside a
  transaction). Not before: cleared inside the writer's transaction, a concurrent
  read would reload the *old* rows and keep them after the commit. A change
  rolled back clears nothing, and needs not: the snapshot never held it, because
  no write path reads the snapshot;
- in every other process (other gunicorn workers, other pods), within
  ``CATALOG_SECONDS``, like ``Salon.cached()``.
A stale catalog can only make availability *offer* a time that is no longer free
(or hide one for a few seconds): the booking service never uses it. It re-reads
everything inside its transaction, on the locked stylist rows, and refuses such a
booking with a clear 409.

Time off and closures are kept from the day before the snapshot was taken: older
ones cannot affect a bookable day, and the history must not grow the snapshot.
"""

from __future__ import annotations

import threading
import time as monotonic
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from chairtime.booking import microcache, selectors
from chairtime.booking.models import (
    LAST_DATE,
    Closure,
    Resource,
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

CATALOG_SECONDS = 30.0

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Catalog:
    """Active services and stylists, with what availability needs of them."""

    services: dict[int, Service]
    # Active stylists in display order, and which active services each offers.
    stylists: dict[int, Stylist]
    offers: dict[int, frozenset[int]]
    hours: dict[int, dict[int, list]]  # stylist id -> weekday -> [(start, end)]
    time_off: dict[int, tuple[Interval, ...]]  # stylist id -> sorted intervals
    closures: frozenset[date]
    # stylist id (None: the salon's) -> date -> [(start, end)]
    special_hours: dict[int | None, dict[date, list]]
    # (stylist id, service id) -> the stylist's own (price, duration_minutes), None where the service's
    own_figures: dict[tuple[int, int], tuple[Decimal | None, int | None]]
    # (service id, stylist id or None) -> its phases, in order
    phases: dict[tuple[int, int | None], list[selectors.PhaseRow]]
    # resource id -> its unit ids, in order
    units: dict[int, tuple[int, ...]]
    loaded_at: float = field(compare=False)
    # (service id, stylist id) -> Offer, built on first use
    _offers: dict[tuple[int, int], selectors.Offer] = field(default_factory=dict, compare=False, repr=False)

    def service(self, service_id: int) -> Service | None:
        return self.services.get(service_id)

    def stylists_for(self, service: Service) -> list[Stylist]:
        """The active stylists offering ``service``, in display order."""
        return [s for s in self.stylists.values() if service.pk in self.offers[s.pk]]

    def offer(self, service: Service, stylist_id: int) -> selectors.Offer | None:
        """How the stylist offers ``service`` (their own price, length or phases,
        else the service's), or None if they do not offer it."""
        key = (service.pk, stylist_id)
        offer = self._offers.get(key)
        if offer is None:
            if service.pk not in self.offers.get(stylist_id, ()):
                return None
            price, duration = self.own_figures.get((stylist_id, service.pk), (None, None))
            phases = self.phases.get(key) or self.phases.get((service.pk, None), ())
            # Two threads may build the same offer: both equal, either kept.
            offer = self._offers[key] = selectors.make_offer(
                self.services.get(service.pk, service),
                stylist_id,
                price=price,
                duration_minutes=duration,
                phases=phases,
            )
        return offer

    def has_stylist(self, stylist_id: int) -> bool:
        return stylist_id in self.stylists

    def weekly_hours(self, stylist_id: int) -> dict[int, list]:
        return self.hours.get(stylist_id, {})

    def time_off_between(self, stylist_id: int, start: datetime, end: datetime) -> tuple[Interval, ...]:
        return tuple(t for t in self.time_off.get(stylist_id, ()) if t[0] < end and t[1] > start)

    def closures_between(self, first_day: date, last_day: date) -> frozenset[date]:
        return frozenset(d for d in self.closures if first_day <= d <= last_day)

    def special_hours_between(
        self, stylist_id: int | None, first_day: date, last_day: date
    ) -> dict[date, list]:
        """The special hours of a stylist (None: the salon's) between the days."""
        by_day = self.special_hours.get(stylist_id, {})
        return {day: hours for day, hours in by_day.items() if first_day <= day <= last_day}


_lock = threading.Lock()
_current: Catalog | None = None
# Moved on by every clear(): a snapshot whose load began before a clear may hold
# what that clear was for, and is not kept. _swap guards the check-and-keep
# against a clear (never held during a query, unlike _lock).
_generation = 0
_swap = threading.Lock()


def get() -> Catalog:
    """The current snapshot, loaded (five small queries) when missing or older
    than CATALOG_SECONDS."""
    global _current
    catalog = _current
    if catalog is not None and monotonic.monotonic() - catalog.loaded_at < CATALOG_SECONDS:
        return catalog
    with _lock:  # one load at a time per process (gthread workers)
        catalog = _current
        if catalog is None or monotonic.monotonic() - catalog.loaded_at >= CATALOG_SECONDS:
            generation = _generation
            catalog = _load()
            # A change that committed while this load read the tables may be
            # missing from it: serve it to this request only.
            with _swap:
                if generation == _generation:
                    _current = catalog
        return catalog


def clear(**_signal_kwargs: object) -> None:
    """Forget the snapshot (the next read loads a new one) and the availability
    answers computed from it."""
    global _current, _generation
    with _swap:
        _generation += 1
        _current = None
    microcache.invalidate()


def clear_on_commit(*, using: str | None = None, **_signal_kwargs: object) -> None:
    """clear() once the current transaction commits (at once outside one; never
    if it rolls back)."""
    transaction.on_commit(clear, using=using)


def _load() -> Catalog:
    loaded_at = monotonic.monotonic()
    since = timezone.now() - timedelta(days=1)
    services = {s.pk: s for s in Service.objects.filter(is_active=True)}
    stylists = {s.pk: s for s in Stylist.objects.filter(is_active=True)}
    offers: dict[int, set[int]] = {pk: set() for pk in stylists}
    own_figures = {}
    for stylist_id, service_id, price, duration in StylistService.objects.filter(
        stylist_id__in=stylists, service_id__in=services
    ).values_list("stylist_id", "service_id", "price", "duration_minutes"):
        offers[stylist_id].add(service_id)
        if price is not None or duration is not None:
            own_figures[(stylist_id, service_id)] = (price, duration)
    units: dict[int, list[int]] = defaultdict(list)
    for unit_id, resource_id in ResourceUnit.objects.order_by("resource_id", "number").values_list(
        "pk", "resource_id"
    ):
        units[resource_id].append(unit_id)

    hours: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for h in WorkingHours.objects.filter(stylist_id__in=stylists).order_by("weekday", "start"):
        hours[h.stylist_id][h.weekday].append((h.start, h.end))

    time_off: dict[int, list[Interval]] = defaultdict(list)
    for stylist_id, start, end in (
        TimeOff.objects.filter(stylist_id__in=stylists, end__gt=since)
        .order_by("start")
        .values_list("stylist_id", "start", "end")
    ):
        time_off[stylist_id].append((start, end))

    return Catalog(
        services=services,
        stylists=stylists,
        offers={pk: frozenset(ids) for pk, ids in offers.items()},
        hours={pk: {day: list(spans) for day, spans in by_day.items()} for pk, by_day in hours.items()},
        time_off={pk: tuple(spans) for pk, spans in time_off.items()},
        closures=frozenset(
            Closure.objects.filter(date__gte=since.date() - timedelta(days=1)).values_list("date", flat=True)
        ),
        special_hours={
            pk: dict(by_day)
            for pk, by_day in selectors.special_hours_by_stylist(
                since.date() - timedelta(days=1), LAST_DATE, stylist_ids=stylists, salon_wide=True
            ).items()
        },
        own_figures=own_figures,
        phases=dict(selectors.phase_rows(services)),
        units={resource_id: tuple(ids) for resource_id, ids in units.items()},
        loaded_at=loaded_at,
    )


# Any change to what the snapshot holds, made in this process, clears it as soon as
# it commits.
for _model in (
    Salon,
    Service,
    Stylist,
    StylistService,
    ServicePhase,
    Resource,
    ResourceUnit,
    WorkingHours,
    TimeOff,
    Closure,
    SpecialHours,
):
    post_save.connect(clear_on_commit, sender=_model, dispatch_uid=f"catalog-clear-save-{_model.__name__}")
    post_delete.connect(
        clear_on_commit, sender=_model, dispatch_uid=f"catalog-clear-delete-{_model.__name__}"
    )
m2m_changed.connect(clear_on_commit, sender=Stylist.services.through, dispatch_uid="catalog-clear-offers")
m2m_changed.connect(
    clear_on_commit, sender=ServicePhase.resources.through, dispatch_uid="catalog-clear-phase-resources"
)
