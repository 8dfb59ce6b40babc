from __future__ import annotations

import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper


@pytest.mark.django_db
def test_it_answers_liveness_whatever_the_host(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.0.3.17:8080")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_it_is_ready_when_the_database_answers(client):
    response = client.get("/readyz", HTTP_HOST="10.0.3.17")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["dynamodb"]["status"] in ("ok", "error")  # reported, never decisive


@pytest.mark.django_db
def test_it_is_not_ready_when_the_database_is_down_but_stays_alive(client, monkeypatch):
    # Stands in for a stopped database server: every new cursor fails the way a
    # refused connection does. (The fault tests of a later issue stop it for real.)
    def refuse(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)

    ready = client.get("/readyz")
    alive = client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json()["database"] == {"status": "error", "detail": "OperationalError"}
    assert alive.status_code == 200


@pytest.mark.django_db
def test_readiness_does_not_depend_on_dynamodb(client, settings):
    settings.ANNOUNCEMENTS_TABLE = "no-such-table"

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["dynamodb"]["status"] == "error"


@pytest.mark.django_db
def test_probes_only_answer_reads(client):
    assert client.post("/healthz").status_code == 404


@pytest.mark.django_db
def test_it_tags_each_response_with_a_request_id(client):
    generated = client.get("/api/v1/services")
    echoed = client.get("/api/v1/services", HTTP_X_REQUEST_ID="abc123")

    assert len(generated["X-Request-ID"]) == 32
    assert echoed["X-Request-ID"] == "abc123"


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["x" * 129, "a b", "<script>", "caf\u00e9", ""])
def test_it_replaces_a_request_id_it_would_not_echo(client, given):
    # Echoed in a header and written into every log line: only short plain ids.
    response = client.get("/api/v1/services", HTTP_X_REQUEST_ID=given)

    assert response["X-Request-ID"] != given
    assert len(response["X-Request-ID"]) == 32
