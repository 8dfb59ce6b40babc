"""Pruning: finished messages older than a year and the queue's finished task rows
older than a week go; nothing waiting or being sent, nor another queue's rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chairtime.booking import services
from chairtime.booking.services import ItemRequest
from chairtime.messages import outbox, tasks
from chairtime.messages.models import Message
from chairtime.messages.tests.conftest import run_worker

pytestmark = pytest.mark.django_db(transaction=True)

DAY = timedelta(days=1)


def book(demo, hour: int):
    return services.visit_book(
        items=[ItemRequest(demo.haircut.pk, demo.ben.pk)],
        start=demo.local(demo.next_working_day(), hour),
        customer_name="Alex Doe",
        customer_email="alex@example.com",
    )


@pytest.fixture
def history(demo_tx, smtp):
    """A kept visit (confirmation sent, reminders waiting), a cancelled one
    (confirmation skipped, cancellation sent, reminders dropped), and a message
    given up; every task row the worker ran is finished."""
    book(demo_tx, 9)
    (cancelled,) = book(demo_tx, 11)
    services.appointment_cancel(appointment_id=cancelled.pk)
    run_worker()
    Message.objects.filter(kind="visit_cancelled").update(state="failed", sent_at=None)
    DBTaskResult.objects.create(
        task_path="elsewhere.task",
        queue_name="default",
        backend_name="default",
        args_kwargs={"args": [], "kwargs": {}},
        status="SUCCESSFUL",
        finished_at=timezone.now(),
        run_after=timezone.now(),
    )
    return timezone.now()


def states():
    return sorted(Message.objects.values_list("kind", "state"))


def test_it_deletes_finished_messages_after_a_year_and_finished_task_rows_after_a_week(history):
    before = states()
    assert before == sorted(
        [
            *[("visit_booked", "sent"), ("reminder", "pending"), ("reminder", "pending")],
            *[("visit_booked", "skipped"), ("visit_cancelled", "failed")],
            *[("reminder", "skipped"), ("reminder", "skipped")],
        ]
    )
    finished_tasks = DBTaskResult.objects.finished().filter(queue_name=tasks.QUEUE).count()
    assert finished_tasks == 3  # the three deliveries the worker ran
    waiting_tasks = DBTaskResult.objects.filter(status="READY").count()

    assert outbox.prune(now=history + 6 * DAY) == (0, 0)
    assert outbox.prune(now=history + 8 * DAY) == (0, finished_tasks)
    assert DBTaskResult.objects.filter(status="READY").count() == waiting_tasks  # still to run
    assert DBTaskResult.objects.filter(queue_name="default").count() == 1  # not ours
    assert outbox.prune(now=history + 364 * DAY) == (0, 0)
    assert outbox.prune(now=history + 370 * DAY) == (5, 0)

    assert states() == [("reminder", "pending"), ("reminder", "pending")]  # never sent: kept


def test_a_message_sent_lately_is_kept_however_long_ago_it_was_owed(history):
    Message.objects.filter(kind="visit_booked", state="sent").update(
        created_at=history - 400 * DAY, next_attempt_at=history - 400 * DAY, sent_at=history - DAY
    )

    outbox.prune(now=history + DAY)

    assert Message.objects.filter(kind="visit_booked", state="sent").exists()


def test_the_command_prunes_with_its_ages_and_counts_on_a_dry_run(history, time_machine, capsys):
    time_machine.move_to(history + 30 * DAY, tick=True)

    call_command("messages_prune", "--days", "20", "--dry-run")
    assert Message.objects.count() == 7
    call_command("messages_prune", "--days", "20")

    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Would delete 5 messages older than 20 days and 3 task rows older than 7 days.",
        "Deleted 5 messages older than 20 days and 3 task rows older than 7 days.",
    ]
    assert Message.objects.count() == 2


@pytest.mark.parametrize("value", ["0", "-3", "a year"])
def test_the_command_refuses_an_age_that_would_delete_everything_or_is_not_a_number(db, value):
    with pytest.raises(CommandError, match=r"keep at least 1 day|not a whole number of days"):
        call_command("messages_prune", "--days", value)


def test_the_worker_prunes_once_a_day(demo_tx, smtp):
    outbox.ensure_sweeping()
    outbox.ensure_sweeping()  # a second worker starting: still one chain each

    run_worker()

    prunes = DBTaskResult.objects.filter(task_path=tasks.prune.module_path).order_by("enqueued_at")
    assert list(prunes.values_list("status", "return_value")) == [("SUCCESSFUL", [0, 0]), ("READY", None)]
    (next_prune,) = prunes.filter(status="READY")
    assert next_prune.run_after - timezone.now() == pytest.approx(DAY, abs=timedelta(minutes=1))
