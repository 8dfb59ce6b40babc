"""schemathesis against the API's own OpenAPI document (/api/v1/openapi.json).

The document is fetched from the application, and schemathesis generates
requests from it, valid ones and deliberately invalid ones, and sends them
through the WSGI application, with the demo salon in the database. Every answer
must be no 5xx, have a status the document lists for the operation, the content
type it promises, and a body that matches the schema given for that status.

Derandomized: a failure found once is found again on the next run.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 60


MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def label(operation) -> str:
    return f"{operation.method.upper()} {operation.path}"


def fuzz(operation, mode: GenerationMode, seen: Counter) -> None:
    """Send MAX_EXAMPLES generated requests to one operation; count the statuses seen."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def exchange(case):
        response = case.call_and_validate(checks=CHECKS)
        seen[response.status_code] += 1

    exchange()


@pytest.fixture
def wsgi_app():
    """The project's WSGI handler, kept from closing the test's database connection
    after each request (what Django's test client does too): the test's data lives
    in that connection's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_the_api_answers_every_generated_request_as_its_document_says(demo, wsgi_app):
    # Fetched from the application itself, through the WSGI handler, like any client would.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {label(op) for op in operations} >= {
        "GET /api/v1/services",
        "GET /api/v1/stylists",
        "GET /api/v1/availability",
        "POST /api/v1/appointments",
        "GET /api/v1/appointments/{appointment_id}",
        "POST /api/v1/appointments/{appointment_id}/cancel",
    }
    failures: list[str] = []
    statuses: dict[str, Counter] = defaultdict(Counter)
    for operation in operations:
        for mode in MODES:
            try:
                fuzz(operation, mode, statuses[label(operation)])
            except Unsatisfiable:
                # GET /services has no input at all: there is nothing to make invalid.
                assert mode is GenerationMode.NEGATIVE and not operation.query and not operation.body
            except Exception as e:  # every operation is tried; all failures are reported together
                failures.append(f"{label(operation)} ({mode.value}):\n{e}")
    assert not failures, "\n\n".join(failures)
    # Not vacuous: every operation was exercised, and generated bookings were both
    # refused as malformed and got past validation to the booking rules.
    assert set(statuses) == {label(op) for op in operations}
    assert statuses["GET /api/v1/services"][200] > 0
    assert statuses["POST /api/v1/appointments"][422] > 0
    assert statuses["POST /api/v1/appointments"][404] + statuses["POST /api/v1/appointments"][409] > 0
