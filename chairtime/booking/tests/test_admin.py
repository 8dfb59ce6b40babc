"""The back office's booking pages (booking/admin.py), through the real admin site."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chairtime.booking import services
from chairtime.booking.admin import AppointmentAdmin
from chairtime.booking.models import Appointment
from chairtime.booking.tests.factories import AppointmentFactory

DAY = date(2027, 3, 15)  # a Monday
NOW = datetime(2027, 3, 12, 18, 0, tzinfo=UTC)

needs_row_locks = pytest.mark.skipif(
    connection.vendor == "sqlite", reason="SQLite serialises writers with BEGIN IMMEDIATE"
)


def manager_client(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("manager", "manager@example.com", "x"))
    return client


def contact_details(appointment: Appointment, **changes: str) -> dict[str, str]:
    return {
        "customer_name": appointment.customer_name,
        "customer_email": appointment.customer_email,
        "customer_phone": appointment.customer_phone,
        "_save": "Save",
        **changes,
    }


@pytest.mark.concurrency
@needs_row_locks
def test_it_keeps_a_customer_cancel_that_lands_while_staff_save_contact_details(
    demo_tx, django_user_model, monkeypatch
):
    appointment = AppointmentFactory(
        service=demo_tx.haircut, stylist=demo_tx.ana, starts_at=demo_tx.local(DAY, 10)
    )
    client = manager_client(django_user_model)
    staff_has_read, cancel_done = threading.Event(), threading.Event()
    real_get_object = AppointmentAdmin.get_object

    def read_then_linger(self, request, object_id, from_field=None):
        # The window of the race: the back office has read the row and not yet
        # written it. Without a lock the customer's cancel commits in it; with the
        # lock it cannot, so this gives up waiting for it after a second.
        obj = real_get_object(self, request, object_id, from_field)
        if request.method == "POST":
            staff_has_read.set()
            cancel_done.wait(timeout=1)
        return obj

    monkeypatch.setattr(AppointmentAdmin, "get_object", read_then_linger)

    def customer_cancels() -> Appointment:
        try:
            assert staff_has_read.wait(timeout=10)
            return services.appointment_cancel(appointment_id=appointment.pk, now=NOW)
        finally:
            cancel_done.set()
            connections.close_all()  # the thread opened its own connection

    with ThreadPoolExecutor(1) as pool:
        cancel = pool.submit(customer_cancels)
        response = client.post(
            f"/admin/booking/appointment/{appointment.pk}/change/",
            contact_details(appointment, customer_phone="+1 555 0100"),
        )
        assert cancel.result().status == Appointment.Status.CANCELLED

    assert response.status_code == 302, response.content
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancelled_at == NOW
    assert appointment.customer_phone == "+1 555 0100"


def test_it_writes_only_the_contact_details_staff_changed(demo, django_user_model):
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 10))
    client = manager_client(django_user_model)

    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/admin/booking/appointment/{appointment.pk}/change/",
            contact_details(appointment, customer_phone="+1 555 0100"),
        )

    assert response.status_code == 302, response.content
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "appointment" in q["sql"]]
    assert len(updates) == 1
    assert "customer_phone" in updates[0]
    assert "status" not in updates[0]
    assert "customer_name" not in updates[0]
