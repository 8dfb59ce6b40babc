from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings

from chairtime.booking.tests.fixtures import DemoSalon


def test_logs_are_json_lines_on_stdout():
    code = "import logging; logging.getLogger('chairtime.test').warning('hello', extra={'n': 3})"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=Path(settings.BASE_DIR),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["message"] == "hello"
    assert line["level"] == "WARNING"
    assert line["logger"] == "chairtime.test"
    assert line["n"] == 3
    assert "time" in line


@pytest.mark.django_db
def test_a_booking_and_its_cancellation_log_no_customer_contact_details(client, demo: DemoSalon, caplog):
    day = demo.next_working_day()
    email, phone = "private.person@example.org", "+1 555 867 5309"
    caplog.set_level(logging.DEBUG)

    created = client.post(
        "/api/v1/appointments",
        {
            "service": demo.haircut.pk,
            "stylist": None,
            "start": demo.local(day, 10).isoformat(),
            "customer": {"name": "Private Person", "email": email, "phone": phone},
        },
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    cancelled = client.post(f"/api/v1/appointments/{body['id']}/cancel?token={body['manage_token']}")
    assert cancelled.status_code == 200

    assert caplog.records, "the booking should have been logged"
    for record in caplog.records:
        logged = json.dumps(record.__dict__, default=str)
        assert email not in logged
        assert phone not in logged
        assert body["manage_token"] not in logged
    access = [r for r in caplog.records if r.name == "chairtime.access"]
    assert any(getattr(r, "path", None) == "/api/v1/appointments" for r in access)


def _record(**extra) -> logging.LogRecord:
    logger = logging.getLogger("chairtime.test")
    try:
        raise ValueError("the cause")
    except ValueError:
        exc_info = sys.exc_info()
    return logger.makeRecord(
        "chairtime.test", logging.WARNING, __file__, 1, "hello %s", ("there",), exc_info, extra=extra
    )


def test_it_writes_the_lines_python_json_logger_wrote_key_for_key():
    from pythonjsonlogger.json import JsonFormatter as PythonJsonLogger

    from chairtime.ops.logging import JsonFormatter

    before = PythonJsonLogger(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        timestamp=False,
    )
    for record in (
        _record(request_id="abc", path="/booking/<token>/", status=404, when=datetime(2027, 3, 1, 10, 10)),
        _record(n=3, _private="not logged"),
    ):
        assert JsonFormatter().format(record) == before.format(record)
        assert json.loads(JsonFormatter().format(record))["exc_info"].endswith("ValueError: the cause")


def test_it_writes_a_line_per_second_with_the_right_milliseconds():
    from chairtime.ops.logging import JsonFormatter

    formatter = JsonFormatter()
    times = []
    for created in (1_800_000_000.25, 1_800_000_000.999, 1_800_000_001.0):
        record = _record()
        record.created, record.msecs = created, (created - int(created)) * 1000
        times.append(json.loads(formatter.format(record))["time"])

    assert [t[-6:] for t in times] == ["00,250", "00,999", "01,000"]
    assert times[0][:-4] == times[1][:-4] != times[2][:-4]


@pytest.mark.django_db
def test_it_puts_the_request_id_on_the_requests_log_lines_and_no_others(client, capsys, caplog):
    caplog.set_level(logging.INFO)  # the suite runs at WARNING; the access log writes at INFO
    capsys.readouterr()

    echoed = client.get("/api/v1/services", HTTP_X_REQUEST_ID="abc123")
    generated = client.get("/api/v1/services")
    logging.getLogger("chairtime.test").warning("between requests")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    access = [line for line in lines if line["logger"] == "chairtime.access"]
    assert [line["request_id"] for line in access] == ["abc123", generated["X-Request-ID"]]
    assert echoed["X-Request-ID"] == "abc123"
    assert echoed["Access-Control-Expose-Headers"] == "X-Request-ID"
    assert lines[-1]["message"] == "between requests"
    assert lines[-1]["request_id"] is None
