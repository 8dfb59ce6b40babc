from __future__ import annotations

import json
import logging
import subprocess
import sys
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
