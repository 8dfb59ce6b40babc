"""Fire many HTTP requests at once, from threads and from separate processes.

Imports neither Django nor the application, so that spawned client processes
start quickly and hold no database connection.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

NO_ANSWER = 0  # the status of a Reply to a request that got no HTTP answer


@dataclass(frozen=True)
class Reply:
    """What one request got back; ``tag`` is whatever the caller attached to it."""

    tag: Any
    status: int
    body: Any  # the decoded JSON, or {"text": ...} when the answer was not JSON
    content_type: str
    seconds: float


def post_all(
    url: str, requests_: list[tuple[Any, ...]], *, threads: int, start_at: float = 0.0, timeout: float = 60
) -> list[Reply]:
    """POST each (tag, json) to ``url`` from ``threads`` threads, one Session per
    thread, all starting at wall-clock time ``start_at`` (so several processes
    begin together). An item (tag, json, other_url) goes to ``other_url`` instead
    (a storm of bookings and cancellations at once). A request that got no answer
    (timed out, connection refused) is a Reply with status 0: counted with the
    errors, instead of one timeout throwing away every other reply."""
    local = threading.local()

    def send(item: tuple[Any, ...]) -> Reply:
        tag, payload, *other = item
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        started = time.monotonic()
        try:
            response = session.post(other[0] if other else url, json=payload, timeout=timeout)
        except requests.RequestException as e:
            return Reply(tag, NO_ANSWER, {"error": repr(e)[:1000]}, "", time.monotonic() - started)
        seconds = time.monotonic() - started
        content_type = response.headers.get("Content-Type", "")
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text[:1000]}
        return Reply(tag, response.status_code, body, content_type, seconds)

    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(send, requests_))


def post_all_in_processes(
    url: str,
    requests_: list[tuple[Any, ...]],
    *,
    processes: int,
    threads_per_process: int,
    timeout: float = 60,
) -> list[Reply]:
    """``post_all`` split over ``processes`` spawned client processes, started together."""
    chunks = [requests_[n::processes] for n in range(processes)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        # Spawning and importing takes a moment; every process then waits for the same instant.
        start_at = time.time() + 3.0
        futures = [
            pool.submit(post_all, url, chunk, threads=threads_per_process, start_at=start_at, timeout=timeout)
            for chunk in chunks
        ]
        return [reply for future in futures for reply in future.result()]
