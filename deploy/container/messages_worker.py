"""The message worker's entry point in the image: ``manage.py messages_worker`` with a
heartbeat file for the pod's probes.

    python deploy/container/messages_worker.py [messages_worker options]
    python deploy/container/messages_worker.py --alive SECONDS   # the probe

django-tasks-db's worker has no health mechanism of its own: it loops (claim the next
task with SELECT ... FOR UPDATE SKIP LOCKED, run it, close stale connections, sleep
--interval) until SIGTERM. Every pass of that loop ends in the module's
``close_old_connections()``; this launcher wraps that name so each pass also touches
WORKER_HEARTBEAT_FILE. A fresh file therefore means the loop is turning and has just
asked the database for work; a stale one means the process is wedged (a send that
never returns, a lock it never gets). The first touch comes after the first query, so
the startup probe also proves the database and the queue table are there.

The probe (``--alive``) is plain Python without Django: it starts in milliseconds and
only reads the file's modification time. A database outage makes the worker raise and
exit (the kubelet restarts it), so liveness itself never asks the database.

The wrapped name is django-tasks-db 0.12.0's (pinned in requirements/base.in);
deploy/container/tests/test_messages_worker.py fails if an upgrade stops calling it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HEARTBEAT = "/tmp/messages-worker-heartbeat"  # noqa: S108 (an emptyDir in the pod)


def heartbeat_path() -> Path:
    return Path(os.environ.get("WORKER_HEARTBEAT_FILE", DEFAULT_HEARTBEAT))


def alive(max_age: float, *, path: Path | None = None, now: float | None = None) -> tuple[bool, str]:
    """Whether the heartbeat is younger than ``max_age`` seconds, and what was seen."""
    path = path or heartbeat_path()
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False, f"no heartbeat yet at {path}"
    if age > max_age:
        return False, f"heartbeat {age:.0f} s old (limit {max_age:.0f} s): the worker loop is stuck"
    return True, f"heartbeat {age:.1f} s old"


def install_heartbeat(db_worker_module, path: Path) -> None:
    """Make every pass of db_worker's loop touch ``path`` (see the module docstring)."""
    original = db_worker_module.close_old_connections

    def close_old_connections_and_beat() -> None:
        original()
        path.touch()

    db_worker_module.close_old_connections = close_old_connections_and_beat


def main(argv: list[str]) -> int:
    if argv[:1] == ["--alive"]:
        ok, seen = alive(float(argv[1]))
        print(seen)
        return 0 if ok else 1
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chairtime.settings")
    import django

    django.setup()
    from django.core.management import execute_from_command_line
    from django_tasks_db.management.commands import db_worker

    path = heartbeat_path()
    path.unlink(missing_ok=True)  # a restarted container must not look alive before its first pass
    install_heartbeat(db_worker, path)
    execute_from_command_line(["manage.py", "messages_worker", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
