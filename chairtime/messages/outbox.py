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

Reminders are owed with the booking too (``plan_reminders``), one message per
offset of the salon's ``reminder_minutes``, each with its task enqueued for its
due time (``run_after``): the task row waits in the database, so a worker that
is down at that time sends it when it is back (and the sweep gives it a task
again if the row was lost). A move or a cancellation re-plans them in its own
transaction; the reminder still re-checks the visit when it is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from chairtime.booking.models import Appointment, Salon, WaitlistEntry, WaitlistOffer
from chairtime.messages import tasks
from chairtime.messages.models import Message
from chairtime.ops import metrics

logger = logging.getLogger("chairtime.messages")

# A reminder is owed only if it would go out at least this long after the change
# that plans it (the booking, the move): one due sooner would land next to the
# confirmation the customer has just read. Offsets further before the start than
# the booking's own notice are due in the past, hence never owed either.
REMINDER_NOT_SOONER_THAN = timedelta(hours=1)


def visit_booked(appointments: Sequence[Appointment], *, now: datetime | None = None) -> Message | None:
    """Owe the customer the confirmation of this visit (its appointments in order)
    and its reminders. Call inside the booking's transaction."""
    now = now or timezone.now()
    message = _owe(Message.Kind.VISIT_BOOKED, appointments, now)
    plan_reminders(appointments, now=now)
    return message


def visit_cancelled(appointments: Sequence[Appointment], *, now: datetime | None = None) -> Message | None:
    """Owe the customer the news that this visit is cancelled, and drop its
    reminders still waiting. Call inside the cancellation's transaction."""
    now = now or timezone.now()
    message = _owe(Message.Kind.VISIT_CANCELLED, appointments, now)
    plan_reminders(appointments, now=now)
    return message


def visit_changed(appointments: Sequence[Appointment], *, now: datetime | None = None) -> Message | None:
    """Owe the customer the visit's new time (its appointments in order, as
    moved), and re-plan its reminders for it. Call inside the change's
    transaction, with the visit locked (visit_reschedule locks its row)."""
    now = now or timezone.now()
    message = _owe(Message.Kind.VISIT_CHANGED, appointments, now)
    plan_reminders(appointments, now=now)
    return message


def plan_reminders(appointments: Sequence[Appointment], *, now: datetime | None = None) -> list[Message]:
    """Make the visit's waiting reminders match the visit as it now is; returns
    the reminders it owed. Call inside the transaction of any change to the visit
    (``visit_booked`` and ``visit_cancelled`` do; a move must, after it wrote the
    new times), with the visit locked as the booking services lock it: two
    changes of one visit planning at once could otherwise both find no reminder
    and both owe them. Calling it again changes nothing.

    - A cancelled visit: its waiting reminders are dropped (state SKIPPED).
    - A visit whose start moved: the reminders waiting for the old start are
      dropped, and the new start gets its own.
    - For each offset in the salon's ``reminder_minutes``, a REMINDER due at
      start - offset, unless that is sooner than now + REMINDER_NOT_SOONER_THAN
      (so a booking made 3 hours ahead gets no 24-hour reminder, and its 2-hour
      one only because that is an hour away). Not again for a start that already
      has reminders (sent or waiting): a change of stylist keeps them.

    Each reminder's task waits in the queue until its due time (``run_after``)."""
    now = now or timezone.now()
    lead = _lead(appointments)
    confirmed = all(a.is_confirmed for a in appointments)
    reminders = Message.objects.filter(appointment=lead, kind=Message.Kind.REMINDER)
    waiting = reminders.filter(state=Message.State.PENDING)
    if confirmed:
        waiting = waiting.exclude(about_starts_at=lead.starts_at)
    # A worker may hold one of these (SENDING): it re-checks the visit itself.
    waiting.update(state=Message.State.SKIPPED, claimed_until=None)
    if not confirmed or not lead.customer_email:
        return []
    planned = reminders.filter(about_starts_at=lead.starts_at)
    if planned.exclude(state=Message.State.SKIPPED).exists():
        return []
    try:
        offsets = Salon.load().reminder_offsets
    except ValidationError:  # a bad value written around the form: no reminders, the booking stands
        logger.warning("salon reminder_minutes unreadable, no reminders planned")
        return []
    owed = []
    for minutes in offsets:
        due = lead.starts_at - timedelta(minutes=minutes)
        if due < now + REMINDER_NOT_SOONER_THAN:
            continue
        owed.append(_owe(Message.Kind.REMINDER, appointments, now, due=due))
    return [m for m in owed if m is not None]


def _lead(appointments: Sequence[Appointment]) -> Appointment:
    return min(appointments, key=lambda a: (a.position, a.pk))


def _owe(
    kind: str, appointments: Sequence[Appointment], now: datetime | None, *, due: datetime | None = None
) -> Message | None:
    lead = _lead(appointments)
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
        next_attempt_at=due or now,
        about_starts_at=lead.starts_at,
    )
    if due is None:
        tasks.deliver.enqueue(message.pk)
    else:
        tasks.deliver.using(run_after=due).enqueue(message.pk)
    return message


def waitlist_joined(entry: WaitlistEntry, *, now: datetime | None = None) -> Message:
    """Owe the customer the confirmation of their waitlist place, with the link to
    leave it. Call inside the transaction that writes the entry."""
    return _owe_waitlist(Message.Kind.WAITLIST_JOINED, entry, now or timezone.now())


def waitlist_offered(offer: WaitlistOffer, *, now: datetime | None = None) -> Message:
    """Owe the customer the offer of a held time, with the link that books it.
    Call inside the transaction that writes the offer and its holds."""
    return _owe_waitlist(Message.Kind.WAITLIST_OFFER, offer.entry, now or timezone.now(), offer.starts_at)


def _owe_waitlist(
    kind: str, entry: WaitlistEntry, now: datetime, starts_at: datetime | None = None
) -> Message:
    message = Message.objects.create(
        kind=kind,
        waitlist_entry=entry,
        recipient=entry.customer_email,
        created_at=now,
        next_attempt_at=now,
        about_starts_at=starts_at,
    )
    tasks.deliver.enqueue(message.pk)
    return message


def retry_delay(attempts: int) -> timedelta:
    """The back-off after the ``attempts``-th failed attempt: doubling from
    MESSAGES_RETRY_SECONDS up to MESSAGES_RETRY_MAX_SECONDS."""
    seconds = settings.MESSAGES_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.MESSAGES_RETRY_MAX_SECONDS))


def claim_for() -> timedelta:
    """How long a worker may take to send one message before another may try it."""
    return timedelta(seconds=settings.MESSAGES_CLAIM_SECONDS)


def sweep_every() -> timedelta:
    """How often the sweep runs."""
    return timedelta(seconds=settings.MESSAGES_SWEEP_SECONDS)


def stranded_after() -> timedelta:
    """How long a due message may wait for its task before the sweep gives it another."""
    return timedelta(seconds=settings.MESSAGES_STRANDED_SECONDS)


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
            state=Message.State.SENDING, claimed_until=now + claim_for(), attempts=F("attempts") + 1
        )
    if not taken:
        return None
    return Message.objects.select_related("appointment", "visit", "waitlist_entry").get(pk=message_id)


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
        | Q(state=Message.State.PENDING, next_attempt_at__lte=now - stranded_after())
    )


def sweep(*, now: datetime | None = None) -> int:
    """Enqueue a new task for each stranded message (claiming stays safe: a
    duplicate task finds the message taken or sent and does nothing), then the
    next sweep. Returns how many were given a task."""
    now = now or timezone.now()
    if metrics.enabled():
        report_queue(now)  # before the stranded are given a new due time below
    with transaction.atomic():
        ids = list(stranded(now).values_list("pk", flat=True)[:500])
        # Not picked up again by the next sweep unless it waits as long again.
        Message.objects.filter(pk__in=ids, state=Message.State.PENDING).update(next_attempt_at=now)
        for message_id in ids:
            tasks.deliver.enqueue(message_id)
        tasks.sweep.using(run_after=now + sweep_every()).enqueue()
    if ids:
        logger.warning("messages without a task given one again", extra={"count": len(ids)})
    return len(ids)


def report_queue(now: datetime) -> None:
    """The queue's depth for the metrics (MessagesDue, OldestDueMessageAge): what is
    due and not sent. A worker that stops, or an SMTP server or SES that refuses
    everything, shows as a growing age; the alarm on it is in docs/aws.md."""
    due = Message.objects.filter(state=Message.State.PENDING, next_attempt_at__lte=now)
    figures = due.aggregate(count=Count("pk"), oldest=Min("next_attempt_at"))
    oldest = figures["oldest"]
    metrics.messages_due(
        count=figures["count"], oldest_age_seconds=(now - oldest).total_seconds() if oldest else 0.0
    )


def ensure_sweeping() -> None:
    """Start the sweep chain and the daily prune unless each is waiting (the worker
    calls this when it starts; one left RUNNING by a killed worker does not count)."""
    for chain in (tasks.sweep, tasks.prune):
        waiting = DBTaskResult.objects.filter(task_path=chain.module_path, status=TaskResultStatus.READY)
        if not waiting.exists():
            chain.enqueue()


PRUNE_EVERY = timedelta(days=1)
# Deleted in batches: one DELETE of a year's rows would hold its locks for long.
PRUNE_BATCH = 1000
FINISHED = [Message.State.SENT, Message.State.SKIPPED, Message.State.FAILED]


def prunable_messages(now: datetime, keep: timedelta):
    """Finished messages (sent, not sent, given up) created, due and sent more than
    ``keep`` ago: a reminder owed a year ahead is kept a year after it went."""
    cutoff = now - keep
    return Message.objects.filter(
        state__in=FINISHED, created_at__lt=cutoff, next_attempt_at__lt=cutoff
    ).filter(Q(sent_at__isnull=True) | Q(sent_at__lt=cutoff))


def prunable_task_results(now: datetime, keep: timedelta):
    """The messages queue's finished task rows (succeeded or failed) older than ``keep``."""
    return DBTaskResult.objects.finished().filter(queue_name=tasks.QUEUE, finished_at__lt=now - keep)


def prune(
    *,
    now: datetime | None = None,
    keep_messages: timedelta | None = None,
    keep_task_results: timedelta | None = None,
    dry_run: bool = False,
) -> tuple[int, int]:
    """Delete old finished messages and task rows (MESSAGES_KEEP_DAYS,
    MESSAGES_TASK_RESULTS_KEEP_DAYS unless given); returns how many of each.
    Nothing waiting or being sent is touched."""
    now = now or timezone.now()
    keep_messages = keep_messages or timedelta(days=settings.MESSAGES_KEEP_DAYS)
    keep_task_results = keep_task_results or timedelta(days=settings.MESSAGES_TASK_RESULTS_KEEP_DAYS)
    counts = []
    for rows in (prunable_messages(now, keep_messages), prunable_task_results(now, keep_task_results)):
        if dry_run:
            counts.append(rows.count())
            continue
        deleted = 0
        while ids := list(rows.order_by().values_list("pk", flat=True)[:PRUNE_BATCH]):
            # By primary key: MySQL cannot DELETE with a LIMIT through a subquery.
            deleted += rows.model.objects.filter(pk__in=ids).delete()[0]
        counts.append(deleted)
    messages, task_results = counts
    if not dry_run:
        logger.info("messages pruned", extra={"messages": messages, "task_results": task_results})
    return messages, task_results


def prune_daily(*, now: datetime | None = None) -> tuple[int, int]:
    """``prune`` with the settings' ages, then the next one in a day (the task chain)."""
    now = now or timezone.now()
    counts = prune(now=now)
    tasks.prune.using(run_after=now + PRUNE_EVERY).enqueue()
    return counts
