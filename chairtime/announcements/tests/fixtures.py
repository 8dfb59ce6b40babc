"""pytest fixtures: a real DynamoDB wire-protocol server (moto) on loopback.

Loaded for the whole suite by ``pytest_plugins`` in the root conftest.py. The
session fixture is autouse, so every test in the project (booking pages too)
talks to this local server through boto3's ordinary endpoint resolution and
never to real AWS. Nothing here patches or mocks the boto3 client.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError
from django.core.cache import cache
from moto.server import ThreadedMotoServer

from chairtime.announcements import store as announcements_store

# Anything that could send boto3 elsewhere than the local server, or make it read
# a developer's real credentials or endpoints.
_AWS_ENV_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@pytest.fixture(scope="session", autouse=True)
def dynamodb_server(django_test_environment: None) -> Iterator[str]:
    """Start moto's DynamoDB once per session and point boto3 at it; yields the endpoint.

    Also creates the default ANNOUNCEMENTS_TABLE, empty, so that pages rendered by
    any test find a working table and show no announcements.
    """
    # moto serves through werkzeug, which logs every request at INFO: one line per
    # DynamoDB call in every failing test's output.
    werkzeug_logger = logging.getLogger("werkzeug")
    werkzeug_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for name in _AWS_ENV_TO_CLEAR:
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        announcements_store.reset_store()
        try:
            announcements_store.get_store().create_table()
            yield endpoint
        finally:
            announcements_store.reset_store()
            server.stop()
            werkzeug_logger.setLevel(werkzeug_level)


@pytest.fixture
def announcement_store(settings, dynamodb_server: str) -> Iterator[announcements_store.AnnouncementStore]:
    """The process store, bound to a fresh empty table of its own, with an empty cache."""
    settings.ANNOUNCEMENTS_TABLE = f"test-announcements-{uuid.uuid4().hex[:12]}"
    # Changing the setting resets the store (setting_changed); explicit for clarity.
    announcements_store.reset_store()
    cache.clear()
    store = announcements_store.get_store()
    store.create_table()
    yield store
    cache.clear()
    announcements_store.reset_store()
    with contextlib.suppress(ClientError):
        store.client.delete_table(TableName=store.table_name)


def record_requests(client) -> list[str]:
    """Names of the DynamoDB operations this client sends from now on (one per call).

    A botocore event hook, so it observes the real client; nothing is replaced.
    """
    operations: list[str] = []

    def record(model, **kwargs) -> None:
        operations.append(model.name)

    client.meta.events.register("before-call.dynamodb", record)
    return operations


def record_attempts(client) -> list[str]:
    """The X-Amz-Target of every HTTP attempt (retries included) this client makes from now on."""
    attempts: list[str] = []

    def record(request, **kwargs) -> None:
        attempts.append(request.headers.get("X-Amz-Target", b"").decode())

    client.meta.events.register("before-send.dynamodb", record)
    return attempts


@pytest.fixture
def dynamodb_requests(announcement_store: announcements_store.AnnouncementStore) -> list[str]:
    """The operations ``announcement_store`` sends during the test (after its table was made)."""
    return record_requests(announcement_store.client)


@contextlib.contextmanager
def _boto3_pointed_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> Iterator[str]:
    """Send the store's DynamoDB calls to ``endpoint``, with a fresh client and cache."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
    announcements_store.reset_store()
    cache.clear()
    try:
        yield endpoint
    finally:
        announcements_store.reset_store()
        cache.clear()


@pytest.fixture
def refused_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point boto3 at a loopback port that refuses connections (bound, never listening)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        with _boto3_pointed_at(monkeypatch, f"http://127.0.0.1:{sock.getsockname()[1]}") as endpoint:
            yield endpoint


@pytest.fixture
def hanging_endpoint(monkeypatch: pytest.MonkeyPatch, settings) -> Iterator[str]:
    """Point boto3 at a loopback port that accepts connections and never answers.

    The kernel completes the handshake into the listen backlog, so only the read
    timeout can end a request. It is shortened here to keep the test quick.
    """
    settings.DYNAMODB_READ_TIMEOUT = 0.3
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        with _boto3_pointed_at(monkeypatch, f"http://127.0.0.1:{sock.getsockname()[1]}") as endpoint:
            yield endpoint
