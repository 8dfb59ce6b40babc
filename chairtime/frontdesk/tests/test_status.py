"""Attendance and cancellation from the appointment's page: each change recorded
with who and when, refused in a sentence when it makes no sense."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from django.test import Client
from django.urls import reverse

from chairtime.booking import services
from chairtime.booking.models import Appointment, Hold
from chairtime.frontdesk.models import AppointmentEvent, AppointmentState, Attendance
from chairtime.frontdesk.tests.conftest import DAY, NOW
from chairtime.messages.models import Message


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def booked(demo, stylist=None, hh: int = 10, email: str = "zoe@example.com") -> Appointment:
    return services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=(stylist or demo.ana).pk,
        start=demo.local(DAY, hh),
        customer_name="Zoe Park",
        customer_email=email,
        now=NOW,
    )


def press(client, appointment, action: str):
    return client.post(reverse("frontdesk:status", args=[appointment.pk]), {"action": action})


def attendance(appointment) -> str:
    state = AppointmentState.objects.filter(appointment=appointment).first()
    return state.attendance if state else Attendance.BOOKED


def test_the_desk_walks_an_appointment_through_the_day(desk, demo, clock):
    appointment = booked(demo)
    clock.move_to(demo.local(DAY, 9, 55))
    assert press(desk.front, appointment, "arrived").status_code == 302
    clock.move_to(demo.local(DAY, 10, 2))
    assert press(desk.front, appointment, "in_progress").status_code == 302
    clock.move_to(demo.local(DAY, 11))
    assert press(desk.front, appointment, "completed").status_code == 302
    assert attendance(appointment) == Attendance.COMPLETED
    events = list(AppointmentEvent.objects.values_list("kind", "by_name", "at"))
    assert events == [
        ("arrived", "fred", demo.local(DAY, 9, 55)),
        ("in_progress", "fred", demo.local(DAY, 10, 2)),
        ("completed", "fred", demo.local(DAY, 11)),
    ]
    page = text(desk.front.get(reverse("frontdesk:appointment", args=[appointment.pk])))
    assert "Status Completed" in page
    assert "Arrived by fred" in page
    assert "Completed by fred" in page


def test_a_no_show_before_the_start_is_refused_in_words(desk, demo, clock):
    appointment = booked(demo)
    response = press(desk.front, appointment, "no_show")
    assert response.status_code == 409
    assert "has not started yet, so it cannot be marked no-show" in text(response)
    clock.move_to(demo.local(DAY, 10, 20))
    assert press(desk.front, appointment, "no_show").status_code == 302
    assert attendance(appointment) == Attendance.NO_SHOW
    again = press(desk.front, appointment, "arrived")
    assert again.status_code == 409
    assert "already marked no-show, so it cannot be marked arrived" in text(again)


def test_cancelling_frees_the_time_and_tells_the_customer(desk, demo):
    appointment = booked(demo)
    response = press(desk.front, appointment, "cancel_salon")
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert not Hold.objects.filter(appointment=appointment).exists()
    assert Message.objects.filter(appointment=appointment, kind=Message.Kind.VISIT_CANCELLED).exists()
    [event] = AppointmentEvent.objects.all()
    assert (event.kind, event.by_name) == ("cancelled_salon", "fred")
    page = text(desk.front.get(reverse("frontdesk:appointment", args=[appointment.pk])))
    assert "Cancelled by the salon by fred" in page
    assert "Arrived" not in page.split("History")[0]  # no buttons left


def test_the_customer_cancelling_by_phone_is_recorded_as_theirs(desk, demo):
    appointment = booked(demo)
    assert press(desk.manager, appointment, "cancel_customer").status_code == 302
    assert AppointmentEvent.objects.get().kind == "cancelled_customer"


def test_a_started_appointment_cannot_be_cancelled(desk, demo, clock):
    appointment = booked(demo)
    clock.move_to(demo.local(DAY, 10, 5))
    response = press(desk.front, appointment, "cancel_customer")
    assert response.status_code == 409
    assert "already started" in text(response)
    assert not AppointmentEvent.objects.exists()


def test_an_arrived_customer_cannot_be_cancelled(desk, demo):
    appointment = booked(demo)
    press(desk.front, appointment, "arrived")
    response = press(desk.front, appointment, "cancel_salon")
    assert response.status_code == 409
    assert "marked arrived: it is too late to cancel" in text(response)


def test_a_stylist_marks_their_own_but_cannot_cancel(desk, demo):
    appointment = booked(demo)
    assert press(desk.ana, appointment, "arrived").status_code == 302
    response = press(desk.ana, appointment, "cancel_customer")
    assert response.status_code == 403
    assert "Only the front desk and managers can cancel" in text(response)
    page = text(desk.ana.get(reverse("frontdesk:appointment", args=[appointment.pk])))
    assert "Cancel:" not in page


def test_an_unknown_action_is_a_400(desk, demo):
    response = press(desk.front, booked(demo), "teleport")
    assert response.status_code == 400
    assert "not a change the desk can make" in text(response)


def test_changes_need_the_forms_csrf_token(desk, demo):
    appointment = booked(demo)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(desk.users["front"])
    response = press(strict, appointment, "arrived")
    assert response.status_code == 403
    assert attendance(appointment) == Attendance.BOOKED
    page = strict.get(reverse("frontdesk:appointment", args=[appointment.pk]))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    response = strict.post(
        reverse("frontdesk:status", args=[appointment.pk]),
        {"action": "arrived", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


def test_a_get_on_the_status_url_changes_nothing(desk, demo):
    appointment = booked(demo)
    response = desk.front.get(reverse("frontdesk:status", args=[appointment.pk]) + "?action=arrived")
    assert response.status_code == 405
    assert attendance(appointment) == Attendance.BOOKED


def test_the_calendar_shows_the_new_status(desk, demo, clock):
    appointment = booked(demo)
    press(desk.front, appointment, "arrived")
    body = desk.front.get(f"{reverse('frontdesk:day')}?date={DAY}").content.decode()
    assert "blk--arrived" in body
    clock.move_to(demo.local(DAY, 11) + timedelta(minutes=1))
    press(desk.front, appointment, "completed")
    body = desk.front.get(f"{reverse('frontdesk:day')}?date={DAY}").content.decode()
    assert "blk--completed" in body
