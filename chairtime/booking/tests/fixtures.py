"""Shared fixtures: a small salon in America/Los_Angeles, and helpers to pick days
relative to the real clock for tests that go through HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from chairtime.booking.models import Salon, Service, Stylist
from chairtime.booking.tests.factories import SalonFactory, ServiceFactory, StylistFactory


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
