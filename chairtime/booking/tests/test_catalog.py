"""The read paths' configuration snapshot (booking/catalog.py): what it saves, how
fresh it is, and that the booking service never trusts it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import time, timedelta

import pytest
from django.db import connections, transaction

from chairtime.booking import catalog
from chairtime.booking.models import (
    Closure,
    Resource,
    Service,
    Stylist,
    StylistService,
    TimeOff,
    WorkingHours,
)
from chairtime.booking.tests.factories import ClosureFactory, ServicePhaseFactory, TimeOffFactory
from chairtime.booking.tests.test_api import booking, post, slots


def test_it_answers_availability_with_one_query_once_the_snapshot_is_loaded(
    client, demo, django_assert_num_queries
):
    day = demo.next_working_day()
    slots(client, demo.haircut, day)  # loads the salon and the snapshot
    # Only the day's confirmed appointments are read per request.
    with django_assert_num_queries(1):
        assert slots(client, demo.haircut, day, stylist=demo.ana)
    with django_assert_num_queries(1):
        assert slots(client, demo.haircut, day)


def test_it_sees_a_change_made_in_this_process_as_soon_as_it_commits(client, demo_tx):
    demo = demo_tx  # committed for real: the snapshot is cleared on commit
    day = demo.next_working_day()
    assert slots(client, demo.colour, day, stylist=demo.ana)
    catalog.get()

    TimeOffFactory(stylist=demo.ana, start=demo.local(day, 0), end=demo.local(day, 23))
    assert slots(client, demo.colour, day, stylist=demo.ana) == []

    ClosureFactory(date=day + timedelta(days=1))
    assert day + timedelta(days=1) in catalog.get().closures

    demo.ben.services.add(demo.colour)  # m2m
    assert slots(client, demo.colour, day, stylist=demo.ben)


def test_it_keeps_a_change_made_elsewhere_for_at_most_catalog_seconds(client, demo, monkeypatch):
    """Another process's edit sends no signal here: this process keeps its snapshot
    until it is CATALOG_SECONDS old (simulated here with an update(), which sends no
    signal either)."""
    day = demo.next_working_day()
    assert slots(client, demo.haircut, day, stylist=demo.ben)

    Stylist.objects.filter(pk=demo.ben.pk).update(is_active=False)
    assert slots(client, demo.haircut, day, stylist=demo.ben), "stale within CATALOG_SECONDS"

    monkeypatch.setattr(catalog, "CATALOG_SECONDS", 0.0)
    response = client.get(
        "/api/v1/availability", {"service": demo.haircut.pk, "stylist": demo.ben.pk, "date": day}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "stylist_not_found"


def test_the_booking_service_refuses_what_a_stale_snapshot_still_offers(client, demo):
    day = demo.next_working_day()
    offered = slots(client, demo.haircut, day, stylist=demo.ana)
    assert offered
    # Time off entered "on another pod": no signal reaches this process's snapshot.
    TimeOff.objects.bulk_create(
        [TimeOff(stylist=demo.ana, start=demo.local(day, 0), end=demo.local(day, 23, 30), reason="sick")]
    )
    assert slots(client, demo.haircut, day, stylist=demo.ana) == offered

    response = post(client, "/appointments", booking(offered[0], service=demo.haircut, stylist=demo.ana))
    assert response.status_code == 409
    assert response.json()["code"] == "time_off"


def test_it_holds_only_active_services_and_stylists_and_whom_they_offer(demo):
    Service.objects.filter(pk=demo.colour.pk).update(is_active=False)
    snapshot = catalog.get()
    assert set(snapshot.services) == {demo.haircut.pk}
    assert snapshot.stylists_for(demo.haircut) == [demo.ana, demo.ben]
    assert snapshot.offers[demo.ana.pk] == frozenset({demo.haircut.pk})
    assert snapshot.has_stylist(demo.ben.pk)


def test_it_keeps_no_history_of_time_off_or_closures(demo):
    today = demo.next_working_day(min_days_ahead=0)
    long_ago = today - timedelta(days=400)
    TimeOffFactory(stylist=demo.ana, start=demo.local(long_ago, 9), end=demo.local(long_ago, 17))
    ClosureFactory(date=long_ago)
    soon = today + timedelta(days=3)
    TimeOffFactory(stylist=demo.ana, start=demo.local(soon, 9), end=demo.local(soon, 17))
    ClosureFactory(date=soon)

    snapshot = catalog.get()
    assert snapshot.closures == frozenset({soon})
    assert snapshot.time_off[demo.ana.pk] == ((demo.local(soon, 9), demo.local(soon, 17)),)


def test_it_gives_hours_in_order_by_weekday(demo):
    WorkingHours.objects.filter(stylist=demo.ben).delete()
    WorkingHours.objects.bulk_create(
        [
            WorkingHours(stylist=demo.ben, weekday=2, start=time(14), end=time(18)),
            WorkingHours(stylist=demo.ben, weekday=2, start=time(8), end=time(12)),
        ]
    )
    catalog.clear()  # bulk_create sends no signal
    assert catalog.get().weekly_hours(demo.ben.pk) == {2: [(time(8), time(12)), (time(14), time(18))]}
    assert catalog.get().weekly_hours(999) == {}


def test_it_is_cleared_by_deletes_too(demo_tx):
    demo = demo_tx
    day = demo.next_working_day()
    ClosureFactory(date=day)
    assert day in catalog.get().closures
    Closure.objects.filter(date=day).delete()  # a queryset delete sends post_delete per row
    assert day not in catalog.get().closures

    assert 0 in catalog.get().weekly_hours(demo.ana.pk)
    demo.ana.hours.filter(weekday=0).delete()
    assert 0 not in catalog.get().weekly_hours(demo.ana.pk)


def read_in_another_thread() -> catalog.Catalog:
    """catalog.get() as another request of this process makes it: on its own
    connection, outside this thread's transaction."""

    def read() -> catalog.Catalog:
        try:
            return catalog.get()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(read).result()


def test_it_keeps_no_snapshot_read_between_a_change_and_its_commit(demo_tx):
    day = demo_tx.next_working_day()
    catalog.get()
    with transaction.atomic():
        ClosureFactory(date=day)
        # Another request reads meanwhile: it must see the committed state (no
        # closure yet) and must not keep it beyond the commit.
        assert day not in read_in_another_thread().closures
    assert day in catalog.get().closures
    assert day in read_in_another_thread().closures


class Rollback(Exception):
    pass


def test_it_needs_no_clearing_for_a_change_rolled_back(demo):
    day = demo.next_working_day()
    snapshot = catalog.get()
    with pytest.raises(Rollback), transaction.atomic():
        ClosureFactory(date=day)
        raise Rollback
    assert catalog.get() is snapshot
    assert day not in snapshot.closures


def test_it_keeps_no_snapshot_whose_load_a_commit_overtook(demo, monkeypatch):
    """A change that commits (and clears) while a load is reading the tables may be
    missing from what that load read: the request gets it, the process keeps none."""
    real_load = catalog._load

    def load_overtaken_by_a_commit() -> catalog.Catalog:
        loaded = real_load()
        catalog.clear()  # as transaction.on_commit runs it in another thread
        return loaded

    monkeypatch.setattr(catalog, "_load", load_overtaken_by_a_commit)
    first = catalog.get()
    monkeypatch.setattr(catalog, "_load", real_load)
    assert catalog.get() is not first


def test_it_forgets_the_cached_salon_when_its_change_commits(demo_tx):
    from django.core.cache import cache
    from django.db import transaction

    from chairtime.booking.models import SALON_CACHE_KEY, Salon

    before = Salon.cached()
    with transaction.atomic():
        salon = Salon.load()
        salon.time_zone = "Europe/Paris"
        salon.save()
        # Another request reads the salon between the save and the commit: it
        # still sees the old row and caches it.
        cache.set(SALON_CACHE_KEY, before)

    assert Salon.cached().time_zone == "Europe/Paris"


def test_it_answers_a_visit_needing_a_resource_with_two_queries(client, demo, django_assert_num_queries):
    basin = Resource.objects.create(key="basin", name="Basin", quantity=2)
    ServicePhaseFactory(service=demo.colour, position=0, minutes=120, resources=[basin])
    day = demo.next_working_day()
    params = [("date", day.isoformat()), ("service", demo.colour.pk), ("service", demo.haircut.pk)]
    assert client.get("/api/v1/availability", params).status_code == 200  # loads the snapshot

    # The stylists' holds and the basins' holds: nothing else per request.
    with django_assert_num_queries(2):
        response = client.get("/api/v1/availability", [*params, ("bench", "1")])
    assert response.json()["slots"]


def test_it_sees_new_phases_and_stylists_own_figures_as_soon_as_they_commit(client, demo_tx):
    demo = demo_tx
    day = demo.next_working_day()
    haircut = demo.haircut
    assert catalog.get().offer(haircut, demo.ben.pk).treatment.duration == timedelta(minutes=60)

    StylistService.objects.filter(stylist=demo.ben, service=haircut).update(duration_minutes=45)
    catalog.clear()  # update() sends no signal: as another process's change, seen after CATALOG_SECONDS
    assert catalog.get().offer(haircut, demo.ben.pk).treatment.duration == timedelta(minutes=45)

    ServicePhaseFactory(service=haircut, position=0, minutes=20)
    ServicePhaseFactory(service=haircut, position=1, minutes=20, processing=True)
    ServicePhaseFactory(service=haircut, position=2, minutes=20)
    offer = catalog.get().offer(haircut, demo.ana.pk)
    assert [p.processing for p in offer.treatment.phases] == [False, True, False]
    assert slots(client, haircut, day, stylist=demo.ana)
