"""Messages owed to customers: written with the change that causes them, sent by
the worker, each attempt recorded.

The booking services call ``visit_booked`` / ``visit_changed`` /
``visit_cancelled`` inside their transaction. Each writes a Message row (the delivery log) and enqueues the
``deliver`` task (a row of django-tasks' database backend) on the same
connection: both commit with the booking, or neither exists.

The worker (``manage.py db_worker``) claims a task with SELECT ... FOR UPDATE
SKIP LOCKED (django-tasks-db) and runs ``deliver``, which claims the message
itself with a compare-and-set UPDATE (PENDING and due, or SENDING with an expired
claim, becomes SENDING), so two workers that somehow got tasks for one message
never both send it. django-tasks-db neither retries a failed task nor re-runs one
a killed worker left RUNNING; the retries and their back-off are therefore ours:
a failed attempt is recorded and the next attempt enqueued (``run_after``) in one
transaction, and ``sweep`` gives a new task to any message left without one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from chairtime.booking.models import Appointment
from chairtime.messages import tasks
from chairtime.messages.models import Message

logger = logging.getLogger("chairtime.messages")

# How long a worker may take to send one message before another may try it.
CLAIM_FOR = timedelta(minutes=5)
# How often the sweep runs, and how long a due message may wait for its task
# before the sweep gives it another.
SWEEP_EVERY = timedelta(minutes=1)
STRANDED_AFTER = timedelta(minutes=5)


def visit_booked(appointments: Sequence[Appointment], *, now: datetime | None = None) -> Message | None:
    """Owe the customer the confirmation of this visit (its appointments in order).
    Call inside the booking's transaction."""
    return _owe(Message.Kind.VISIT_BOOKED, appointments, now)


def visit_cancelled(appointments: Sequence[Appointment], *, now: datetime | None = None) -> Message | None:
    """Owe the customer the news that this visit is cancelled. Call inside the
    cancellation's transaction."""
    return _owe(Message.Kind.VISIT_CANCELLED, appointments, now)


def visit_changed(appointments: Sequence[Appointment], *, now: datetime | None = None) -> Message | None:
    """Owe the customer the visit's new time (its appointments in order, as
    moved). Call inside the change's transaction."""
    return _owe(Message.Kind.VISIT_CHANGED, appointments, now)


def _owe(kind: str, appointments: Sequence[Appointment], now: datetime | None) -> Message | None:
    lead = min(appointments, key=lambda a: (a.position, a.pk))
    if not lead.customer_email:
        return None
    now = now or timezone.now()
    # Each message about a visit updates the calendar event of the ones before.
    earlier = Message.objects.filter(appointment=lead).count()
    message = Message.objects.create(
        kind=kind,
        appointment=lead,
        visit_id=lead.visit_id,
        recipient=lead.customer_email,
        sequence=earlier,
        created_at=now,
        next_attempt_at=now,
        about_starts_at=lead.starts_at,
    )
    tasks.deliver.enqueue(message.pk)
    return message


def retry_delay(attempts: int) -> timedelta:
    """The back-off after the ``attempts``-th failed attempt: doubling from
    MESSAGES_RETRY_SECONDS up to MESSAGES_RETRY_MAX_SECONDS."""
    seconds = settings.MESSAGES_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.MESSAGES_RETRY_MAX_SECONDS))


def claim(message_id: int, now: datetime) -> Message | None:
    """Take the message for one attempt, or None if it is not ours to send now
    (sent, given up, not due yet, or being sent by another worker).

    One UPDATE with the condition in its WHERE: two workers racing for the same
    row queue on its lock, and the second one's WHERE, evaluated again on the
    committed row, no longer matches (PostgreSQL's and InnoDB's READ COMMITTED;
    SQLite has one writer at a time)."""
    due = Q(state=Message.State.PENDING, next_attempt_at__lte=now) | Q(
        state=Message.State.SENDING, claimed_until__lte=now
    )
    with transaction.atomic():
        taken = Message.objects.filter(due, pk=message_id).update(
            state=Message.State.SENDING, claimed_until=now + CLAIM_FOR, attempts=F("attempts") + 1
        )
    if not taken:
        return None
    return Message.objects.select_related("appointment", "visit").get(pk=message_id)


def deliver(message_id: int, *, now: datetime | None = None) -> str:
    """One attempt at sending the message; returns what happened (the task's result)."""
    from chairtime.messages import compose

    now = now or timezone.now()
    message = claim(message_id, now)
    if message is None:
        return "not due"
    try:
        email = compose.email_for(message, now=now)
        if email is None:
            _finish(message, Message.State.SKIPPED, timezone.now())
            return "skipped"
        email.send()
    except Exception as e:  # every failure is recorded and retried
        _failed(message, e, timezone.now())
        return "failed"
    _finish(message, Message.State.SENT, timezone.now())
    logger.info(
        "message sent", extra={"message_id": message.pk, "kind": message.kind, "attempts": message.attempts}
    )
    return "sent"


def _finish(message: Message, state: str, now: datetime) -> None:
    Message.objects.filter(pk=message.pk, state=Message.State.SENDING).update(
        state=state, sent_at=now if state == Message.State.SENT else None, claimed_until=None, last_error=""
    )


def _failed(message: Message, error: Exception, now: datetime) -> None:
    # The address is the customer's: never in the logs (docs/security.md).
    reason = f"{type(error).__name__}: {error}"[:2000]
    give_up = message.attempts >= settings.MESSAGES_MAX_ATTEMPTS
    with transaction.atomic():
        if give_up:
            Message.objects.filter(pk=message.pk, state=Message.State.SENDING).update(
                state=Message.State.FAILED, claimed_until=None, last_error=reason
            )
        else:
            retry_at = now + retry_delay(message.attempts)
            Message.objects.filter(pk=message.pk, state=Message.State.SENDING).update(
                state=Message.State.PENDING, claimed_until=None, next_attempt_at=retry_at, last_error=reason
            )
            tasks.deliver.using(run_after=retry_at).enqueue(message.pk)
    logger.warning(
        "message not sent" + (", giving up" if give_up else ", will retry"),
        extra={"message_id": message.pk, "kind": message.kind, "attempts": message.attempts, "error": reason},
    )


def stranded(now: datetime):
    """Messages that should be on their way but whose task is gone: a worker
    killed mid-send (its claim expired) or a due message that waited too long."""
    return Message.objects.filter(
        Q(state=Message.State.SENDING, claimed_until__lte=now)
        | Q(state=Message.State.PENDING, next_attempt_at__lte=now - STRANDED_AFTER)
    )


def sweep(*, now: datetime | None = None) -> int:
    """Enqueue a new task for each stranded message (claiming stays safe: a
    duplicate task finds the message taken or sent and does nothing), then the
    next sweep. Returns how many were given a task."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(stranded(now).values_list("pk", flat=True)[:500])
        # Not picked up again by the next sweep unless it waits as long again.
        Message.objects.filter(pk__in=ids, state=Message.State.PENDING).update(next_attempt_at=now)
        for message_id in ids:
            tasks.deliver.enqueue(message_id)
        tasks.sweep.using(run_after=now + SWEEP_EVERY).enqueue()
    if ids:
        logger.warning("messages without a task given one again", extra={"count": len(ids)})
    return len(ids)


def ensure_sweeping() -> None:
    """Start the sweep chain unless one is waiting (the worker calls this when it
    starts; a sweep left RUNNING by a killed worker does not count)."""
    waiting = DBTaskResult.objects.filter(task_path=tasks.sweep.module_path, status=TaskResultStatus.READY)
    if not waiting.exists():
        tasks.sweep.enqueue()
