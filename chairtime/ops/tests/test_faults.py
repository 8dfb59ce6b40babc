"""Faults, injected under a real server process (gunicorn, DEBUG off).

The relational database is "stopped" by cutting a TCP proxy between that server
and the shared database server (which other test runs use, so it is never
stopped for real): new connections are refused and open ones reset. It then
"returns" by listening again, and the same server process must recover on its
own. DynamoDB is failed three ways: a server of its own that is stopped, a port
that refuses connections, and a black hole that accepts and never answers.
"""

from __future__ import annotations

import html
import re
import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone
from moto.server import ThreadedMotoServer

from chairtime.announcements import store as announcements_store
from chairtime.announcements.store import Announcement
from chairtime.booking.models import Appointment
from chairtime.ops.errors import UNAVAILABLE_MESSAGE
from chairtime.testing.proxy import TcpProxy
from chairtime.testing.servers import database_url, gunicorn

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}

needs_a_database_server = pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="an embedded file database cannot be stopped: SQLite runs inside the server process",
)


def page_urls(demo) -> list[str]:
    """Every customer page that reads the database, from the home page to the form."""
    day = demo.next_working_day(min_days_ahead=3)
    base = f"/book/{demo.haircut.pk}"
    return [
        "/",
        f"{base}/",
        f"{base}/any/",
        f"{base}/{demo.ana.pk}/{day.isoformat()}/",
        f"{base}/{demo.ana.pk}/{day.isoformat()}/10:00/",
    ]


def visible_text(body: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def api_booking(demo, hh: int, *, days_ahead: int = 3) -> dict:
    start = demo.local(demo.next_working_day(min_days_ahead=days_ahead), hh)
    return {
        "service": demo.haircut.pk,
        "stylist": demo.ana.pk,
        "start": start.isoformat(),
        "customer": {"name": "Fault Tester", "email": f"fault{hh}@example.com"},
    }


# --- the relational database stops and comes back ------------------------------------------


@needs_a_database_server
def test_it_answers_503_while_the_database_is_down_and_recovers_without_a_restart(demo_tx):
    settings = connection.settings_dict
    proxy = TcpProxy(
        settings["HOST"] or "127.0.0.1", int(settings["PORT"] or DEFAULT_PORTS[connection.vendor])
    )
    proxy.start()
    through_proxy = database_url(settings, host="127.0.0.1", port=proxy.port)
    pages = page_urls(demo_tx)
    try:
        # One worker: "the same process" is then one pid, and it must never be replaced.
        with gunicorn(database_url=through_proxy, workers=1, threads=4) as server:
            http = requests.Session()

            def get(path: str) -> requests.Response:
                return http.get(f"{server.url}{path}", timeout=20, allow_redirects=False)

            # Healthy, and holding persistent connections (CONN_MAX_AGE) through the proxy.
            assert get("/readyz").status_code == 200
            assert [get(page).status_code for page in pages] == [200] * len(pages)
            assert (
                http.post(
                    f"{server.url}/api/v1/appointments", json=api_booking(demo_tx, 9), timeout=20
                ).status_code
                == 201
            )
            assert proxy.connections_accepted > 0

            proxy.stop()  # the database "crashes": open connections reset, new ones refused
            for _ in range(2):  # and stays down for a while: every request answers the same
                ready = get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["database"]["status"] == "error"
                assert get("/healthz").status_code == 200
                for page in pages:
                    response = get(page)
                    assert response.status_code == 503, (page, response.text[:500])
                    assert response.headers["Content-Type"].startswith("text/html")
                    assert response.headers["Retry-After"].isdigit()
                    assert "Please try again in a minute" in visible_text(response.text)
                    assert "Traceback" not in response.text
                    assert "OperationalError" not in response.text
                for method, path, body in (
                    ("GET", "/api/v1/services", None),
                    ("POST", "/api/v1/appointments", api_booking(demo_tx, 13)),
                ):
                    response = http.request(method, f"{server.url}{path}", json=body, timeout=20)
                    assert response.status_code == 503, (path, response.text[:500])
                    assert response.json() == {"detail": UNAVAILABLE_MESSAGE, "code": "unavailable"}

            proxy.start()  # the database is back, on the same address
            deadline = time.monotonic() + 10
            while get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "not ready again 10 s after the database returned"
                time.sleep(0.1)
            assert [get(page).status_code for page in pages] == [200] * len(pages)
            booked = http.post(f"{server.url}/api/v1/appointments", json=api_booking(demo_tx, 14), timeout=20)
            assert booked.status_code == 201, booked.text

            # The same worker did all of it: nothing was restarted to recover.
            assert server.alive
            assert len(server.booted_workers()) == 1, server.log()
            log = server.log()
            assert "database unavailable" in log
            assert "Traceback" not in log, log
    finally:
        proxy.stop()
    # The bookings made while the database was up are there; the one refused while
    # it was down is not.
    assert sorted(a.customer_email for a in Appointment.objects.all()) == [
        "fault14@example.com",
        "fault9@example.com",
    ]


# --- DynamoDB fails -----------------------------------------------------------------------------

# The server's DynamoDB client: two attempts of connect + read timeout each (store.py).
CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 0.5
# What the bound is there to catch: botocore's default 60 s read timeout (a page held
# hostage by DynamoDB). Both attempts time out in 2 s here, plus the retry's back-off
# (at most 1 s); the rest is the machine: on a 2-core machine loaded at 10 to 18 the
# first page, a fresh gunicorn worker's, took 11 and 17.9 s (2026-12-08). Far below
# 60 s either way; the requests' own 30 s timeout is the backstop.
PAGE_TIME_BOUND = 25.0
NOTICE = "The salon closes early today"


@pytest.fixture
def stopped_dynamodb(monkeypatch) -> Iterator[tuple[str, ThreadedMotoServer]]:
    """A DynamoDB server of our own with the table and one announcement; the test stops it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
    announcements_store.reset_store()
    try:
        store = announcements_store.get_store()
        store.create_table()
        store.put(Announcement.new(text=NOTICE, now=timezone.now() - timedelta(minutes=1)))
        yield endpoint, server
    finally:
        server.stop()
        monkeypatch.undo()
        announcements_store.reset_store()


@pytest.fixture
def refusing_port() -> Iterator[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def black_hole() -> Iterator[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)  # the kernel completes handshakes; nobody ever reads or answers
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def check_pages_and_booking(server, demo, *, expect_notice: bool = False) -> None:
    http = requests.Session()
    pages = page_urls(demo)
    for page in pages:
        started = time.monotonic()
        response = http.get(f"{server.url}{page}", timeout=30)
        took = time.monotonic() - started
        assert response.status_code == 200, (page, response.text[:500])
        assert took < PAGE_TIME_BOUND, f"{page} took {took:.2f} s"
        assert (NOTICE in response.text) is expect_notice
    ready = http.get(f"{server.url}/readyz", timeout=30)
    assert ready.status_code == 200  # DynamoDB is reported, never fails readiness
    assert ready.json()["dynamodb"]["status"] == ("ok" if expect_notice else "error")

    # Book through the pages, as a customer without JavaScript does: the form, then POST.
    form_page = http.get(f"{server.url}{pages[-1]}", timeout=30)
    fields = dict(re.findall(r'name="(csrfmiddlewaretoken|nonce)" value="([^"]+)"', form_page.text))
    started = time.monotonic()
    posted = http.post(
        f"{server.url}{pages[-1]}",
        data={**fields, "name": "Dee Namo", "email": "dee@example.com", "phone": ""},
        timeout=30,
    )
    assert time.monotonic() - started < PAGE_TIME_BOUND
    assert posted.status_code == 200, posted.text[:1000]  # followed the redirect to the private page
    assert re.fullmatch(r".*/booking/[^/]+/", posted.url)
    assert "You're booked!" in visible_text(posted.text)
    # And through the API.
    booked = http.post(f"{server.url}/api/v1/appointments", json=api_booking(demo, 15), timeout=30)
    assert booked.status_code == 201, booked.text
    assert sorted(a.customer_email for a in Appointment.objects.all()) == [
        "dee@example.com",
        "fault15@example.com",
    ]


def dynamodb_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "DYNAMODB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        "DYNAMODB_READ_TIMEOUT": str(READ_TIMEOUT),
        # Every page asks DynamoDB (until the failure itself is cached).
        "ANNOUNCEMENTS_CACHE_SECONDS": "0",
    }


def test_it_serves_and_books_after_dynamodb_stops(demo_tx, stopped_dynamodb):
    endpoint, dynamodb = stopped_dynamodb
    with gunicorn(
        database_url=database_url(connection.settings_dict), workers=1, threads=4, env=dynamodb_env(endpoint)
    ) as server:
        # Up: the announcement shows, so the pages really read this DynamoDB.
        http = requests.Session()
        assert NOTICE in http.get(f"{server.url}/", timeout=30).text
        dynamodb.stop()
        check_pages_and_booking(server, demo_tx, expect_notice=False)
        assert "announcements unavailable" in server.log()


@pytest.mark.parametrize("fault", ["refusing_port", "black_hole"])
def test_it_serves_and_books_when_dynamodb_is_unreachable(demo_tx, fault, request):
    endpoint = request.getfixturevalue(fault)
    with gunicorn(
        database_url=database_url(connection.settings_dict), workers=1, threads=4, env=dynamodb_env(endpoint)
    ) as server:
        check_pages_and_booking(server, demo_tx, expect_notice=False)
        assert "announcements unavailable" in server.log()
        assert "Traceback" not in server.log()
