"""The release's smoke test through the load balancer: what a customer's first
requests need, asked the way a customer's browser asks them.

On a first release there is no DNS yet (the ALB is made by this very deploy, and
the environment's name is pointed at it afterwards) and no salon (it is loaded once
the app runs, docs/aws.md). So the smoke test can go to the load balancer's own
address, read from the Ingress's status (``SMOKE_URL=https://{ingress}``), while
asking for the environment's public name: the Host header and, over HTTPS, the TLS
server name and the certificate check are the public host's (what ``curl
--connect-to`` does). An empty catalogue passes only on a first release."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

# The placeholder in --smoke-url for the load balancer's address from the Ingress.
INGRESS_PLACEHOLDER = "{ingress}"


class SmokeFailed(Exception):
    pass


# --- where to send the requests ---------------------------------------------------------------


def ingress_address(ingress: dict | None) -> str | None:
    """The load balancer's address the controller published in the Ingress's status
    (an ALB's DNS name; some controllers publish an IP), or None while it has none."""
    for entry in ((ingress or {}).get("status") or {}).get("loadBalancer", {}).get("ingress") or []:
        address = entry.get("hostname") or entry.get("ip")
        if address:
            return address
    return None


def ingress_host(ingress: dict) -> str | None:
    """The public host of the Ingress's first rule that names one."""
    for rule in ingress.get("spec", {}).get("rules") or []:
        if rule.get("host"):
            return rule["host"]
    return None


@dataclass(frozen=True)
class Target:
    """Where the smoke test connects (``url``) and the name it asks for (``host``:
    the Host header and the TLS server name; None: the URL's own host)."""

    url: str
    host: str | None = None

    def describe(self) -> str:
        return f"{self.url} (Host: {self.host})" if self.host else self.url


def target(smoke_url: str, ingress: dict | None, host: str | None = None) -> Target | None:
    """The smoke test's target. A URL without the placeholder is used as it is;
    with it, the placeholder becomes the Ingress's load balancer address (None while
    the controller has not published one), and the Host is the Ingress's rule host
    unless ``host`` is given."""
    if INGRESS_PLACEHOLDER not in smoke_url:
        return Target(smoke_url, host)
    if ingress is None:
        return None
    address = ingress_address(ingress)
    if address is None:
        return None
    return Target(smoke_url.replace(INGRESS_PLACEHOLDER, address), host or ingress_host(ingress))


# --- the requests --------------------------------------------------------------------------------


def tls_context() -> ssl.SSLContext:
    """The system's trusted CAs, hostname checked (tests swap in their own CA)."""
    return ssl.create_default_context()


class _HTTPSConnectionTo(http.client.HTTPSConnection):
    """HTTPS to one address, with another name for TLS: server name indication and
    the certificate check are ``server_name``'s (the public host, whose certificate the
    load balancer serves), the TCP connection is to the load balancer's own name."""

    def __init__(self, address: str, port: int | None, server_name: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=tls_context())
        self.server_name = server_name

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.server_name)


def _get(base: str, path: str, host: str | None, timeout: float) -> tuple[int, bytes, str]:
    """GET base+path with Host ``host`` (the URL's host when None); returns the status,
    the body and the Content-Type. Redirects are not followed (an ALB redirecting HTTP
    to HTTPS answers 301: the smoke URL should be https)."""
    url = urllib.parse.urlsplit(base.rstrip("/") + path)
    if url.scheme == "https":
        connection: http.client.HTTPConnection = _HTTPSConnectionTo(
            url.hostname, url.port, host or url.hostname, timeout
        )
    elif url.scheme == "http":
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    else:
        raise SmokeFailed(f"the smoke URL must be http or https: {base}")
    target = url.path + (f"?{url.query}" if url.query else "")
    try:
        connection.request("GET", target, headers={"Host": host or url.netloc, "Accept": "application/json"})
        answer = connection.getresponse()
        return answer.status, answer.read(), answer.getheader("Content-Type") or ""
    finally:
        connection.close()


def _json(path: str, status: int, body: bytes, content_type: str):
    if status != 200:
        raise SmokeFailed(f"GET {path} answered {status}: {body[:200]!r}")
    if not content_type.startswith("application/json"):
        raise SmokeFailed(
            f"GET {path} answered {content_type or 'no Content-Type'}, not JSON: {body[:200]!r}"
        )
    try:
        return json.loads(body)
    except ValueError:
        raise SmokeFailed(f"GET {path} answered invalid JSON: {body[:200]!r}") from None


def checks(
    base: str, host: str | None = None, timeout: float = 5.0, *, first_release: bool = False
) -> list[str]:
    """/readyz answers 200; the API answers JSON 200 with the list of services and, for
    the first one, an availability question for tomorrow with a list of slots. An
    empty list of services passes on a ``first_release`` only (the salon is loaded
    once the app runs); later, it means the salon is not configured. Returns what was
    seen; raises SmokeFailed with what went wrong."""
    seen = []
    status, body, _ = _get(base, "/readyz", host, timeout)
    if status != 200:
        raise SmokeFailed(f"GET /readyz answered {status}: {body[:200]!r}")
    seen.append("GET /readyz 200")
    services = _json("/api/v1/services", *_get(base, "/api/v1/services", host, timeout))
    if not isinstance(services, list):
        raise SmokeFailed(f"GET /api/v1/services answered {type(services).__name__}, not a list")
    if not services:
        if not first_release:
            raise SmokeFailed(
                "GET /api/v1/services: the salon offers no service (is the salon configured? "
                "`manage.py load_salon`, docs/aws.md)"
            )
        seen.append("GET /api/v1/services 200 (0 services: a first release, the salon is not loaded yet)")
        return seen
    seen.append(f"GET /api/v1/services 200 ({len(services)} services)")
    day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    path = f"/api/v1/availability?service={services[0]['id']}&date={day}"
    availability = _json(path, *_get(base, path, host, timeout))
    if not isinstance(availability, dict) or "slots" not in availability:
        raise SmokeFailed(f"GET {path}: no slots in {json.dumps(availability)[:200]}")
    seen.append(f"GET {path} 200 ({len(availability['slots'])} slots)")
    return seen


def smoke(
    find: Callable[[], Target | None] | str,
    host: str | None,
    deadline_seconds: float,
    say: Callable[[str], None],
    *,
    first_release: bool = False,
) -> None:
    """``checks`` until they pass (a new load balancer takes minutes to be provisioned
    and its name to resolve; an existing one a while to send traffic to new targets)
    or the deadline passes. ``find`` gives the target (None while the Ingress has no
    address yet), or is a URL."""
    if isinstance(find, str):
        fixed = Target(find, host)
        find = lambda: fixed  # noqa: E731
    deadline = time.monotonic() + deadline_seconds
    last = ""
    announced = None
    while True:
        where = find()
        if where is None:
            last = "the Ingress has no load balancer address yet"
        else:
            if where != announced:
                announced = where
                say(f"smoke: through {where.describe()}")
            try:
                for line in checks(where.url, where.host, first_release=first_release):
                    say(f"smoke: {line}")
                return
            except (SmokeFailed, OSError, ValueError, http.client.HTTPException) as error:
                last = str(error) or type(error).__name__
        if time.monotonic() > deadline:
            through = where.describe() if where else "the Ingress's load balancer"
            raise SmokeFailed(f"smoke test through {through} failed for {deadline_seconds:.0f} s: {last}")
        time.sleep(3)
