from __future__ import annotations

import threading

import pytest
from django.db import connection
from django_tasks_db.management.commands.db_worker import Worker

from chairtime.messages import tasks
from chairtime.messages.tests.smtp import SmtpServer


@pytest.fixture
def smtp(settings):
    """A running SMTP server on loopback, and the settings that send to it."""
    server = SmtpServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = "https://salon.example"
    yield server
    server.stop()


def run_worker(worker_id: str = "test-worker") -> None:
    """``manage.py messages_worker --batch``: run every task that is due, then return."""
    Worker(
        queue_names=[tasks.QUEUE],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
    ).run()


def run_workers_at_once(count: int) -> None:
    """``count`` workers in threads (a connection each), started together."""
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            run_worker(f"worker-{n}")
        except BaseException as e:  # reported by the test thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
