"""The worker's launcher (deploy/container/messages_worker.py): its heartbeat moves while
the real django-tasks-db loop turns, the probe reads it, and SIGTERM stops it cleanly
within the pod's grace period (deploy/k8s/base/worker.yaml)."""

# Runs the launcher and manage.py, with our own arguments.
# ruff: noqa: S603

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
LAUNCHER = ROOT / "deploy" / "container" / "messages_worker.py"
WORKER_MANIFEST = ROOT / "deploy" / "k8s" / "base" / "worker.yaml"

spec = importlib.util.spec_from_file_location("messages_worker_launcher", LAUNCHER)
launcher = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launcher)


def test_it_is_alive_only_with_a_fresh_heartbeat(tmp_path):
    beat = tmp_path / "beat"
    assert launcher.alive(60, path=beat) == (False, f"no heartbeat yet at {beat}")
    beat.touch()
    mtime = beat.stat().st_mtime
    assert launcher.alive(60, path=beat, now=mtime + 59)[0]
    ok, seen = launcher.alive(60, path=beat, now=mtime + 61)
    assert not ok
    assert "stuck" in seen


def test_the_heartbeat_wraps_what_the_pinned_worker_loop_calls_on_every_pass():
    import inspect

    from django_tasks_db.management.commands import db_worker

    loop = inspect.getsource(db_worker.Worker.run)
    # Called unconditionally inside `while self.running:`; an upgrade that drops it
    # would leave the probes without a heartbeat.
    assert "close_old_connections()" in loop
    assert callable(db_worker.close_old_connections)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "EMAIL_"))}
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        WORKER_HEARTBEAT_FILE=str(tmp_path / "heartbeat"),
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        PYTHONPATH=str(ROOT),
    )
    return env


def test_it_beats_while_the_worker_loop_turns_and_stops_on_sigterm_within_the_grace_period(tmp_path):
    env = _env(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    beat = Path(env["WORKER_HEARTBEAT_FILE"])
    worker = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--no-reload", "--interval", "0.2", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not beat.exists():
            assert worker.poll() is None, worker.stdout.read()
            assert time.monotonic() < deadline, "no heartbeat within 120 s"
            time.sleep(0.2)
        first = beat.stat().st_mtime_ns
        time.sleep(1.5)
        assert beat.stat().st_mtime_ns > first, "the heartbeat does not move while the loop turns"
        probe = subprocess.run(
            [sys.executable, str(LAUNCHER), "--alive", "30"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert probe.returncode == 0, probe.stdout

        stopping = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        rc = worker.wait(timeout=30)
        stopped_in = time.monotonic() - stopping
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = worker.stdout.read()
    assert rc == 0, output
    assert "shutting down gracefully" in output
    pod = yaml.safe_load(WORKER_MANIFEST.read_text())["spec"]["template"]["spec"]
    assert stopped_in < pod["terminationGracePeriodSeconds"]


def test_a_stale_heartbeat_fails_the_probe(tmp_path):
    env = _env(tmp_path)
    beat = Path(env["WORKER_HEARTBEAT_FILE"])
    beat.touch()
    old = time.time() - 600
    os.utime(beat, (old, old))
    probe = subprocess.run(
        [sys.executable, str(LAUNCHER), "--alive", "120"], env=env, capture_output=True, text=True, timeout=30
    )
    assert probe.returncode == 1
    assert "stuck" in probe.stdout
