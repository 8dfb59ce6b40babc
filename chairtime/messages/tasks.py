"""The queue's tasks (Django's tasks API through the django-tasks backport; the
database backend, run by ``manage.py db_worker``). They carry only ids: what to
send is read from the delivery log when the task runs."""

from __future__ import annotations

from django_tasks import task

QUEUE = "messages"


@task(queue_name=QUEUE)
def deliver(message_id: int) -> str:
    """Send one message if it is still due (an attempt, recorded in its row)."""
    from chairtime.messages import outbox

    return outbox.deliver(message_id)


@task(queue_name=QUEUE)
def sweep() -> int:
    """Give a task again to messages whose task was lost (a worker killed
    mid-send), then come back in a while: a chain that runs while any worker runs."""
    from chairtime.messages import outbox

    return outbox.sweep()


@task(queue_name=QUEUE)
def prune() -> list[int]:
    """Delete old finished messages and task rows, then come back in a day (a
    chain the worker starts, like the sweep)."""
    from chairtime.messages import outbox

    return list(outbox.prune_daily())
