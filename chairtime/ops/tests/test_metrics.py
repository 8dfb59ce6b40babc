"""Application metrics: real requests through the test client, the events caught by a
UDP socket where the CloudWatch agent would listen, parsed and checked against the
embedded metric format's specification."""

from __future__ import annotations

import json
import logging
import math
import re
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from chairtime.announcements import store as announcements_store
from chairtime.announcements.store import AnnouncementStoreError
from chairtime.booking.tests.fixtures import DemoSalon
from chairtime.ops import metrics

# CloudWatch's units (MetricDatum.Unit).
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
    "Count/Second", "None",
}  # fmt: skip
# The dimension values a route may take: URL pattern names, never paths.
ROUTE_SHAPE = r"^[a-z_]+:[a-z_]+$|^unmatched$|^static$|^admin$"


class Agent:
    """A UDP socket standing where the CloudWatch agent's EMF input listens."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.endpoint = f"udp://127.0.0.1:{self.socket.getsockname()[1]}"
        self.datagrams: list[bytes] = []

    def events(self, wait: float = 0.5) -> list[dict]:
        """Every event received so far, each checked against the specification."""
        self.socket.settimeout(wait)
        try:
            while True:
                self.datagrams.append(self.socket.recv(65536))
                self.socket.settimeout(0.05)
        except TimeoutError:
            pass
        events = []
        for datagram in self.datagrams:
            text = datagram.decode()
            assert text.endswith("\n") and text.count("\n") == 1, text
            event = json.loads(text)
            assert_valid_emf(event)
            events.append(event)
        return events

    def metric(self, name: str, wait: float = 0.5) -> list[dict]:
        return [e for e in self.events(wait) if name in metric_names(e)]


def metric_names(event: dict) -> set[str]:
    return {m["Name"] for d in event["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def assert_valid_emf(event: dict) -> None:
    """The specification's rules (CloudWatch_Embedded_Metric_Format_Specification)."""
    assert isinstance(event, dict)
    meta = event["_aws"]
    assert set(meta) <= {"Timestamp", "CloudWatchMetrics", "LogGroupName"}, meta
    assert isinstance(meta["Timestamp"], int)
    assert abs(meta["Timestamp"] - time.time() * 1000) < 60_000, "milliseconds since the epoch, now"
    assert meta["CloudWatchMetrics"], "at least one MetricDirective"
    for directive in meta["CloudWatchMetrics"]:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}, directive
        assert isinstance(directive["Namespace"], str) and 1 <= len(directive["Namespace"]) <= 255
        assert isinstance(directive["Dimensions"], list) and directive["Dimensions"]
        for dimension_set in directive["Dimensions"]:
            assert isinstance(dimension_set, list) and 1 <= len(dimension_set) <= 30, dimension_set
            for name in dimension_set:
                assert isinstance(name, str), name
                value = event[name]  # every dimension is a member of the root node...
                assert isinstance(value, str) and 1 <= len(value) <= 1024, (name, value)  # ...a string
        assert 1 <= len(directive["Metrics"]) <= 100
        for definition in directive["Metrics"]:
            assert set(definition) == {"Name", "Unit"}, definition
            assert definition["Unit"] in UNITS
            value = event[definition["Name"]]  # every metric is a member of the root node...
            assert isinstance(value, int | float) and not isinstance(value, bool)  # ...a number
            assert math.isfinite(value)


@pytest.fixture
def agent(settings) -> Iterator[Agent]:
    agent = Agent()
    settings.METRICS_EMF_ENDPOINT = agent.endpoint
    settings.METRICS_EMF_NAMESPACE = "Chairtime/test"
    settings.METRICS_EMF_LOG_GROUP = "/chairtime/test/metrics"
    try:
        yield agent
    finally:
        agent.socket.close()


def book(client, demo: DemoSalon, hh: int, email: str = "metrics@example.com"):
    day = demo.next_working_day(min_days_ahead=3)
    return client.post(
        "/api/v1/appointments",
        {
            "service": demo.haircut.pk,
            "stylist": demo.ana.pk,
            "start": demo.local(day, hh).isoformat(),
            "customer": {"name": "Metric Person", "email": email},
        },
        content_type="application/json",
    )


# --- requests ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_nothing_while_no_endpoint_is_set(client, settings):
    listener = Agent()
    settings.METRICS_EMF_ENDPOINT = ""
    try:
        assert client.get("/").status_code == 200
        assert not metrics.enabled()
        assert listener.events(wait=0.3) == []
    finally:
        listener.socket.close()


@pytest.mark.django_db(transaction=True)
def test_it_sends_one_event_per_request_with_route_method_status_class_and_latency(client, agent, demo_tx):
    assert client.get("/").status_code == 200

    (event,) = agent.metric("Requests")
    assert event["Route"] == "booking:home"
    assert event["Method"] == "GET"
    assert event["StatusClass"] == "2xx"
    assert event["Requests"] == 1
    assert event["Latency"] > 0
    meta = event["_aws"]
    assert meta["LogGroupName"] == "/chairtime/test/metrics"
    (directive,) = meta["CloudWatchMetrics"]
    assert directive["Namespace"] == "Chairtime/test"
    assert ["Service"] in directive["Dimensions"], "an overall series for the alarms"
    assert ["Service", "StatusClass"] in directive["Dimensions"], "5xx counts for the error-rate alarm"
    assert ["Service", "Route"] in directive["Dimensions"]
    assert not any("Method" in names for names in directive["Dimensions"]), "a property, not a metric"
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "Requests": "Count",
        "Latency": "Milliseconds",
    }


@pytest.mark.django_db(transaction=True)
def test_the_route_is_the_url_patterns_name_and_never_holds_a_manage_token(client, agent, demo_tx):
    created = book(client, demo_tx, 10)
    assert created.status_code == 201
    token = created.json()["manage_token"]

    assert client.get(f"/booking/{token}/").status_code == 200
    client.get(f"/booking/{token}/no-such-page/")  # unresolved: no pattern, so no name
    client.get(f"/api/v1/appointments/{created.json()['id']}?token={token}")

    events = agent.metric("Requests")
    routes = [e["Route"] for e in events]
    assert routes[:2] == ["api:book_appointment", "booking:manage"]
    assert routes[2] == "unmatched"
    assert [e["StatusClass"] for e in events[:3]] == ["2xx", "2xx", "4xx"]
    for event in events:
        assert token not in json.dumps(event)
        assert token[:20] not in json.dumps(event)
        assert re.fullmatch(ROUTE_SHAPE, event["Route"]), event["Route"]


@pytest.mark.django_db
def test_admin_pages_are_one_route_and_static_files_another(client, agent, admin_client):
    admin_client.get("/admin/")
    admin_client.get("/admin/booking/appointment/")
    client.get(f"{settings.STATIC_URL}no-such-file.css")

    routes = [e["Route"] for e in agent.metric("Requests")]
    assert routes == ["admin", "admin", "static"]


@pytest.mark.django_db
def test_an_unusual_method_is_other_so_clients_cannot_make_new_series(client, agent):
    client.generic("BREW", "/")
    (event,) = agent.metric("Requests")
    assert event["Method"] == "other"


@pytest.mark.django_db
def test_a_server_error_is_counted_as_5xx(client, agent, settings):
    settings.ROOT_URLCONF = "chairtime.ops.tests.broken_urls"
    client.raise_request_exception = False

    assert client.get("/broken/").status_code == 500

    (event,) = agent.metric("Requests")
    assert event["Route"] == "broken"
    assert event["StatusClass"] == "5xx"


# --- bookings ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_booking_counts_one_appointment_booked_once_committed(client, agent, demo_tx):
    assert book(client, demo_tx, 11).status_code == 201

    (event,) = agent.metric("AppointmentsBooked")
    assert event["AppointmentsBooked"] == 1
    assert event["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Service"]]


@pytest.mark.django_db(transaction=True)
def test_an_api_refusal_is_counted_by_its_booking_error_code(client, agent, demo_tx):
    assert book(client, demo_tx, 15, "first@example.com").status_code == 201
    taken = book(client, demo_tx, 15, "second@example.com")
    assert taken.status_code == 409
    missing = client.post(
        "/api/v1/appointments",
        {
            "service": 999999,
            "stylist": None,
            "start": demo_tx.local(demo_tx.next_working_day(min_days_ahead=3), 14).isoformat(),
            "customer": {"name": "A", "email": "a@example.com"},
        },
        content_type="application/json",
    )
    assert missing.status_code == 404
    invalid = client.post("/api/v1/appointments", {}, content_type="application/json")
    assert invalid.status_code == 422  # a malformed request, not a refusal

    refusals = agent.metric("BookingRefusals")
    assert [e["Code"] for e in refusals] == [taken.json()["code"], "service_not_found"]
    assert all(e["Route"] == "api:book_appointment" for e in refusals)
    assert ["Service", "Code"] in refusals[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert len(agent.metric("AppointmentsBooked", wait=0.1)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_page_refusal_is_counted_as_a_conflict(client, agent, demo_tx):
    created = book(client, demo_tx, 16)
    token = created.json()["manage_token"]
    # Cancelled once, the second cancellation is refused with the manage page and a 409.
    assert client.post(f"/booking/{token}/cancel/").status_code == 302
    assert client.post(f"/booking/{token}/cancel/").status_code == 409

    (refusal,) = agent.metric("BookingRefusals")
    assert refusal["Code"] == "conflict"
    assert refusal["Route"] == "booking:cancel"
    assert token not in json.dumps(refusal)


@pytest.mark.django_db
def test_a_lock_conflict_retry_is_counted_by_operation(agent):
    # What chairtime.booking.transactions.run_durable logs before it runs a
    # transaction the database aborted again.
    logging.getLogger("chairtime.booking").warning(
        "lock conflict, retrying", extra={"operation": "visit_book", "attempt": 1, "error": "deadlock"}
    )
    logging.getLogger("chairtime.booking").warning("something else")

    (event,) = agent.metric("LockConflicts")
    assert event["Operation"] == "visit_book"
    assert event["LockConflicts"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_booking_reports_how_long_it_waited_for_its_stylists_locks(client, agent, demo_tx):
    assert book(client, demo_tx, 10).status_code == 201

    waits = agent.metric("LockWait")
    # The haircut needs no resource: one lock, the stylists'.
    assert [event["Lock"] for event in waits] == ["stylists"]
    assert 0 <= waits[0]["LockWait"] < 60_000
    assert ["Service", "Lock"] in waits[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    (directive,) = waits[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": "LockWait", "Unit": "Milliseconds"}]


@pytest.mark.django_db(transaction=True)
def test_the_sweep_reports_the_messages_due_and_how_long_the_oldest_waited(client, agent, demo_tx):
    from chairtime.messages import outbox
    from chairtime.messages.models import Message

    assert book(client, demo_tx, 10, "first@example.com").status_code == 201
    assert book(client, demo_tx, 14, "second@example.com").status_code == 201
    confirmations = Message.objects.filter(kind=Message.Kind.VISIT_BOOKED, state=Message.State.PENDING)
    assert confirmations.count() == 2
    oldest = min(confirmations.values_list("next_attempt_at", flat=True))
    confirmations.filter(recipient="second@example.com").update(state=Message.State.SENT)

    outbox.sweep(now=oldest + timedelta(minutes=10))

    (event,) = agent.metric("MessagesDue")
    assert event["MessagesDue"] == 1  # the one sent is not waiting
    assert event["OldestDueMessageAge"] == pytest.approx(600, abs=1)
    assert event["Service"] == "messages"


@pytest.mark.django_db
def test_an_empty_queue_reports_zero_and_no_age(agent):
    from chairtime.messages import outbox

    outbox.report_queue(timezone.now())

    (event,) = agent.metric("MessagesDue")
    assert (event["MessagesDue"], event["OldestDueMessageAge"]) == (0, 0)


def test_the_lock_conflict_message_is_the_one_the_booking_transactions_write():
    from chairtime.booking import transactions
    from chairtime.ops.booking_metrics import LOCK_CONFLICT_MESSAGE

    assert f'"{LOCK_CONFLICT_MESSAGE}"' in Path(transactions.__file__).read_text()


# --- DynamoDB ---------------------------------------------------------------------------


@pytest.fixture
def dynamodb_without_table(settings, dynamodb_server) -> Iterator[None]:
    """The session's DynamoDB server (moto), asked for a table it does not have."""
    settings.ANNOUNCEMENTS_TABLE = f"no-such-table-{uuid.uuid4().hex[:12]}"  # resets the store
    yield
    announcements_store.reset_store()


def test_a_dynamodb_error_is_counted_by_operation_and_error_code(agent, dynamodb_without_table):
    with pytest.raises(AnnouncementStoreError):
        announcements_store.get_store().list_all()  # no table: ResourceNotFoundException

    (event,) = agent.metric("DynamoDBErrors")
    assert event["Operation"] == "query"
    assert event["ErrorCode"] == "ResourceNotFoundException"


def test_table_setup_errors_are_not_app_errors(agent, dynamodb_without_table):
    announcements_store.get_store().create_table()  # asks for the table first: not found
    assert agent.metric("DynamoDBErrors", wait=0.3) == []


# --- the setting and the sender ---------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["tcp://agent:25888", "udp://agent", "agent:25888", "udp://:25888", "udp://agent:port", "udp://a:1/x"],
)
def test_an_endpoint_that_is_not_udp_host_port_is_refused(value):
    with pytest.raises(ImproperlyConfigured):
        metrics.parse_endpoint(value)


def test_an_empty_endpoint_means_off_and_a_host_name_is_kept():
    assert metrics.parse_endpoint("") is None
    assert metrics.parse_endpoint("udp://cloudwatch-agent.amazon-cloudwatch:25888") == metrics.Endpoint(
        "cloudwatch-agent.amazon-cloudwatch", 25888
    )


@pytest.mark.django_db
def test_an_agent_that_cannot_be_found_loses_events_but_never_a_request(client, settings, caplog):
    settings.METRICS_EMF_ENDPOINT = "udp://no-such-agent.invalid:25888"
    caplog.set_level(logging.WARNING, logger="chairtime.ops.metrics")

    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 200

    warnings = [r for r in caplog.records if r.name == "chairtime.ops.metrics"]
    assert len(warnings) == 1, "one warning a minute, not one per request"
    assert warnings[0].getMessage() == "metrics not sent"


@pytest.mark.django_db
def test_after_a_failed_lookup_requests_do_not_wait_for_the_resolver_again(client, settings, monkeypatch):
    settings.METRICS_EMF_ENDPOINT = "udp://no-such-agent.invalid:25888"
    client.get("/")  # the failed lookup
    lookups = []
    real_getaddrinfo = socket.getaddrinfo

    def counting_getaddrinfo(*args, **kwargs):  # the real resolver, counted
        lookups.append(args[0])
        return real_getaddrinfo(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting_getaddrinfo)
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert "no-such-agent.invalid" not in lookups
