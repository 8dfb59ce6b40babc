"""Staff see, on each appointment's page in the back office, every message of its
visit and how its delivery went; read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from chairtime.booking import services
from chairtime.booking.models import Appointment
from chairtime.booking.services import ItemRequest
from chairtime.messages.models import Message
from chairtime.messages.tests.conftest import run_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("manager", "manager@example.com", "x"))
    return client


@pytest.fixture
def visit(demo_tx, smtp) -> list[Appointment]:
    appointments = services.visit_book(
        items=[
            ItemRequest(demo_tx.colour.pk, demo_tx.ana.pk),
            ItemRequest(demo_tx.haircut.pk, demo_tx.ben.pk),
        ],
        start=demo_tx.local(demo_tx.next_working_day(), 9),
        customer_name="Alex Doe",
        customer_email="alex@example.com",
    )
    smtp.stop()
    run_worker()  # the confirmation's first attempt fails
    return appointments


def test_each_appointment_of_a_visit_shows_its_messages_and_their_delivery(visit, staff):
    for appointment in visit:
        response = staff.get(f"/admin/booking/appointment/{appointment.pk}/change/")

        assert response.status_code == 200
        (inline,) = [f for f in response.context["inline_admin_formsets"] if f.opts.model is Message]
        shown = [form.original for form in inline]
        assert [(m.kind, m.state, m.attempts) for m in shown] == [
            ("visit_booked", "pending", 1),
            ("reminder", "pending", 0),
            ("reminder", "pending", 0),
        ]
        page = response.content.decode()
        assert "Messages to the customer" in page
        assert "ConnectionRefusedError" in page  # why the confirmation is still waiting
        assert not inline.has_add_permission and not inline.has_change_permission


def test_staff_still_save_contact_details_while_the_worker_writes_messages(visit, staff):
    lead = visit[0]
    staff.get(f"/admin/booking/appointment/{lead.pk}/change/")
    Message.objects.filter(kind="visit_booked").update(state="sent")  # the worker, meanwhile

    response = staff.post(
        f"/admin/booking/appointment/{lead.pk}/change/",
        {
            "customer_name": lead.customer_name,
            "customer_email": lead.customer_email,
            "customer_phone": "+1 555 0100",
            "_save": "Save",
        },
    )

    assert response.status_code == 302, response.content
    lead.refresh_from_db()
    assert lead.customer_phone == "+1 555 0100"
    assert Message.objects.get(kind="visit_booked").state == "sent"  # the page wrote no message
