"""The desk calendar's server time for a busy day, in each language (`make bench-calendar`).

A day of 10 stylists with 70 appointments (a full day each), rendered in process with
Django's test client (the whole middleware stack), against the database of
DATABASE_URL (SQLite by default), as the front desk. Prints the queries and the
median and fastest of --requests renders per language; asserts nothing about time
(docs/performance.md: timings are measured, never asserted). It runs through pytest
for the suite's fixtures (the demo salon, the desk's accounts, the frozen clock):

    CALENDAR_REQUESTS=30 .venv/bin/pytest -q -s bench/calendar_day.py
"""

from __future__ import annotations

import os
import statistics
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chairtime.frontdesk.tests.conftest import DAY, clock, desk  # noqa: F401 (fixtures)
from chairtime.frontdesk.tests.test_calendar import DAY_URL, busy_salon

REQUESTS = int(os.environ.get("CALENDAR_REQUESTS", "30"))


@pytest.mark.django_db
def test_a_busy_day_per_language(desk, demo):  # noqa: F811
    busy_salon(demo, 10, 7)
    url = f"{DAY_URL}?date={DAY}"
    client = desk.front
    print(f"\ncalendar day view, 10 stylists, 70 appointments, {connection.vendor}, {REQUESTS} requests each")
    for language, _ in settings.LANGUAGES:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        response = client.get(url)  # warm: the salon's cached row, the templates
        assert response.status_code == 200  # noqa: S101 (a broken page is no measurement)
        assert response.content.decode().count("blk--appointment") == 70  # noqa: S101
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        counted = [q for q in queries if "django_session" not in q["sql"]]
        times = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        print(
            f"  {language}: {len(counted)} queries, median {statistics.median(times):.1f} ms, "
            f"fastest {min(times):.1f} ms, load average {os.getloadavg()[0]:.1f}"
        )
