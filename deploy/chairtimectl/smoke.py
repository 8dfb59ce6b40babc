"""The release's smoke test through the load balancer: what a customer's first
requests need, asked the way a customer's browser asks them."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable


class SmokeFailed(Exception):
    pass


def _get(base: str, path: str, host: str | None, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(base.rstrip("/") + path, headers={"Accept": "application/json"})  # noqa: S310
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=ssl.create_default_context()) as r:  # noqa: S310
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def checks(base: str, host: str | None = None, timeout: float = 5.0) -> list[str]:
    """/readyz answers 200; the API lists services and, for the first one, answers an
    availability question for tomorrow with a list of slots. Returns what was seen;
    raises SmokeFailed with what went wrong."""
    seen = []
    status, body = _get(base, "/readyz", host, timeout)
    if status != 200:
        raise SmokeFailed(f"GET /readyz answered {status}: {body[:200]!r}")
    seen.append("GET /readyz 200")
    status, body = _get(base, "/api/v1/services", host, timeout)
    if status != 200:
        raise SmokeFailed(f"GET /api/v1/services answered {status}: {body[:200]!r}")
    services = json.loads(body)
    if not services:
        raise SmokeFailed("GET /api/v1/services: the salon offers no service (is the salon configured?)")
    seen.append(f"GET /api/v1/services 200 ({len(services)} services)")
    day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    path = f"/api/v1/availability?service={services[0]['id']}&date={day}"
    status, body = _get(base, path, host, timeout)
    if status != 200 or "slots" not in json.loads(body):
        raise SmokeFailed(f"GET {path} answered {status}: {body[:200]!r}")
    seen.append(f"GET {path} 200 ({len(json.loads(body)['slots'])} slots)")
    return seen


def smoke(base: str, host: str | None, deadline_seconds: float, say: Callable[[str], None]) -> None:
    """``checks`` until they pass (the load balancer may take a while to send
    traffic to new targets) or the deadline passes."""
    deadline = time.monotonic() + deadline_seconds
    last = ""
    while True:
        try:
            for line in checks(base, host):
                say(f"smoke: {line}")
            return
        except (SmokeFailed, OSError, ValueError) as error:
            last = str(error)
        if time.monotonic() > deadline:
            raise SmokeFailed(f"smoke test through {base} failed for {deadline_seconds:.0f} s: {last}")
        time.sleep(3)
