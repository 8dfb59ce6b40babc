"""Reminders: owed with the booking, one per offset of the salon's reminder_minutes,
each waiting in the queue until its time, re-checked when sent; delivered through a
real SMTP server on loopback, with the clock moved (time-machine) to their time."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from chairtime.booking import selectors, services
from chairtime.booking.models import Appointment
from chairtime.booking.services import ItemRequest
from chairtime.messages import outbox, tasks
from chairtime.messages.models import Message
from chairtime.messages.tests.conftest import run_worker, run_workers_at_once

pytestmark = pytest.mark.django_db(transaction=True)

_customers = itertools.count()
HOUR = timedelta(hours=1)


def book(demo, start=None, stylist=None, *, now=None) -> list[Appointment]:
    return services.visit_book(
        items=[ItemRequest(demo.haircut.pk, (stylist or demo.ben).pk)],
        start=start or demo.local(demo.next_working_day(), 10),
        customer_name="Alex Doe",
        customer_email=f"alex{next(_customers)}@example.com",
        now=now,
    )


def reminders():
    return Message.objects.filter(kind=Message.Kind.REMINDER).order_by("next_attempt_at")


def reminder_emails(smtp):
    return [e for e in smtp.received if e["Subject"].startswith("Reminder")]


def test_it_owes_a_reminder_per_offset_each_with_its_task_waiting_for_its_time(demo_tx):
    (appointment,) = book(demo_tx)
    start = appointment.starts_at

    due = [m.next_attempt_at for m in reminders()]
    assert due == [start - 24 * HOUR, start - 2 * HOUR]  # the salon's "1440,120"
    assert set(reminders().values_list("state", "about_starts_at")) == {("pending", start)}
    deferred = DBTaskResult.objects.exclude(run_after=get_date_max())
    assert sorted(deferred.values_list("run_after", flat=True)) == due
    assert DBTaskResult.objects.ready().count() == 1  # the confirmation's, for now


@pytest.mark.parametrize(
    ("booked_ahead", "expected"),
    [
        (timedelta(days=3), [1440, 120]),
        (25 * HOUR, [1440, 120]),  # the 24-hour one is an hour away: still owed
        (24 * HOUR + timedelta(minutes=59), [120]),  # within the hour after booking
        (3 * HOUR, [120]),  # no 24-hour reminder of a booking made 3 hours ahead
        (3 * HOUR - timedelta(minutes=1), []),  # the 2-hour one would come 59 minutes after
        (90 * timedelta(minutes=1), []),
    ],
    ids=["3-days", "25-h", "24-h-59-min", "3-h", "2-h-59-min", "90-min"],
)
def test_it_owes_no_reminder_within_the_bookings_own_notice(demo_tx, booked_ahead, expected):
    start = demo_tx.local(demo_tx.next_working_day(4), 14)

    book(demo_tx, start, now=start - booked_ahead)

    assert [round((start - m.next_attempt_at) / timedelta(minutes=1)) for m in reminders()] == expected


def test_a_salon_without_reminders_owes_none(demo_tx):
    demo_tx.salon.reminder_minutes = ""
    demo_tx.salon.save()

    book(demo_tx)

    assert not reminders().exists()


def test_it_sends_the_reminder_when_it_is_due_and_not_before(demo_tx, smtp, time_machine):
    (appointment,) = book(demo_tx)
    run_worker()
    assert [e["Subject"][:30] for e in smtp.received] == ["Your appointment at Demo Salon"]
    day_before = appointment.starts_at - 24 * HOUR

    time_machine.move_to(day_before - timedelta(minutes=1), tick=True)
    run_worker()
    assert reminder_emails(smtp) == []
    time_machine.move_to(day_before + timedelta(seconds=1), tick=True)
    run_worker()

    (email,) = reminder_emails(smtp)
    assert "10:00 AM PST" in email["Subject"] or "10:00 AM PDT" in email["Subject"]
    text = email.get_body(("plain",)).get_content()
    assert "a reminder of your appointment" in text
    assert "America/Los_Angeles" in text and "https://salon.example/booking/" in text
    assert not [p for p in email.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert list(reminders().values_list("state", flat=True)) == ["sent", "pending"]


def test_a_reminder_due_while_the_worker_was_down_goes_when_it_is_back_and_only_once(
    demo_tx, smtp, time_machine
):
    (appointment,) = book(demo_tx)
    # No worker from the booking until four hours after the 24-hour reminder was due;
    # the sweep may also run first and give the late reminder a second task.
    time_machine.move_to(appointment.starts_at - 20 * HOUR, tick=True)
    assert outbox.sweep() == 2  # the confirmation and the late reminder
    run_workers_at_once(2)

    assert len(reminder_emails(smtp)) == 1
    assert list(reminders().values_list("state", "attempts")) == [("sent", 1), ("pending", 0)]


def test_the_sweep_gives_a_reminder_whose_task_was_lost_a_new_one(demo_tx, smtp, time_machine):
    (appointment,) = book(demo_tx)
    run_worker()
    DBTaskResult.objects.filter(status="READY", task_path=tasks.deliver.module_path).delete()

    time_machine.move_to(appointment.starts_at - 2 * HOUR + outbox.stranded_after() + timedelta(seconds=1))
    outbox.sweep()
    run_worker()

    # The 24-hour one was due long ago too and got a task again, but the 2-hour
    # one is due: one reminder, not two at once.
    assert len(reminder_emails(smtp)) == 1
    assert list(reminders().values_list("state", flat=True)) == ["skipped", "sent"]


def test_no_reminder_of_a_cancelled_visit(demo_tx, smtp, time_machine):
    (appointment,) = book(demo_tx)

    services.appointment_cancel(appointment_id=appointment.pk)

    assert set(reminders().values_list("state", flat=True)) == {"skipped"}  # dropped at once
    time_machine.move_to(appointment.starts_at - HOUR, tick=True)
    run_worker()
    assert reminder_emails(smtp) == []
    assert "cancelled" in smtp.received[-1]["Subject"]


def test_a_reminder_rechecks_the_visit_when_sent(demo_tx, smtp, time_machine):
    """Even a change that forgot to re-plan (here written around the services)
    sends no reminder of what is no longer true."""
    cancelled, moved, kept = (
        book(demo_tx, demo_tx.local(demo_tx.next_working_day(), hour))[0] for hour in (9, 11, 14)
    )
    Appointment.objects.filter(pk=cancelled.pk).update(
        status=Appointment.Status.CANCELLED, cancelled_at=timezone.now()
    )
    Appointment.objects.filter(pk=moved.pk).update(
        starts_at=moved.starts_at + HOUR, ends_at=moved.ends_at + HOUR
    )

    time_machine.move_to(kept.starts_at - 24 * HOUR + timedelta(seconds=1), tick=True)
    run_worker()

    (email,) = reminder_emails(smtp)
    assert email["To"] == kept.customer_email
    states = dict(reminders().filter(next_attempt_at__lte=timezone.now()).values_list("appointment", "state"))
    assert states == {cancelled.pk: "skipped", moved.pk: "skipped", kept.pk: "sent"}


def test_no_reminder_once_the_visit_has_begun(demo_tx, smtp, time_machine):
    (appointment,) = book(demo_tx)

    time_machine.move_to(appointment.starts_at + timedelta(minutes=5), tick=True)
    run_worker()

    assert reminder_emails(smtp) == []
    assert set(reminders().values_list("state", flat=True)) == {"skipped"}


def test_plan_reminders_after_a_move_drops_the_old_ones_and_owes_the_new_ones(demo_tx, smtp, time_machine):
    (appointment,) = book(demo_tx)
    old_start = appointment.starts_at
    new_start = old_start + 48 * HOUR
    # What a reschedule writes (in its transaction), then the call it must make.
    Appointment.objects.filter(pk=appointment.pk).update(starts_at=new_start, ends_at=new_start + HOUR)
    visit = selectors.visit_appointment_list(appointment)

    planned = outbox.plan_reminders(visit)
    again = outbox.plan_reminders(visit)

    assert [m.next_attempt_at for m in planned] == [new_start - 24 * HOUR, new_start - 2 * HOUR]
    assert again == []  # nothing owed twice
    by_start = sorted(reminders().values_list("about_starts_at", "state"))
    assert by_start == [(old_start, "skipped")] * 2 + [(new_start, "pending")] * 2
    time_machine.move_to(new_start - 2 * HOUR + timedelta(seconds=1), tick=True)
    run_worker()
    (email,) = reminder_emails(smtp)  # the new 2-hour one; none of the old, nor the late 24-hour one
    assert int(email["X-Chairtime-Message"]) == planned[1].pk


def test_a_change_of_stylist_keeps_the_reminders(demo_tx):
    (appointment,) = book(demo_tx)
    Appointment.objects.filter(pk=appointment.pk).update(stylist=demo_tx.ana)

    assert outbox.plan_reminders(selectors.visit_appointment_list(appointment)) == []

    assert set(reminders().values_list("state", flat=True)) == {"pending"}


def test_many_reminders_due_at_once_two_workers_send_each_once(demo_tx, smtp, time_machine):
    day = demo_tx.next_working_day()
    for hour in (9, 10, 11, 14, 15, 16):
        for stylist in (demo_tx.ana, demo_tx.ben):
            book(demo_tx, demo_tx.local(day, hour), stylist)
    run_worker()  # the confirmations
    smtp.received.clear()

    time_machine.move_to(demo_tx.local(day, 9) - 2 * HOUR + timedelta(seconds=1), tick=True)
    run_workers_at_once(2)

    sent = [int(e["X-Chairtime-Message"]) for e in smtp.received]
    # Each visit's 24-hour reminder is due (09:00 to 16:00 the day before), but
    # the two 09:00 visits' 2-hour ones too, which stand in for theirs.
    assert len(sent) == len(set(sent)) == 12
    assert sorted(sent) == sorted(reminders().filter(state="sent").values_list("pk", flat=True))
