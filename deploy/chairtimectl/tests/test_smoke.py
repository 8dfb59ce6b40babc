"""The deploy's smoke test: against the real app on a live server, and its way to the
load balancer (the Ingress's status, the Host header, TLS for the public name)
against recorded objects and stub servers."""

from __future__ import annotations

import copy
import http.server
import json
import re
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from chairtimectl import smoke as smoke_module
from chairtimectl.smoke import SmokeFailed, Target, checks, ingress_address, ingress_host, smoke, target

RECORDED = Path(__file__).parent / "recorded"
ALB_NAME = "k8s-chairtim-chairtim-4f1a2b3c4d-1234567890.us-east-1.elb.amazonaws.com"


def recorded_ingress() -> dict:
    """The staging Ingress once the AWS Load Balancer Controller made its ALB."""
    return json.loads((RECORDED / "ingress-alb.json").read_text())


# --- against the app ---------------------------------------------------------------------------


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


def test_it_accepts_an_empty_catalogue_on_a_first_release_only(live_server, transactional_db):
    assert checks(live_server.url, first_release=True) == [
        "GET /readyz 200",
        "GET /api/v1/services 200 (0 services: a first release, the salon is not loaded yet)",
    ]


def test_it_gives_up_at_its_deadline_with_the_last_error():
    said = []
    with pytest.raises(SmokeFailed, match=r"failed for 0 s: .*(refused|Errno)"):
        smoke("http://127.0.0.1:9", None, 0, said.append)
    assert said == ["smoke: through http://127.0.0.1:9"]


# --- the Ingress's status ----------------------------------------------------------------------


def test_it_reads_the_albs_name_and_the_public_host_from_the_recorded_ingress():
    ingress = recorded_ingress()
    assert ingress_address(ingress) == ALB_NAME
    assert ingress_host(ingress) == "staging.chairtime.example"
    assert target("https://{ingress}", ingress) == Target(f"https://{ALB_NAME}", "staging.chairtime.example")


def test_it_has_no_target_while_the_controller_has_published_no_address():
    fresh = recorded_ingress()
    del fresh["status"]
    assert ingress_address(fresh) is None
    assert target("https://{ingress}", fresh) is None
    fresh["status"] = {"loadBalancer": {}}
    assert target("https://{ingress}", fresh) is None
    fresh["status"] = {"loadBalancer": {"ingress": [{}]}}
    assert target("https://{ingress}", fresh) is None
    assert target("https://{ingress}", None) is None


def test_it_takes_an_ip_when_the_controller_publishes_one():
    ingress = recorded_ingress()
    ingress["status"]["loadBalancer"]["ingress"] = [{"ip": "127.0.0.1"}]
    assert target("http://{ingress}:8080", ingress) == Target(
        "http://127.0.0.1:8080", "staging.chairtime.example"
    )


def test_a_given_host_wins_and_a_plain_url_is_used_as_it_is():
    ingress = recorded_ingress()
    assert target("https://{ingress}", ingress, "other.example").host == "other.example"
    assert target("https://staging.chairtime.example", ingress) == Target("https://staging.chairtime.example")
    assert target("https://staging.chairtime.example", None) == Target("https://staging.chairtime.example")


# --- the requests: Host header, JSON, TLS for the public name ---------------------------------


class Alb:
    """A stub load balancer with one host rule: the app's answers for that Host, 404
    for any other (an ALB's default action). Records the Host of every request."""

    def __init__(
        self, host: str, services: list, *, content_type: str = "application/json", tls=None
    ) -> None:
        self.host, self.services, self.content_type, self.hosts = host, services, content_type, []
        alb = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                alb.hosts.append(self.headers["Host"])
                if self.headers["Host"] != alb.host:
                    return self._send(404, b"no rule for this host", "text/plain")
                if self.path == "/readyz":
                    return self._send(200, b"ok", "text/plain")
                if self.path == "/api/v1/services":
                    return self._send(200, json.dumps(alb.services).encode(), alb.content_type)
                if self.path.startswith("/api/v1/availability?service=7&date="):
                    return self._send(200, b'{"slots": ["09:00", "09:30"]}', alb.content_type)
                return self._send(404, b"not found", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def alb():
    made = []

    def make(*args, **kwargs) -> Alb:
        made.append(Alb(*args, **kwargs))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_it_asks_the_albs_address_for_the_public_host(alb):
    stub = alb("staging.chairtime.example", [{"id": 7, "name": "Cut"}])
    ingress = recorded_ingress()
    ingress["status"]["loadBalancer"]["ingress"] = [{"ip": "127.0.0.1"}]
    where = target(f"http://{{ingress}}:{stub.port}", ingress)
    seen = checks(where.url, where.host)
    assert seen[:2] == ["GET /readyz 200", "GET /api/v1/services 200 (1 services)"]
    assert re.fullmatch(r"GET /api/v1/availability\?service=7&date=[\d-]+ 200 \(2 slots\)", seen[2])
    assert set(stub.hosts) == {"staging.chairtime.example"}


def test_without_the_host_header_the_alb_has_no_rule_and_it_fails(alb):
    stub = alb("staging.chairtime.example", [])
    with pytest.raises(SmokeFailed, match="GET /readyz answered 404"):
        checks(f"http://127.0.0.1:{stub.port}", first_release=True)
    assert stub.hosts == [f"127.0.0.1:{stub.port}"]


def test_the_api_must_answer_json(alb):
    stub = alb("salon.test", [], content_type="text/html")
    with pytest.raises(SmokeFailed, match="answered text/html, not JSON"):
        checks(f"http://127.0.0.1:{stub.port}", "salon.test", first_release=True)


def test_an_empty_catalogue_fails_after_the_first_release(alb):
    stub = alb("salon.test", [])
    with pytest.raises(SmokeFailed, match="the salon offers no service"):
        checks(f"http://127.0.0.1:{stub.port}", "salon.test")
    assert checks(f"http://127.0.0.1:{stub.port}", "salon.test", first_release=True)[1].endswith(
        "(0 services: a first release, the salon is not loaded yet)"
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for the public host only (as the ALB's ACM one)."""
    where = tmp_path_factory.mktemp("tls")
    subprocess.run(  # noqa: S603
        [  # noqa: S607
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(where / "key.pem"), "-out", str(where / "cert.pem"),
            "-subj", "/CN=staging.chairtime.example",
            "-addext", "subjectAltName=DNS:staging.chairtime.example",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return where


def test_over_https_the_tls_name_and_certificate_check_are_the_public_hosts(alb, certificate, monkeypatch):
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    names = []
    server_side.sni_callback = lambda sock, name, ctx: names.append(name)
    stub = alb("staging.chairtime.example", [], tls=server_side)
    monkeypatch.setattr(
        smoke_module, "tls_context", lambda: ssl.create_default_context(cafile=certificate / "cert.pem")
    )
    ingress = copy.deepcopy(recorded_ingress())
    ingress["status"]["loadBalancer"]["ingress"] = [{"hostname": "localhost"}]
    where = target(f"https://{{ingress}}:{stub.port}", ingress)
    assert where == Target(f"https://localhost:{stub.port}", "staging.chairtime.example")
    assert checks(where.url, where.host, first_release=True)[0] == "GET /readyz 200"
    assert set(names) == {"staging.chairtime.example"}
    assert set(stub.hosts) == {"staging.chairtime.example"}


def test_over_https_a_certificate_for_another_name_is_refused(alb, certificate, monkeypatch):
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    stub = alb("book.chairtime.example", [], tls=server_side)
    monkeypatch.setattr(
        smoke_module, "tls_context", lambda: ssl.create_default_context(cafile=certificate / "cert.pem")
    )
    with pytest.raises(ssl.SSLCertVerificationError, match=r"book\.chairtime\.example"):
        checks(f"https://127.0.0.1:{stub.port}", "book.chairtime.example", first_release=True)


def test_it_waits_for_the_ingress_address_then_passes(alb):
    stub = alb("staging.chairtime.example", [])
    ingress = recorded_ingress()
    published = [None, None, {"ip": "127.0.0.1"}]
    said = []

    def find():
        entry = published.pop(0) if len(published) > 1 else published[0]
        ingress["status"]["loadBalancer"]["ingress"] = [entry] if entry else []
        return target(f"http://{{ingress}}:{stub.port}", ingress)

    smoke_module_sleep = smoke_module.time.sleep
    try:
        smoke_module.time.sleep = lambda s: None
        smoke(find, None, 30, said.append, first_release=True)
    finally:
        smoke_module.time.sleep = smoke_module_sleep
    assert said[0] == f"smoke: through http://127.0.0.1:{stub.port} (Host: staging.chairtime.example)"
    assert said[1:] == [
        "smoke: GET /readyz 200",
        "smoke: GET /api/v1/services 200 (0 services: a first release, the salon is not loaded yet)",
    ]


# --- the deploy's use of it (chairtimectl deploy --smoke-url) ----------------------------------


class FakeKube:
    def __init__(self, revision: int, ingress: dict) -> None:
        self.objects = {
            "deployment": {"metadata": {"annotations": {"deployment.kubernetes.io/revision": str(revision)}}},
            "ingress": ingress,
        }

    def get(self, kind: str, name: str | None = None) -> dict | None:
        return self.objects.get(kind)


def deploy_smoke(kube: FakeKube, smoke_url: str) -> list[str]:
    from chairtimectl import cli

    said = []
    console = cli.Console()
    console.say = said.append
    args = cli.parser().parse_args(
        ["deploy", "--image", "r:t", "--smoke-url", smoke_url, "--smoke-timeout", "0"]
    )
    objects = [{"kind": "Ingress", "metadata": {"name": "chairtime"}}]
    cli.run_smoke(kube, args, objects, console)
    return said


def test_the_deploy_smokes_a_first_release_through_the_ingress_and_accepts_no_salon_yet(alb):
    stub = alb("staging.chairtime.example", [])
    ingress = recorded_ingress()
    ingress["status"]["loadBalancer"]["ingress"] = [{"ip": "127.0.0.1"}]
    said = deploy_smoke(FakeKube(1, ingress), f"http://{{ingress}}:{stub.port}")
    assert said[0].endswith("(first release: an empty catalogue passes)")
    assert said[1] == f"smoke: through http://127.0.0.1:{stub.port} (Host: staging.chairtime.example)"


def test_the_deploy_demands_a_salon_from_the_second_revision_on(alb):
    from chairtimectl import cli

    stub = alb("staging.chairtime.example", [])
    ingress = recorded_ingress()
    ingress["status"]["loadBalancer"]["ingress"] = [{"ip": "127.0.0.1"}]
    with pytest.raises(cli.Failed, match="the salon offers no service"):
        deploy_smoke(FakeKube(2, ingress), f"http://{{ingress}}:{stub.port}")


def test_the_deploy_fails_when_the_ingress_never_gets_an_address():
    from chairtimectl import cli

    fresh = recorded_ingress()
    del fresh["status"]
    with pytest.raises(cli.Failed, match="the Ingress has no load balancer address yet"):
        deploy_smoke(FakeKube(1, fresh), "https://{ingress}")
