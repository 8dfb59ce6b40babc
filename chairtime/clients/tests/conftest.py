from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User

from chairtime.booking.models import Appointment
from chairtime.booking.tests.conftest import browser_type_launch_args  # noqa: F401 (Debian's Chromium)
from chairtime.booking.tests.factories import AppointmentFactory
from chairtime.clients.models import Client, ClientAppointment

CREATED = datetime(2026, 1, 5, 9, tzinfo=UTC)


def staff_user(username: str = "desk", *perms: str) -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="clients", codename__in=perms)
    )
    return user


@pytest.fixture
def desk(db) -> User:
    """Staff who may read and write cards, not erase them."""
    return staff_user("desk", "view_client", "change_client")


@pytest.fixture
def manager(db) -> User:
    return staff_user("manager", "view_client", "change_client", "delete_client")


def make_card(demo, name="Alex Doe", email="alex@example.com", phone="+1 415 555 0100") -> Client:
    return Client.objects.create(salon=demo.salon, name=name, email=email, phone=phone, created_at=CREATED)


def visit_of(card: Client, demo, starts_at: datetime, *, cancelled_before: timedelta | None = None, **kw):
    appointment = AppointmentFactory(
        service=demo.haircut,
        stylist=demo.ana,
        starts_at=starts_at,
        customer_name=card.name,
        customer_email=card.email or "",
        created_at=starts_at - timedelta(days=10),
        **kw,
    )
    if cancelled_before is not None:
        appointment.status = Appointment.Status.CANCELLED
        appointment.cancelled_at = starts_at - cancelled_before
        appointment.save(update_fields=["status", "cancelled_at"])
    ClientAppointment.objects.create(appointment=appointment, client=card, how="email", attached_at=CREATED)
    return appointment
