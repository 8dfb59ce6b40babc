"""Security: production settings, headers and cookies, CSRF, the client's address
behind the ALB, rate limits (in process and in a real Redis), manage links,
customer data in logs, and the back office's login (docs/security.md)."""

from __future__ import annotations

import json
import logging
import os
import re
import runpy
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from csp.constants import SELF
from django.conf import settings as django_settings
from django.contrib.admindocs.views import simplify_regex
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from chairtime.booking import tokens
from chairtime.booking.models import Appointment
from chairtime.booking.tests.factories import AppointmentFactory
from chairtime.ops.security import client_ip

BASE_DIR = Path(__file__).resolve().parents[3]
LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2027, 3, 1, 10, 10, tzinfo=LA)  # a Monday, as in the booking page tests
TOMORROW = NOW.date() + timedelta(days=1)
CONTACT = {"name": "Zoe Park", "email": "zoe.private@example.com", "phone": "+1 (415) 555-0199"}
ALB = "10.0.3.7"  # the load balancer, as the pod sees it
HOST = "salon.example.com"
# Settings that stand in for the suite's relaxed defaults (test_settings.py).
ENV_THE_SUITE_RELAXES = ("BOOKING_RATE_LIMIT", "CANCEL_RATE_LIMIT", "TRUSTED_PROXY_COUNT")


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def limits(settings):
    """Low limits and a rate-limit cache of this test's own."""
    settings.BOOKING_RATE_LIMIT = "3/m"
    settings.CANCEL_RATE_LIMIT = "3/m"
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-{uuid.uuid4()}",
        },
    }
    return settings


def production_env(**changes: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ENV_THE_SUITE_RELAXES}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "chairtime.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SECURE_SSL": "true",
            "ALLOWED_HOSTS": HOST,
            "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(changes)
    return {key: value for key, value in env.items() if value is not None}


def production_settings(**changes: str) -> dict:
    """chairtime/settings.py evaluated as production would evaluate it."""
    with mock.patch.dict(os.environ, production_env(**changes), clear=True):
        return runpy.run_path(str(BASE_DIR / "chairtime" / "settings.py"))


SECURITY_SETTINGS = re.compile(
    r"(SECURE_|SESSION_COOKIE_|CSRF_COOKIE_|CONTENT_SECURITY_POLICY|X_FRAME_OPTIONS|TRUSTED_PROXY_COUNT"
    r"|ALLOWED_HOSTS|CSRF_TRUSTED_ORIGINS|MESSAGE_STORAGE|BOOKING_RATE_LIMIT|CANCEL_RATE_LIMIT)"
)


@pytest.fixture
def production(settings):
    """This process switched to production's security settings (SECURE_SSL on)."""
    for name, value in production_settings().items():
        if SECURITY_SETTINGS.match(name):
            setattr(settings, name, value)
    return settings


def https(**extra) -> dict:
    """What the ALB adds to a request it received over TLS from 203.0.113.9."""
    return {
        "HTTP_HOST": HOST,
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_FOR": "203.0.113.9",
        "REMOTE_ADDR": ALB,
        **extra,
    }


def details_url(demo, start: str = "10:00") -> str:
    return reverse("booking:details", args=[demo.haircut.pk, "any", TOMORROW.isoformat(), start])


def appointment_for(demo, hour: int, **fields) -> Appointment:
    return AppointmentFactory(
        service=demo.haircut, stylist=demo.ana, starts_at=demo.local(TOMORROW, hour), **fields
    )


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- production settings ---------------------------------------------------------------


def test_it_passes_check_deploy_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNING" not in output, output


def test_it_fails_check_deploy_in_production_without_a_shared_rate_limit_cache():
    result = run_manage("check", "--deploy", env=production_env(REDIS_URL=None))

    assert result.returncode != 0
    assert "django_ratelimit.E003" in result.stderr


def test_it_defaults_to_one_trusted_proxy_and_ten_per_minute_in_production():
    production_values = production_settings()
    local_values = production_settings(SECURE_SSL="false", DEBUG="true", REDIS_URL=None)

    assert production_values["TRUSTED_PROXY_COUNT"] == 1
    assert local_values["TRUSTED_PROXY_COUNT"] == 0
    assert production_values["BOOKING_RATE_LIMIT"] == production_values["CANCEL_RATE_LIMIT"] == "10/m"
    assert production_values["CACHES"]["ratelimit"]["BACKEND"] == "chairtime.ops.security.FailSoftRedisCache"
    assert local_values["CACHES"]["ratelimit"]["BACKEND"].endswith("LocMemCache")


@pytest.mark.parametrize("value", ["ten", "10", "10/minute", "0/m", "10/0m"])
def test_it_refuses_a_malformed_rate_at_start(value):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="BOOKING_RATE_LIMIT"):
        production_settings(BOOKING_RATE_LIMIT=value)


# --- headers and cookies -------------------------------------------------------------------


def test_it_sends_the_security_headers_behind_the_alb(production, demo, clock):
    response = Client().get("/", **https())

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = dict([*part.split(" ", 1), ""][:2] for part in response["Content-Security-Policy"].split("; "))
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == "'self'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "upgrade-insecure-requests" in policy


def test_it_redirects_plain_http_to_https_but_answers_probes(production, db):
    plain = Client().get("/", HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="http")
    probe = Client().get("/healthz", HTTP_HOST="10.1.2.3", HTTP_X_FORWARDED_PROTO="http")

    assert plain.status_code == 301
    assert plain["Location"] == f"https://{HOST}/"
    assert probe.status_code == 200


def test_it_sets_secure_httponly_samesite_host_prefixed_cookies(production, demo, clock):
    client = Client()
    client.get(details_url(demo), **https())
    client.post(details_url(demo), {**CONTACT, "nonce": "n1"}, **https())

    assert set(client.cookies) == {"__Host-csrftoken", "__Host-sessionid"}
    for cookie in client.cookies.values():
        assert cookie["secure"] is True
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert cookie["domain"] == ""


def test_it_serves_pages_without_inline_script_or_style_or_other_sites(demo, clock, client):
    token = tokens.make_manage_token(appointment_for(demo, 15).pk)
    urls = [
        "/",
        reverse("booking:stylist", args=[demo.haircut.pk]),
        reverse("booking:day", args=[demo.haircut.pk, "any"]),
        reverse("booking:time", args=[demo.haircut.pk, "any", TOMORROW.isoformat()]),
        details_url(demo),
        reverse("booking:manage", args=[token]),
        reverse("booking:cancel", args=[token]),
        reverse("admin:login"),
        "/api/v1/docs",
    ]
    for url in urls:
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 200, url
        assert "Content-Security-Policy" in response, url
        # Every <script> loads a file (or is a JSON data block, which never runs).
        for tag in re.findall(r"<script\b[^>]*>", body):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", body), url
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", body), url


def test_it_sends_the_policy_django_csp_builds_from_the_settings(settings, demo, clock, client):
    from csp.utils import build_policy

    assert client.get("/")["Content-Security-Policy"] == build_policy()

    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "img-src": [SELF]}
    }
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": [SELF]}}
    changed = client.get("/")

    assert changed["Content-Security-Policy"] == build_policy()
    assert "img-src 'self';" in changed["Content-Security-Policy"] + ";"
    assert changed["Content-Security-Policy-Report-Only"] == "default-src 'self'"


def test_it_leaves_a_views_own_policy_and_nonces_to_django_csp(settings, rf):
    from csp.decorators import csp_update
    from django.http import HttpResponse
    from django.template import Context, Template

    from chairtime.ops.middleware import CSPMiddleware

    @csp_update({"img-src": "https://images.example.com"})
    def with_images(request):
        return HttpResponse("ok")

    def with_nonce(request):
        return HttpResponse(Template("{{ request.csp_nonce }}").render(Context({"request": request})))

    updated = CSPMiddleware(with_images)(rf.get("/"))
    nonce_request = rf.get("/")
    nonced = CSPMiddleware(with_nonce)(nonce_request)

    assert "img-src 'self' data: https://images.example.com" in updated["Content-Security-Policy"]
    assert (
        f"'nonce-{nonce_request._csp_nonce}'" not in nonced["Content-Security-Policy"]
    )  # no NONCE in our policy
    assert nonced.content.decode() == nonce_request._csp_nonce


# --- CSRF ---------------------------------------------------------------------------------


def test_it_requires_the_csrf_token_to_book_and_to_cancel(demo, clock):
    appointment = appointment_for(demo, 15)
    strict = Client(enforce_csrf_checks=True)

    booked = strict.post(details_url(demo), CONTACT)
    cancelled = strict.post(reverse("booking:cancel", args=[tokens.make_manage_token(appointment.pk)]))

    assert booked.status_code == cancelled.status_code == 403
    assert Appointment.objects.get().is_confirmed


def test_it_requires_the_csrf_token_on_the_admin_login(db):
    strict = Client(enforce_csrf_checks=True)

    assert strict.post(reverse("admin:login"), {"username": "a", "password": "b"}).status_code == 403


# --- the client's address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hops", "forwarded_for", "expected"),
    [
        (0, "203.0.113.9", ALB),  # locally: the socket peer, the header ignored
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "1.1.1.1, 203.0.113.9", "203.0.113.9"),  # spoofed left-most entry ignored
        (1, "1.1.1.1,2.2.2.2 ,  203.0.113.9", "203.0.113.9"),
        (2, "1.1.1.1, 203.0.113.9, 10.0.9.9", "203.0.113.9"),  # CloudFront in front of the ALB
        (2, "203.0.113.9", ALB),  # fewer entries than proxies: not through our proxies
        (1, "", ALB),  # a probe or a call from inside the cluster
        (1, "not-an-address", ALB),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_it_takes_the_client_ip_from_the_right_of_x_forwarded_for(settings, hops, forwarded_for, expected):
    settings.TRUSTED_PROXY_COUNT = hops
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded_for, REMOTE_ADDR=ALB)

    assert client_ip(request) == expected


# --- rate limits ------------------------------------------------------------------------------------


def test_it_limits_booking_posts_per_client_ip_with_a_429_page(limits, demo, clock):
    limits.TRUSTED_PROXY_COUNT = 1
    client = Client()
    statuses = [
        client.post(details_url(demo), {}, HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 203.0.113.9").status_code
        for n in range(4)
    ]
    limited = client.post(details_url(demo), CONTACT, HTTP_X_FORWARDED_FOR="203.0.113.9")
    someone_else = client.post(details_url(demo), CONTACT, HTTP_X_FORWARDED_FOR="203.0.113.10")

    # Rotating the spoofable left-most entry does not make a new client.
    assert statuses == [400, 400, 400, 429]
    assert limited.status_code == 429
    assert "Please wait a minute and try again." in limited.content.decode()
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited["Content-Type"].startswith("text/html")
    assert someone_else.status_code == 302
    assert Appointment.objects.count() == 1


def test_it_does_not_limit_looking_at_the_booking_pages(limits, demo, clock, client):
    assert {client.get(details_url(demo)).status_code for _ in range(6)} == {200}


def test_it_limits_cancel_posts_per_client_ip(limits, demo, clock, client):
    tokens_ = [tokens.make_manage_token(appointment_for(demo, 9 + n).pk) for n in range(4)]

    statuses = [client.post(reverse("booking:cancel", args=[t])).status_code for t in tokens_]

    assert statuses == [302, 302, 302, 429]
    assert Appointment.objects.filter(status="confirmed").count() == 1


def test_it_limits_the_api_with_a_json_429(limits, demo, clock, client):
    def book(ip: str):
        return client.post("/api/v1/appointments", "{}", content_type="application/json", REMOTE_ADDR=ip)

    statuses = [book("198.51.100.1").status_code for _ in range(3)]
    limited = book("198.51.100.1")
    other = book("198.51.100.2")
    cancels = [
        client.post("/api/v1/appointments/1/cancel?token=x", REMOTE_ADDR="198.51.100.1").status_code
        for _ in range(4)
    ]

    assert statuses == [422, 422, 422]
    assert limited.status_code == 429
    assert limited.json() == {
        "detail": "Too many requests from your network in a short time. Please wait a minute and try again.",
        "code": "rate_limited",
    }
    assert int(limited["Retry-After"]) >= 1
    assert other.status_code == 422
    assert cancels == [404, 404, 404, 429]


def test_it_counts_page_and_api_bookings_together(limits, demo, clock, client):
    client.post(details_url(demo), {})
    client.post(details_url(demo), {})
    client.post("/api/v1/appointments", "{}", content_type="application/json")

    assert client.post(details_url(demo), {}).status_code == 429


def redis_url() -> str:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return "redis://127.0.0.1:6379/0"
    except OSError:
        pytest.skip("no Redis at 127.0.0.1:6379: the shared rate-limit cache path is not exercised")


@pytest.fixture
def redis_limits(limits):
    import redis

    url = redis_url()
    prefix = f"chairtime-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    limits.CACHES = {
        **limits.CACHES,
        "ratelimit": {
            "BACKEND": "chairtime.ops.security.FailSoftRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        },
    }
    raw = redis.Redis.from_url(url)
    yield raw, prefix
    for key in raw.scan_iter(match=f"{prefix}:*"):
        raw.delete(key)
    raw.close()


def test_it_counts_in_redis_so_every_pod_shares_the_limit(redis_limits, demo, clock, client):
    from django.core.cache import caches

    raw, prefix = redis_limits
    assert [client.post(details_url(demo), {}).status_code for _ in range(2)] == [400, 400]
    counters = [raw.get(key) for key in raw.scan_iter(match=f"{prefix}:*")]
    # Another pod: a new cache object, with its own (empty) process memory.
    caches["ratelimit"].close()
    del caches["ratelimit"]

    assert [client.post(details_url(demo), {}).status_code for _ in range(2)] == [400, 429]
    assert counters == [b"2"]


def test_it_keeps_booking_and_counts_per_process_when_redis_is_down(limits, demo, clock, client, caplog):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    limits.CACHES = {
        **limits.CACHES,
        "ratelimit": {
            "BACKEND": "chairtime.ops.security.FailSoftRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        },
    }

    booked = client.post(details_url(demo), CONTACT)
    statuses = [client.post(details_url(demo), {}).status_code for _ in range(3)]

    # Fail open to the pod's own counters: the customer books, the limit still holds per pod.
    assert booked.status_code == 302
    assert Appointment.objects.count() == 1
    assert statuses == [400, 400, 429]
    assert "rate limit cache unreachable; counting per process" in caplog.messages


# --- manage links ----------------------------------------------------------------------------------


def test_it_refuses_forged_links_on_pages_and_api(demo, clock, client):
    appointment = appointment_for(demo, 10)
    forged = tokens.make_manage_token(appointment.pk)[:-1] + "x"

    assert client.get(reverse("booking:manage", args=[forged])).status_code == 404
    assert client.post(reverse("booking:cancel", args=[forged])).status_code == 404
    assert client.get(f"/api/v1/appointments/{appointment.pk}?token={forged}").status_code == 404
    assert client.post(f"/api/v1/appointments/{appointment.pk}/cancel?token={forged}").status_code == 404
    assert Appointment.objects.get().is_confirmed


def test_it_refuses_expired_links_on_pages_and_api(demo, clock, client):
    appointment = appointment_for(demo, 10)
    token = tokens.make_manage_token(appointment.pk)
    assert client.get(reverse("booking:manage", args=[token])).status_code == 200

    clock.shift(timedelta(days=django_settings.MANAGE_LINK_MAX_AGE_DAYS, seconds=1))

    assert client.get(reverse("booking:manage", args=[token])).status_code == 404
    assert client.post(reverse("booking:cancel", args=[token])).status_code == 404
    assert client.get(f"/api/v1/appointments/{appointment.pk}?token={token}").status_code == 404
    assert client.post(f"/api/v1/appointments/{appointment.pk}/cancel?token={token}").status_code == 404


def test_it_never_lets_one_customers_link_read_or_cancel_another_appointment(demo, clock, client):
    mine = appointment_for(demo, 10, customer_name="Mia Mine", customer_email="mia@example.com")
    theirs = appointment_for(demo, 13, customer_name="Theo Theirs", customer_email="theo@example.com")
    my_token = tokens.make_manage_token(mine.pk)
    # My signature with their id put in: the signature no longer matches.
    their_payload = tokens.make_manage_token(theirs.pk).split(":", 1)[0]
    spliced = f"{their_payload}:{my_token.split(':', 1)[1]}"

    my_page = client.get(reverse("booking:manage", args=[my_token])).content.decode()
    assert "Mia Mine" in my_page
    assert "Theo Theirs" not in my_page and "theo@example.com" not in my_page
    assert client.get(reverse("booking:manage", args=[spliced])).status_code == 404
    assert client.post(reverse("booking:cancel", args=[spliced])).status_code == 404
    api_read = client.get(f"/api/v1/appointments/{theirs.pk}?token={my_token}")
    api_cancel = client.post(f"/api/v1/appointments/{theirs.pk}/cancel?token={my_token}")
    assert api_read.status_code == api_cancel.status_code == 404
    assert "theo@example.com" not in api_read.content.decode()
    theirs.refresh_from_db()
    assert theirs.is_confirmed


# --- logs -----------------------------------------------------------------------------------------------


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def every_log_record():
    """Every record the logging configuration lets through with the root logger at
    DEBUG (the most LOG_LEVEL can ask for), with all its fields."""
    handler = _Everything()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_it_logs_no_customer_email_phone_or_link_over_a_booking_and_cancel(demo, clock, every_log_record):
    client = Client()
    client.get(details_url(demo))
    booked = client.post(details_url(demo), {**CONTACT, "nonce": "n1"})
    manage_url = booked["Location"]
    client.get(manage_url)
    client.get(manage_url + "cancel/")
    cancelled = client.post(manage_url + "cancel/")
    client.post(details_url(demo), {**CONTACT, "email": "not-an-email"})  # a form with errors, too

    assert booked.status_code == cancelled.status_code == 302
    assert Appointment.objects.get().status == Appointment.Status.CANCELLED
    logged = "\n".join(
        f"{record.getMessage()} {json.dumps(record.__dict__, default=repr)}" for record in every_log_record
    )
    assert "chairtime.access" in logged  # the capture works: the access log is in it
    token = manage_url.split("/")[2]
    for secret in ("zoe.private", "555-0199", "5550199", "not-an-email", token):
        assert secret not in logged, secret


def test_it_never_logs_a_manage_token_from_a_path_that_does_not_resolve(demo, clock, every_log_record):
    appointment = appointment_for(demo, 15)
    token = tokens.make_manage_token(appointment.pk)
    client = Client()
    requests_ = [
        ("get", f"/booking/{token}"),  # no slash: 301
        ("get", f"/booking/{token}/cancel"),
        ("get", f"/booking/{token}/appointment.ics/"),  # 404
        ("get", f"/booking/{token}/appointment.ical"),
        ("get", f"/booking/{token}/extra/segments/"),
        ("get", f"/booking/{token}x/"),  # forged
        ("put", f"/booking/{token}/"),  # 405
        ("post", f"/booking/{token}/appointment.ics"),
        ("get", f"/api/v1/appointments/{appointment.pk}/{token}"),
        ("get", f"/api/v1/appointments/{token}"),
        ("delete", f"/api/v1/appointments/{appointment.pk}?token={token}"),
    ]

    answers = {(method, path): getattr(client, method)(path).status_code for method, path in requests_}

    assert set(answers.values()) >= {301, 404, 405}, answers
    access = [record for record in every_log_record if record.name == "chairtime.access"]
    assert len(access) == len(answers)  # the capture works: one access line per request
    assert sum("<token>" in record.path for record in access) == len(answers) - 1  # all but the query string
    logged = "\n".join(
        f"{record.getMessage()} {json.dumps(record.__dict__, default=repr)}" for record in every_log_record
    )
    for secret in (token, token.rsplit(":", 1)[1]):
        assert secret not in logged, secret


def test_it_never_logs_a_manage_token_in_djangos_own_request_log(demo, clock, capsys):
    from django.http import HttpResponse
    from django.utils.log import log_response

    token = tokens.make_manage_token(appointment_for(demo, 15).pk)
    request = RequestFactory().get(f"/booking/{token}/cancel/", {"email": CONTACT["email"]})
    capsys.readouterr()

    # What Django writes for a 500 on a manage page (and for a 4xx, at WARNING).
    error = HttpResponse(status=500)
    log_response("Internal Server Error: %s", request.path, request=request, response=error)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["message"] for line in lines] == ["Internal Server Error: /booking/<token>/cancel/"]
    assert token not in str(lines)
    assert CONTACT["email"] not in str(lines)


@pytest.fixture
def make_run_server(demo_tx, tmp_path):
    """Django's development server started the way `make run` (scripts/run-local)
    starts it, on a free loopback port, against the test database; its stdout
    and stderr, what a newcomer's terminal shows, in one file."""
    from django.db import connection

    from chairtime.testing.proxy import free_port
    from chairtime.testing.servers import database_url

    port = free_port()
    output = tmp_path / "make-run.log"
    # The test suite's own defaults (test_settings.py) are not make run's.
    suite_only = ("LOG_LEVEL", "DJANGO_SETTINGS_MODULE")
    env = {key: value for key, value in os.environ.items() if key not in suite_only}
    env.update(
        {
            "DEBUG": "true",
            "PORT": str(port),
            "DATABASE_URL": database_url(connection.settings_dict),
            "PYTHONUNBUFFERED": "1",
        }
    )
    with output.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # runserver's autoreloader runs the server in a child
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, output.read_text()
                assert time.monotonic() < deadline, output.read_text()
                time.sleep(0.2)
        yield url, output, demo_tx
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C, as in the terminal
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_it_never_prints_a_manage_token_under_make_run(make_run_server):
    url, output, demo = make_run_server
    appointment = AppointmentFactory(
        service=demo.haircut, stylist=demo.ana, starts_at=demo.local(demo.next_working_day(), 15)
    )
    token = tokens.make_manage_token(appointment.pk)
    answers = {
        (method, path): requests.request(method, url + path, timeout=30, allow_redirects=False).status_code
        for method, path in [
            ("GET", f"/booking/{token}/"),
            ("GET", f"/booking/{token}/appointment.ics"),
            ("GET", f"/booking/{token}"),  # no slash: 301
            ("GET", f"/booking/{token}/appointment.ics/"),  # 404
            ("GET", f"/booking/{token}/extra/segments/"),
            ("GET", f"/booking/{token}x/"),  # forged
            ("PUT", f"/booking/{token}/"),  # 403: no CSRF token
            ("PUT", f"/api/v1/appointments/{appointment.pk}?token={token}"),
            ("GET", f"/api/v1/appointments/{appointment.pk}/{token}"),
            ("GET", f"/api/v1/appointments/{appointment.pk + 1}?token={token}"),
        ]
    }
    time.sleep(0.5)  # the server writes its line after the answer

    printed = output.read_text()
    assert answers[("GET", f"/booking/{token}/")] == 200, printed
    assert {301, 403, 404, 405} <= set(answers.values()), answers
    # The capture works: runserver's own 4xx request lines are in it, redacted.
    messages = [json.loads(line)["message"] for line in printed.splitlines() if line.startswith("{")]
    for line in (
        '"GET /booking/<token>/appointment.ics/ HTTP/1.1" 404',
        '"PUT /booking/<token>/ HTTP/1.1" 403',
    ):
        assert any(message.startswith(line) for message in messages), printed
    for secret in (token, token.rsplit(":", 1)[1]):
        assert secret not in printed, printed


# --- the back office -------------------------------------------------------------------------------------


def login(client: Client, username: str, password: str, ip: str = "203.0.113.9"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        HTTP_X_FORWARDED_FOR=f"6.6.6.{secrets.randbelow(250)}, {ip}",
    )


def test_it_locks_a_username_and_ip_out_after_repeated_failures_until_the_cool_off(settings, db):
    settings.TRUSTED_PROXY_COUNT = 1
    get_user_model().objects.create_user("desk", password="right-password-1", is_staff=True)
    client = Client()

    with time_machine.travel(NOW, tick=False) as traveller:
        failures = [login(client, "desk", "wrong").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
        locked = login(client, "desk", "right-password-1")
        elsewhere = login(Client(), "desk", "right-password-1", ip="198.51.100.77")
        traveller.shift(settings.AXES_COOLOFF_TIME - timedelta(seconds=5))
        still_locked = login(client, "desk", "right-password-1")
        traveller.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=5))
        after_cool_off = login(client, "desk", "right-password-1")

    assert failures[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)  # the form again, with an error
    assert failures[-1] == 429
    assert locked.status_code == 429
    assert "too many login attempts" in locked.content.decode()
    assert elsewhere.status_code == 302  # per username and address: the desk elsewhere can log in
    assert still_locked.status_code == 429
    assert after_cool_off.status_code == 302
    assert after_cool_off["Location"] == "/admin/"


def test_it_creates_no_accounts_when_migrating(db):
    assert not get_user_model().objects.exists()


def test_it_refuses_to_create_the_local_admin_with_debug_off(settings, db):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="only runs with DEBUG on"):
        call_command("ensure_local_admin")
    assert not get_user_model().objects.exists()


def test_the_local_admin_opens_the_front_desk_as_its_manager(settings, demo, capsys):
    settings.DEBUG = True
    call_command("ensure_local_admin")
    password = re.search(r"password '([^']+)'", capsys.readouterr().out).group(1)
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(password)

    client = Client()
    client.force_login(admin)
    assert client.get("/desk/").status_code == 200
    assert client.get("/desk/reports/").status_code == 200
    assert client.get("/admin/").status_code == 200


def staff_urls() -> list[str]:
    """Every back-office URL (admin, staff and front-desk pages), arguments filled in."""
    urls: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = simplify_regex(prefix + str(pattern.pattern))
                if route.startswith(("/admin/", "/staff/", "/desk/")):
                    route = route.replace("<app_label>", "booking").replace("<url>", "anything/")
                    urls.append(re.sub(r"<[^>]+>", "1", route))

    walk(get_resolver().url_patterns, "")
    return sorted(set(urls))


def test_it_shows_anonymous_visitors_only_the_login_page_of_the_back_office(demo, client):
    urls = staff_urls()
    assert len(urls) > 20  # the walk found the admin's pages

    answers = {url: client.get(url) for url in urls}

    reachable = sorted(url for url, response in answers.items() if response.status_code == 200)
    # The calendar script's words and clock: the same for everyone, no data.
    assert reachable == ["/admin/login/", "/desk/jsi18n/", "/desk/login/"]
    for url, response in answers.items():
        if url not in reachable:
            assert response.status_code in (302, 404, 405), (url, response.status_code)
            if response.status_code == 302:
                desk_pages = ("/desk/", "/staff/clients/")  # the desk's sign-in guards these
                login = "/desk/login/" if url.startswith(desk_pages) else "/admin/"
                assert response["Location"].startswith(login), url


def test_it_refuses_iam_database_auth_without_the_ca_that_verifies_the_server():
    from django.core.exceptions import ImproperlyConfigured

    iam = {"DATABASE_URL": "postgres://chairtime@db.example:5432/chairtime", "DATABASE_IAM_AUTH": "true"}
    with pytest.raises(ImproperlyConfigured, match="DATABASE_SSL_CA"):
        production_settings(**iam)
    verified = production_settings(**iam, DATABASE_SSL_CA="/etc/ssl/certs/rds-ca-bundle.pem")
    options = verified["DATABASES"]["default"]["OPTIONS"]
    assert (options["sslmode"], options["sslrootcert"]) == ("verify-full", "/etc/ssl/certs/rds-ca-bundle.pem")
