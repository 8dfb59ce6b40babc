"""Shared fixtures: a small salon in America/Los_Angeles, and helpers to pick days
relative to the real clock for tests that go through HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from chairtime.booking.models import Resource, Salon, Service, Stylist
from chairtime.booking.tests.factories import (
    ResourceFactory,
    SalonFactory,
    ServiceFactory,
    ServicePhaseFactory,
    StylistFactory,
)


@dataclass
class DemoSalon:
    salon: Salon
    haircut: Service  # 60 minutes
    colour: Service  # 120 minutes, only Ana
    ana: Stylist
    ben: Stylist

    def local(self, day: date, hh: int, mm: int = 0) -> datetime:
        """An aware datetime at local wall time hh:mm on ``day`` in the salon's zone."""
        return datetime.combine(day, time(hh, mm), tzinfo=self.salon.tz)

    def next_working_day(self, min_days_ahead: int = 2) -> date:
        """A Monday-to-Saturday local date at least ``min_days_ahead`` days from now
        (so the minimum notice never interferes), inside the booking horizon."""
        day = timezone.now().astimezone(self.salon.tz).date() + timedelta(days=min_days_ahead)
        while day.weekday() == 6:
            day += timedelta(days=1)
        return day


def make_demo_salon() -> DemoSalon:
    salon = SalonFactory()
    haircut = ServiceFactory(key="haircut", name="Haircut", duration_minutes=60)
    colour = ServiceFactory(key="colour", name="Colour", duration_minutes=120)
    ana = StylistFactory(key="ana", name="Ana", services=[haircut, colour])
    ben = StylistFactory(key="ben", name="Ben", services=[haircut])
    return DemoSalon(salon=salon, haircut=haircut, colour=colour, ana=ana, ben=ben)


@pytest.fixture
def demo(db) -> DemoSalon:
    return make_demo_salon()


@pytest.fixture
def demo_tx(transactional_db) -> DemoSalon:
    """The demo salon, committed for real: for live-server and concurrency tests."""
    return make_demo_salon()


@dataclass
class ColourSalon:
    """The demo salon with the schedule of issue 10: the colour is 45 minutes'
    application at the one colour station, 45 minutes' processing (the client
    waits, the stylist is free) and a 15-minute rinse at one of two basins; a cut
    is 30 minutes and needs nothing. Starts every 15 minutes, so a cut fits the
    processing gap at two starts that overlap each other."""

    demo: DemoSalon
    station: Resource
    basin: Resource
    colour: Service  # demo.colour, now in phases: 105 minutes
    cut: Service
    colourists: list[Stylist]  # Ana, Ben, then the extra ones; all offer colour and cut
    cutter: Stylist | None = None  # a stylist who only cuts, when a test adds one

    APPLICATION = timedelta(minutes=45)
    PROCESSING = timedelta(minutes=45)

    def local(self, day: date, hh: int, mm: int = 0) -> datetime:
        return self.demo.local(day, hh, mm)


def make_colour_salon(demo: DemoSalon, *, extra_colourists: int = 0) -> ColourSalon:
    demo.salon.slot_minutes = 15
    demo.salon.save()
    station = ResourceFactory(key="colour-station", name="Colour station", quantity=1)
    basin = ResourceFactory(key="basin", name="Basin", quantity=2)
    colour = demo.colour
    ServicePhaseFactory(service=colour, position=0, minutes=45, resources=[station])
    ServicePhaseFactory(service=colour, position=1, minutes=45, processing=True)
    ServicePhaseFactory(service=colour, position=2, minutes=15, resources=[basin])
    colour.sync_duration()
    cut = ServiceFactory(key="cut", name="Cut", duration_minutes=30)
    extra = [
        StylistFactory(key=f"colourist-{n}", name=f"Colourist {n}", services=[colour, cut])
        for n in range(extra_colourists)
    ]
    demo.ana.services.add(cut)
    demo.ben.services.add(colour, cut)
    return ColourSalon(
        demo=demo,
        station=station,
        basin=basin,
        colour=colour,
        cut=cut,
        colourists=[demo.ana, demo.ben, *extra],
    )
