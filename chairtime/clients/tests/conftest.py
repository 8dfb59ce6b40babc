from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from chairtime.booking.models import Appointment
from chairtime.booking.tests.conftest import browser_type_launch_args  # noqa: F401 (Debian's Chromium)
from chairtime.booking.tests.factories import AppointmentFactory
from chairtime.clients.models import Client, ClientAppointment
from chairtime.frontdesk.models import Role, StaffMember

CREATED = datetime(2026, 1, 5, 9, tzinfo=UTC)


def staff_user(username: str = "desk", role: str = Role.FRONT_DESK, stylist=None) -> User:
    """A signed-in account with a role at the front desk (what the client pages check)."""
    user = User.objects.create_user(username, password="x")
    StaffMember.objects.create(user=user, role=role, stylist=stylist)
    return user


@pytest.fixture
def desk(demo) -> User:
    """The front desk: reads and writes cards, does not erase them."""
    return staff_user("desk", Role.FRONT_DESK)


@pytest.fixture
def manager(demo) -> User:
    return staff_user("manager", Role.MANAGER)


def make_card(demo, name="Alex Doe", email="alex@example.com", phone="+1 415 555 0100") -> Client:
    return Client.objects.create(salon=demo.salon, name=name, email=email, phone=phone, created_at=CREATED)


def visit_of(card: Client, demo, starts_at: datetime, *, cancelled_before: timedelta | None = None, **kw):
    fields = {
        "service": demo.haircut,
        "stylist": demo.ana,
        "customer_name": card.name,
        "customer_email": card.email or "",
        "created_at": starts_at - timedelta(days=10),
        **kw,
    }
    appointment = AppointmentFactory(starts_at=starts_at, **fields)
    if cancelled_before is not None:
        appointment.status = Appointment.Status.CANCELLED
        appointment.cancelled_at = starts_at - cancelled_before
        appointment.save(update_fields=["status", "cancelled_at"])
    ClientAppointment.objects.create(appointment=appointment, client=card, how="email", attached_at=CREATED)
    return appointment
