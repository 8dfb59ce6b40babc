"""Application metrics for Amazon CloudWatch, in its embedded metric format (EMF).

Each event is one JSON object whose ``_aws`` member tells CloudWatch Logs which of
its numbers are metrics, in which namespace and under which dimensions; CloudWatch
extracts them when the object is a log event of its own (the specification's
"root node"). The events are sent, one UDP datagram each, to the CloudWatch agent
the ``amazon-cloudwatch-observability`` add-on runs on every node, whose ``emf``
input (port 25888) writes them to ``METRICS_EMF_LOG_GROUP`` with PutLogEvents.

Why not our stdout log lines: the add-on's Fluent Bit ships a container's line as
``{"log": "<the line>", "log_processed": {<the line parsed>}, "kubernetes": ...}``,
so ``_aws`` would sit one level down, where CloudWatch does not look.

Dimensions are kept to values the code chooses, never a client's: a route is the
URL pattern's name (``booking:manage``), never the path (which holds manage tokens);
a status is its class (``5xx``); a refusal is the booking domain's error code.

Sending never raises and never waits: UDP to a node-local agent, at most one
datagram per event, dropped (with one warning a minute) if the agent is not there.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger("chairtime.ops.metrics")

# How often the agent's address is looked up again (a Service's ClusterIP is stable,
# but a re-created Service gets a new one); how long after a failed lookup events are
# dropped unsent, so that requests do not each wait for a resolver that has no
# answer; how often a failing send is logged.
RESOLVE_EVERY_SECONDS = 60.0
RETRY_LOOKUP_SECONDS = 10.0
WARN_EVERY_SECONDS = 60.0
# The route of a request no URL pattern matched (a 404, a scanner's guess), of a
# static file (WhiteNoise answers before URL resolution), and of every admin page
# (a hundred patterns, one per model and action: one route is enough to watch).
UNMATCHED = "unmatched"
STATIC = "static"
ADMIN = "admin"
# CloudWatch's units for what we send.
COUNT, MILLISECONDS, SECONDS = "Count", "Milliseconds", "Seconds"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


def parse_endpoint(value: str) -> Endpoint | None:
    """``udp://host:port`` as an Endpoint; an empty value turns metrics off."""
    value = value.strip()
    if not value:
        return None
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "udp" or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ImproperlyConfigured(
            f"METRICS_EMF_ENDPOINT={value!r} is not udp://host:port (the CloudWatch agent's EMF input, "
            "e.g. udp://cloudwatch-agent.amazon-cloudwatch:25888), or empty for no metrics"
        )
    return Endpoint(parts.hostname, port)


class UdpSink:
    """Datagrams to one host and port, from any thread and after a fork."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._pid = -1
        self._socket: socket.socket | None = None
        self._address: tuple | None = None
        self._resolved_at = 0.0
        self._lookup_failed_at = -RETRY_LOOKUP_SECONDS
        self._warned_at = -WARN_EVERY_SECONDS

    def _target(self) -> tuple[socket.socket, tuple] | None:
        now = time.monotonic()
        with self._lock:
            if self._pid != os.getpid() or self._socket is None:
                # A socket made before gunicorn forked is shared by every worker.
                self._socket, self._address, self._pid = None, None, os.getpid()
            if self._address is None or now - self._resolved_at > RESOLVE_EVERY_SECONDS:
                if now - self._lookup_failed_at < RETRY_LOOKUP_SECONDS:
                    return None
                try:
                    family, kind, proto, _, address = socket.getaddrinfo(
                        self.endpoint.host, self.endpoint.port, type=socket.SOCK_DGRAM
                    )[0]
                except OSError:
                    self._address, self._lookup_failed_at = None, now
                    raise
                if self._socket is None or self._socket.family != family:
                    if self._socket is not None:
                        self._socket.close()
                    self._socket = socket.socket(family, kind, proto)
                    self._socket.setblocking(False)
                self._address, self._resolved_at = address, now
            return self._socket, self._address

    def send(self, data: bytes) -> bool:
        try:
            target = self._target()
            if target is None:
                return False
            sock, address = target
            sock.sendto(data, address)
        except OSError as e:  # no such host, no route, a full buffer: the event is lost
            with self._lock:
                now = time.monotonic()
                if now - self._warned_at < WARN_EVERY_SECONDS:
                    return False
                self._warned_at = now
            logger.warning(
                "metrics not sent",
                extra={"endpoint": f"{self.endpoint.host}:{self.endpoint.port}", "error": str(e)[:200]},
            )
            return False
        return True


@cache
def _sink() -> UdpSink | None:
    endpoint = parse_endpoint(settings.METRICS_EMF_ENDPOINT)
    return UdpSink(endpoint) if endpoint else None


@receiver(setting_changed)
def _forget_sink(*, setting: str, **kwargs) -> None:
    if setting.startswith("METRICS_EMF_"):
        _sink.cache_clear()


def enabled() -> bool:
    return _sink() is not None


def event(
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Sequence[Sequence[str]],
    properties: Mapping[str, str | int | float],
) -> dict:
    """One EMF event: ``metrics`` (name -> (value, unit)) under each dimension set
    of ``dimensions`` (lists of names of ``properties``), and ``properties``."""
    meta: dict = {
        "Timestamp": int(time.time() * 1000),
        "CloudWatchMetrics": [
            {
                "Namespace": settings.METRICS_EMF_NAMESPACE,
                "Dimensions": [list(names) for names in dimensions],
                "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
            }
        ],
    }
    if settings.METRICS_EMF_LOG_GROUP:
        # The CloudWatch agent writes the event to this log group (its default otherwise).
        meta["LogGroupName"] = settings.METRICS_EMF_LOG_GROUP
    return {"_aws": meta, **properties, **{name: value for name, (value, _) in metrics.items()}}


def put(
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Sequence[Sequence[str]],
    properties: Mapping[str, str | int | float],
) -> None:
    """Send one event if metrics are on (METRICS_EMF_ENDPOINT); never raises."""
    sink = _sink()
    if sink is None:
        return
    try:
        data = (json.dumps(event(metrics, dimensions, properties), separators=(",", ":")) + "\n").encode()
    except (TypeError, ValueError):  # pragma: no cover - our own values always encode
        logger.exception("metrics event not encoded")
        return
    sink.send(data)


# --- what the app measures -----------------------------------------------------------


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def request_done(*, route: str, method: str, status: int, latency_ms: float) -> None:
    """One HTTP request: counted and timed overall, by status class, and by route.
    The method is in the event (Logs Insights can group by it), not a dimension:
    every dimension value is a metric billed each month."""
    put(
        {"Requests": (1, COUNT), "Latency": (latency_ms, MILLISECONDS)},
        [["Service"], ["Service", "StatusClass"], ["Service", "Route"]],
        {"Service": "web", "Route": route, "Method": method, "StatusClass": status_class(status)},
    )


def appointments_booked(count: int) -> None:
    put({"AppointmentsBooked": (count, COUNT)}, [["Service"]], {"Service": "booking"})


def booking_refused(*, code: str, route: str) -> None:
    put(
        {"BookingRefusals": (1, COUNT)},
        [["Service"], ["Service", "Code"]],
        {"Service": "booking", "Code": code, "Route": route},
    )


def lock_conflict(*, operation: str) -> None:
    put(
        {"LockConflicts": (1, COUNT)},
        [["Service"], ["Service", "Operation"]],
        {"Service": "booking", "Operation": operation},
    )


def lock_wait(*, lock: str, milliseconds: float) -> None:
    """How long a booking, move or cancellation waited for its row locks (``lock``:
    "stylists" or "resources"): the time of the SELECT ... FOR UPDATE, which is
    about a millisecond uncontended and grows with the queue in front of it."""
    put(
        {"LockWait": (milliseconds, MILLISECONDS)},
        [["Service"], ["Service", "Lock"]],
        {"Service": "booking", "Lock": lock},
    )


def messages_due(*, count: int, oldest_age_seconds: float) -> None:
    """The e-mail queue's depth, from the worker's sweep: the messages due and not
    yet sent, and how long the oldest has waited (0 when none)."""
    put(
        {"MessagesDue": (count, COUNT), "OldestDueMessageAge": (oldest_age_seconds, SECONDS)},
        [["Service"]],
        {"Service": "messages"},
    )


def dynamodb_error(*, operation: str, code: str) -> None:
    put(
        {"DynamoDBErrors": (1, COUNT)},
        [["Service"], ["Service", "Operation"], ["Service", "ErrorCode"]],
        {"Service": "announcements", "Operation": operation, "ErrorCode": code},
    )
