"""``manage.py messages_worker``: django-tasks-db's ``db_worker`` on the messages
queue, which first makes sure the sweep (outbox.sweep) is running. Any
``db_worker`` option works (``--interval``, ``--batch``, ``--max-tasks``, ...)."""

from __future__ import annotations

from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from chairtime.messages import outbox, tasks


class Command(DatabaseWorkerCommand):
    help = "Send the customers' e-mails: run the task worker on the messages queue"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(queue_name=tasks.QUEUE)

    def handle(self, *args, **options) -> None:
        outbox.ensure_sweeping()
        super().handle(*args, **options)
