"""When the schedule changes under bookings (issue 12): the change lists the
appointments it affects before anything is saved, and staff keep or cancel each.

Through the real back office (Django's test client, a manager signed in) and the
service module, on whichever database the suite runs on.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chairtime.booking import schedule_changes, services
from chairtime.booking.models import (
    Appointment,
    Closure,
    ScheduleException,
    SpecialHours,
    StylistService,
    TimeOff,
    WorkingHours,
)
from chairtime.booking.tests.fixtures import DemoSalon
from chairtime.messages.models import Message


@pytest.fixture
def manager(client: Client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_superuser("manager", "manager@example.com", "x"))
    return client


@pytest.fixture
def day(demo: DemoSalon) -> date:
    return demo.next_working_day(min_days_ahead=3)


def book(demo: DemoSalon, day: date, hh: int, mm: int = 0, *, stylist=None, email="kim@example.com"):
    return services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=(stylist or demo.ana).pk,
        start=demo.local(day, hh, mm),
        customer_name="Kim",
        customer_email=email,
    )


def affected(scope: schedule_changes.Scope) -> list[tuple[int, str]]:
    return [
        (a.appointment.pk, a.reason)
        for a in schedule_changes.affected_appointment_list(scope, now=timezone.now())
    ]


# --- Which appointments a change affects ---------------------------------------


def test_time_off_over_an_appointment_affects_it_and_only_it(demo, day):
    inside = book(demo, day, 10)
    later = book(demo, day, 15)
    bens = book(demo, day, 10, stylist=demo.ben, email="lee@example.com")
    TimeOff.objects.create(stylist=demo.ana, start=demo.local(day, 9), end=demo.local(day, 12))

    assert affected(schedule_changes.Scope(None)) == [(inside.pk, "the stylist is away")]
    assert later.pk not in dict(affected(schedule_changes.Scope((demo.ana.pk,))))
    assert bens.pk not in dict(affected(schedule_changes.Scope(None)))


def test_a_closure_affects_everyone_that_day(demo, day):
    ana, ben = book(demo, day, 10), book(demo, day, 11, stylist=demo.ben, email="lee@example.com")
    Closure.objects.create(date=day, reason="Flood")

    assert affected(schedule_changes.Scope(None, day, day)) == [
        (ana.pk, "the salon is closed that day"),
        (ben.pk, "the salon is closed that day"),
    ]
    assert affected(schedule_changes.Scope(None, day + timedelta(days=1), None)) == []


def test_shorter_salon_hours_affect_what_runs_past_them(demo, day):
    morning, afternoon = book(demo, day, 10), book(demo, day, 14)
    SpecialHours.objects.create(date=day, start=time(9), end=time(14, 30), reason="Christmas Eve")

    assert affected(schedule_changes.Scope(None, day, day)) == [(afternoon.pk, "outside the stylist's hours")]
    assert morning.pk


def test_new_weekly_hours_and_dropped_services_affect_what_they_no_longer_cover(demo, day):
    early = book(demo, day, 9)
    late = book(demo, day, 16)
    WorkingHours.objects.filter(stylist=demo.ana, weekday=day.weekday(), start=time(9)).update(start=time(10))
    assert affected(schedule_changes.Scope((demo.ana.pk,))) == [(early.pk, "outside the stylist's hours")]

    StylistService.objects.filter(stylist=demo.ana, service=demo.haircut).delete()
    assert affected(schedule_changes.Scope((demo.ana.pk,))) == [
        (early.pk, "the stylist no longer offers this service"),
        (late.pk, "the stylist no longer offers this service"),
    ]


def test_cancelled_and_past_appointments_are_not_listed(demo, day):
    gone = book(demo, day, 10)
    services.appointment_cancel(appointment_id=gone.pk)
    past = Appointment.objects.create(
        service=demo.haircut,
        stylist=demo.ana,
        starts_at=timezone.now() - timedelta(days=2),
        ends_at=timezone.now() - timedelta(days=2) + timedelta(hours=1),
        customer_name="Old",
        customer_email="old@example.com",
        price=1,
        created_at=timezone.now() - timedelta(days=9),
    )
    Closure.objects.create(date=day)
    TimeOff.objects.create(stylist=demo.ana, start=past.starts_at - timedelta(hours=1), end=past.ends_at)

    assert affected(schedule_changes.Scope(None)) == []


def test_a_kept_appointment_is_not_listed_again_until_it_moves(demo, day):
    appointment = book(demo, day, 10)
    TimeOff.objects.create(stylist=demo.ana, start=demo.local(day, 9), end=demo.local(day, 12))
    found = schedule_changes.affected_appointment_list(schedule_changes.Scope(None), now=timezone.now())
    schedule_changes.apply_decisions(
        found, {appointment.pk: schedule_changes.Decision.KEEP}, user=None, now=timezone.now()
    )
    assert affected(schedule_changes.Scope(None)) == []

    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=demo.local(day, 10, 30), ends_at=demo.local(day, 11, 30)
    )
    assert affected(schedule_changes.Scope(None)) == [(appointment.pk, "the stylist is away")]


# --- Through the back office ----------------------------------------------------


def add_closure(manager: Client, day: date, **decisions: str):
    data = {"date": day.isoformat(), "reason": "Flood", "_save": "Save"}
    if decisions:
        data["_schedule_decisions"] = "1"
        data |= {f"decision-{pk}": value for pk, value in decisions.items()}
    return manager.post("/admin/booking/closure/add/", data)


def test_the_form_lists_the_affected_appointments_and_saves_nothing(manager, demo, day):
    appointment = book(demo, day, 10)

    response = add_closure(manager, day)

    assert response.status_code == 409
    page = response.content.decode()
    assert "This change affects 1 booked appointment" in page
    assert "Kim" in page and "The salon is closed that day" in page
    assert f'name="decision-{appointment.pk}"' in page
    assert 'name="date" value="' + day.isoformat() in page  # the form, posted again with the decisions
    assert not Closure.objects.exists()
    assert Appointment.objects.get(pk=appointment.pk).is_confirmed


def test_cancelling_saves_the_change_and_tells_the_customer(manager, demo, day):
    appointment = book(demo, day, 10)

    response = add_closure(manager, day, **{str(appointment.pk): "cancel"})

    assert response.status_code == 302
    assert Closure.objects.filter(date=day).exists()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert not appointment.holds.exists()
    assert Message.objects.filter(appointment=appointment, kind=Message.Kind.VISIT_CANCELLED).count() == 1


def test_keeping_saves_the_change_with_an_exception_staff_own(manager, demo, day):
    appointment = book(demo, day, 10)

    response = add_closure(manager, day, **{str(appointment.pk): "keep"})

    assert response.status_code == 302
    assert Closure.objects.filter(date=day).exists()
    assert Appointment.objects.get(pk=appointment.pk).is_confirmed
    kept = ScheduleException.objects.get(appointment=appointment)
    assert (kept.kept_by.username, kept.reason) == ("manager", "the salon is closed that day")
    assert not Message.objects.filter(kind=Message.Kind.VISIT_CANCELLED).exists()


def test_every_appointment_needs_a_decision(manager, demo, day):
    first, second = book(demo, day, 10), book(demo, day, 11, stylist=demo.ben, email="lee@example.com")

    response = add_closure(manager, day, **{str(first.pk): "cancel", str(second.pk): "maybe"})

    assert response.status_code == 409
    assert "Choose keep or cancel for every appointment below." in response.content.decode()
    assert not Closure.objects.exists()
    assert Appointment.objects.filter(status="confirmed").count() == 2


def test_time_off_over_a_booking_in_the_stylist_form_is_caught_too(manager, demo, day):
    appointment = book(demo, day, 10)
    start, end = demo.local(day, 9), demo.local(day, 12)

    response = manager.post(
        "/admin/booking/timeoff/add/",
        {
            "stylist": demo.ana.pk,
            "start_0": start.date().isoformat(),
            "start_1": "09:00",
            "end_0": end.date().isoformat(),
            "end_1": "12:00",
            "reason": "Dentist",
            "_save": "Save",
        },
    )

    assert response.status_code == 409, response.content.decode()[:2000]
    assert "The stylist is away" in response.content.decode()
    assert not TimeOff.objects.exists()
    assert Appointment.objects.get(pk=appointment.pk).is_confirmed


def test_a_change_that_affects_nothing_saves_as_before(manager, demo, day):
    book(demo, day, 10)

    response = add_closure(manager, day + timedelta(days=1))

    assert response.status_code == 302
    assert Closure.objects.filter(date=day + timedelta(days=1)).exists()


def test_a_salon_wide_special_day_names_the_stylists_it_affects(manager, demo, day):
    late = book(demo, day, 16, stylist=demo.ben, email="lee@example.com")

    response = manager.post(
        "/admin/booking/specialhours/add/",
        {
            "salon": demo.salon.pk,
            "date": day.isoformat(),
            "start": "09:00",
            "end": "15:00",
            "reason": "Christmas Eve",
            "_save": "Save",
        },
    )

    assert response.status_code == 409, response.context["adminform"].form.errors
    assert "Ben" in response.content.decode()
    assert f'name="decision-{late.pk}"' in response.content.decode()
    assert not SpecialHours.objects.exists()


def test_deleting_a_stylists_extra_shift_asks_about_what_was_booked_in_it(manager, demo, day):
    sunday = day + timedelta(days=(6 - day.weekday()))
    shift = SpecialHours.objects.create(stylist=demo.ana, date=sunday, start=time(10), end=time(14))
    appointment = book(demo, sunday, 11)

    asked = manager.post(f"/admin/booking/specialhours/{shift.pk}/delete/", {"post": "yes"})
    assert asked.status_code == 409
    assert f'name="decision-{appointment.pk}"' in asked.content.decode()
    assert SpecialHours.objects.filter(pk=shift.pk).exists()

    done = manager.post(
        f"/admin/booking/specialhours/{shift.pk}/delete/",
        {"post": "yes", "_schedule_decisions": "1", f"decision-{appointment.pk}": "cancel"},
    )
    assert done.status_code == 302
    assert not SpecialHours.objects.filter(pk=shift.pk).exists()
    assert Appointment.objects.get(pk=appointment.pk).status == Appointment.Status.CANCELLED


def test_a_list_edit_that_would_strand_bookings_saves_nothing_and_says_why(manager, demo, day):
    appointment = book(demo, day, 10)
    form = {
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "2",
        "_save": "Save",
    }
    for n, stylist in enumerate(sorted([demo.ana, demo.ben], key=lambda s: (s.position, s.name))):
        form |= {
            f"form-{n}-id": str(stylist.pk),
            f"form-{n}-is_active": "" if stylist == demo.ana else "on",
            f"form-{n}-position": str(stylist.position),
        }

    response = manager.post("/admin/booking/stylist/", form, follow=True)

    assert "Nothing was saved: this would leave 1 booked appointment(s)" in response.content.decode()
    demo.ana.refresh_from_db()
    assert demo.ana.is_active
    assert Appointment.objects.get(pk=appointment.pk).is_confirmed


def test_a_bulk_delete_that_would_strand_bookings_is_refused(manager, demo, day):
    sunday = day + timedelta(days=(6 - day.weekday()))
    shift = SpecialHours.objects.create(stylist=demo.ana, date=sunday, start=time(10), end=time(14))
    book(demo, sunday, 11)

    response = manager.post(
        "/admin/booking/specialhours/",
        {"action": "delete_selected", "_selected_action": [shift.pk], "post": "yes"},
        follow=True,
    )

    assert "Nothing was saved" in response.content.decode()
    assert SpecialHours.objects.filter(pk=shift.pk).exists()
