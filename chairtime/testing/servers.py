"""Run the application as a real server process (gunicorn), the way production
runs it: DEBUG off, a real SECRET_KEY, collected static files, several workers
and threads, its own database connections and its own DynamoDB client.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests

from chairtime.testing.proxy import free_port

BASE_DIR = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_SCHEMES = {"postgresql": "postgres", "mysql": "mysql"}


def database_url(settings_dict: Mapping, *, host: str | None = None, port: int | None = None) -> str:
    """A DATABASE_URL for the database Django is connected to (in tests: the test
    database), optionally through another host and port (a proxy)."""
    vendor = settings_dict["ENGINE"].rsplit(".", 1)[-1]
    name = str(settings_dict["NAME"])
    if vendor == "sqlite3":
        return f"sqlite:///{Path(name).resolve()}"
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = host or settings_dict.get("HOST") or "127.0.0.1"
    port = port or int(settings_dict.get("PORT") or _DEFAULT_PORTS[vendor])
    return f"{_SCHEMES[vendor]}://{credentials}{host}:{port}/{quote(name, safe='')}"


@functools.cache
def collected_static_root() -> str:
    """collectstatic once per test process: with DEBUG off the pages need the manifest."""
    root = tempfile.mkdtemp(prefix="chairtime-static-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    env = {**os.environ, **_production_like_env(), "STATIC_ROOT": root}
    subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [sys.executable, str(BASE_DIR / "manage.py"), "collectstatic", "--noinput", "-v0"],
        env=env,
        cwd=BASE_DIR,
        check=True,
        timeout=120,
    )
    return root


def _production_like_env() -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "chairtime.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def booted_workers(self) -> list[int]:
        """The pids of every worker gunicorn has started so far (restarts included)."""
        return [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", self.log())]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@contextlib.contextmanager
def gunicorn(
    *,
    database_url: str,
    workers: int = 2,
    threads: int = 8,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 30.0,
) -> Iterator[ServerProcess]:
    """A gunicorn serving chairtime.wsgi on a free loopback port; stopped on exit.

    The environment is this process's (so the AWS endpoint the test session set
    up is inherited) plus production-like settings, then ``env``.

    A port found free can be taken before gunicorn binds it (by another test's
    server, or as the local end of any outgoing connection: both come from the
    same ephemeral range); gunicorn then gives up, and it is started again on
    another port, up to BIND_ATTEMPTS times.
    """
    for attempt in range(1, BIND_ATTEMPTS + 1):
        try:
            server = _start_gunicorn(database_url, workers, threads, env, startup_timeout)
        except PortTaken:
            if attempt == BIND_ATTEMPTS:
                raise
            continue
        try:
            yield server
        finally:
            server.stop()
            with contextlib.suppress(OSError):
                server.log_path.unlink()
        return


BIND_ATTEMPTS = 3


class PortTaken(RuntimeError):
    """gunicorn could not bind the port it was given."""


def _start_gunicorn(
    database_url: str, workers: int, threads: int, env: Mapping[str, str] | None, startup_timeout: float
) -> ServerProcess:
    port = free_port()
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept for the log
        prefix="chairtime-gunicorn-", suffix=".log", delete=False
    )
    log_path = Path(log_file.name)
    full_env = {
        **os.environ,
        **_production_like_env(),
        "STATIC_ROOT": collected_static_root(),
        "DATABASE_URL": database_url,
        **(env or {}),
    }
    command = [
        str(BIN / "gunicorn"),
        "chairtime.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--timeout=60",
        "--graceful-timeout=5",
        "--log-level=info",
        "--backlog=2048",
    ]
    process = subprocess.Popen(  # noqa: S603 - fixed command
        command, env=full_env, cwd=BASE_DIR, stdout=log_file, stderr=subprocess.STDOUT
    )
    log_file.close()
    server = ServerProcess(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_until_serving(server, startup_timeout, workers)
    except RuntimeError as error:
        server.stop()
        taken = "Address already in use" in server.log()
        with contextlib.suppress(OSError):
            log_path.unlink()
        if taken:
            raise PortTaken(str(error)) from error
        raise
    return server


def _wait_until_serving(server: ServerProcess, timeout: float, workers: int) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log()}")
        try:
            answered = requests.get(f"{server.url}/healthz", timeout=1).status_code == 200
            # Every worker up, so the first requests do not queue behind a boot.
            if answered and len(server.booted_workers()) >= workers:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"gunicorn did not answer /healthz within {timeout} s:\n{server.log()}")
