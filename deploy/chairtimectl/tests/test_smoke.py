"""The deploy's smoke test against the real app on a live server."""

from __future__ import annotations

import re

import pytest

from chairtimectl.smoke import SmokeFailed, checks, smoke


def test_it_passes_against_a_configured_salon(live_server, demo_tx):
    seen = checks(live_server.url)
    assert seen[0] == "GET /readyz 200"
    assert seen[1] == "GET /api/v1/services 200 (2 services)"
    first = min((demo_tx.colour, demo_tx.haircut), key=lambda s: s.name)  # the API lists by name
    expected = rf"GET /api/v1/availability\?service={first.pk}&date=[\d-]+ 200 \(\d+ slots\)"
    assert re.fullmatch(expected, seen[2])


def test_it_fails_with_the_reason_when_the_salon_has_no_service(live_server, transactional_db):
    with pytest.raises(SmokeFailed, match="the salon offers no service"):
        checks(live_server.url)


def test_it_gives_up_at_its_deadline_with_the_last_error():
    said = []
    with pytest.raises(SmokeFailed, match=r"failed for 0 s: .*(refused|Errno)"):
        smoke("http://127.0.0.1:9", None, 0, said.append)
    assert said == []
