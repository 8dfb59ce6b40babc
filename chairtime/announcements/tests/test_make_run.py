"""`make run` (scripts/run-local) serves the salon when DynamoDB cannot be reached:
announcements are optional, so it says they are off and serves without them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

RUN_LOCAL = Path(settings.BASE_DIR) / "scripts" / "run-local"
STARTUP_SECONDS = 120


def unused_port() -> int:
    """A loopback port nothing listens on (the kernel's pick, released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a loopback http URL)
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None  # not listening yet


def test_it_serves_pages_without_announcements_when_dynamodb_is_unreachable(tmp_path):
    port, closed_port = unused_port(), unused_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'chairtime.sqlite3'}",
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{closed_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    output = tmp_path / "run-local.log"
    with output.open("wb") as log:
        # A session of its own: runserver's autoreloader starts a child, and the
        # whole group is stopped at the end.
        server = subprocess.Popen(  # noqa: S603
            [str(RUN_LOCAL)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        status = None
        while status != 200 and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            status = status_of(f"http://127.0.0.1:{port}/")
        text = output.read_text(errors="replace")

        assert status == 200, text
        assert "Could not set up the announcements table" in text
        warnings = [line for line in text.splitlines() if line.startswith("Announcements are off: ")]
        assert len(warnings) == 1, text
        assert f"http://127.0.0.1:{closed_port}" in warnings[0]
        assert warnings[0].endswith("Serving without them.")
        assert status_of(f"http://127.0.0.1:{port}/book/1/") == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
