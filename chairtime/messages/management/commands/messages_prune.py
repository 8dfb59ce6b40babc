"""``manage.py messages_prune [--days N] [--task-days N] [--dry-run]``: delete
finished messages (sent, not sent, given up) older than N days (default
MESSAGES_KEEP_DAYS, 365) and the messages queue's finished task rows older than
--task-days (default MESSAGES_TASK_RESULTS_KEEP_DAYS, 7). The worker does the
same once a day; this is for a one-off or a CronJob."""

from __future__ import annotations

from argparse import ArgumentTypeError
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from chairtime.messages import outbox


def days(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a whole number of days") from None
    if number < 1:
        raise ArgumentTypeError(f"keep at least 1 day, not {number}")
    return number


class Command(BaseCommand):
    help = "Delete old finished customer messages and the queue's old finished task rows"

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=days,
            default=settings.MESSAGES_KEEP_DAYS,
            help="Keep finished messages this many days (default: %(default)s)",
        )
        parser.add_argument(
            "--task-days",
            type=days,
            default=settings.MESSAGES_TASK_RESULTS_KEEP_DAYS,
            help="Keep finished task rows of the messages queue this many days (default: %(default)s)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted, delete nothing"
        )

    def handle(self, *args, days: int, task_days: int, dry_run: bool, **options) -> None:
        messages, task_results = outbox.prune(
            keep_messages=timedelta(days=days), keep_task_results=timedelta(days=task_days), dry_run=dry_run
        )
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {messages} messages older than {days} days "
            f"and {task_results} task rows older than {task_days} days."
        )
