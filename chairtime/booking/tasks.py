"""The booking's queued work: the waitlist's offers and their expiry. On the
messages queue, so the message worker (``manage.py messages_worker``) that
already runs runs them too. They carry only a day or an id: what to do is read
when the task runs, in its own transaction with the booking's locks."""

from __future__ import annotations

from datetime import date

from django_tasks import task

from chairtime.messages.tasks import QUEUE


@task(queue_name=QUEUE)
def waitlist_offer(day: str) -> int:
    """Offer the day's free times to the first in line; returns how many offers."""
    from chairtime.booking import waitlist

    return len(waitlist.waitlist_offer_freed_time(day=date.fromisoformat(day)))


@task(queue_name=QUEUE)
def waitlist_expire(offer_id: int) -> str:
    """Lapse an offer whose hold has ended, and offer its time to the next in line."""
    from chairtime.booking import waitlist

    return waitlist.waitlist_offer_expire(offer_id=offer_id)
