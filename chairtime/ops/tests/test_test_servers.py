"""The suite's own gunicorn helper (chairtime/testing/servers.py) survives a port
taken between finding it free and binding it."""

from __future__ import annotations

import socket

import requests

from chairtime.testing import servers
from chairtime.testing.proxy import free_port


def test_a_port_taken_before_gunicorn_binds_it_is_replaced_by_another(monkeypatch, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    ports = iter([taken.getsockname()[1], free_port()])
    monkeypatch.setattr(servers, "free_port", lambda: next(ports))
    try:
        database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
        with servers.gunicorn(database_url=database, workers=1, threads=1) as server:
            assert server.url != f"http://127.0.0.1:{taken.getsockname()[1]}"
            assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    finally:
        taken.close()
