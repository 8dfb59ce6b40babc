#!/usr/bin/env python3
"""`make e2e-k8s`: the operator command against a real Kubernetes cluster.

    .venv/bin/python deploy/k8s/e2e/scenario.py [--image localhost/chairtime:TAG] [--keep]

Starts the local cluster (deploy/k8s/e2e/cluster.py: a real API server, controller
manager, scheduler and kubelet with containerd), the backing services on the
machine (a fresh PostgreSQL database, Redis, a DynamoDB-compatible moto server), and
proves with `bin/chairtimectl` and the e2e overlay (deploy/k8s/e2e/overlay):

1. a good release deploys: migrations Job, rollout, every pod Ready from its own
   readiness probe; the app then answers /readyz and the availability API from a pod;
   the message worker's two pods are Ready (their heartbeat probe), and a booking made
   through a web pod has its confirmation delivered by the worker to an SMTP sink on
   the machine (aiosmtpd, forwarded into the cluster like the other services);
2. a second good release deploys (a new revision);
3. a release whose pods never become ready (the same image, but its web server asks
   PostgreSQL for TLS, which this server refuses: /readyz 503, /healthz 200) fails,
   is rolled back automatically (the web pods and the worker, whose own rollout had
   succeeded), the command exits 1 naming the pods and the failing
   probe, and the previous ReplicaSet keeps the very same pods, Ready, throughout;
4. `rollback --to-revision 1` brings back the first image;
5. with a bad release applied behind the command's back (`kubectl set image`),
   `diagnose` names the failing pods and the failing probe, points at the runbook,
   and `rollback` repairs it; `history` and `status` agree.

Prints each step with its duration and a summary, writes var/e2e/result.json, and
exits 1 on the first failed check. The image is the one `make image` built last
(var/images/last-build). The cluster is stopped at the end unless --keep.
"""

# Runs fixed programs (kubectl, podman, buildah, psql, chairtimectl) with our own
# arguments: S603 is the point of this script.
# ruff: noqa: S603

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "deploy"))

from chairtimectl.report import image_of, is_ready  # noqa: E402
from chairtimectl.smoke import checks  # noqa: E402

CLUSTER = [sys.executable, str(ROOT / "deploy/k8s/e2e/cluster.py")]
CTL = [str(ROOT / "bin/chairtimectl"), "--overlay", str(ROOT / "deploy/k8s/e2e/overlay")]
KUBECONFIG = ROOT / "var/k8s/kubeconfig"
KUBECTL = str(ROOT / "var/tools/bin/kubectl")
NAMESPACE = "chairtime-e2e"
DATABASE = "chairtime_e2e"  # the overlay's DATABASE_URL
MOTO_PORT = 4566  # the cluster's host gateway forwards 10.89.0.1:4566 here
SMTP_PORT = 2525  # the overlay's EMAIL_PORT; forwarded from 10.89.0.1 by `up --forward`
WEB = "app.kubernetes.io/name=chairtime,app.kubernetes.io/component=web"
WORKER = "app.kubernetes.io/name=chairtime,app.kubernetes.io/component=worker"
RESULT = ROOT / "var/e2e/result.json"


class Failed(Exception):
    pass


def check(condition: object, message: str) -> None:
    if not condition:
        raise Failed(message)
    print(f"    ok  {message}", flush=True)


def run(
    command: list[str], *, check_rc: bool = True, timeout: float = 900, **kwargs
) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECONFIG": str(KUBECONFIG), "KUBECTL": KUBECTL}
    done = subprocess.run(
        command, text=True, capture_output=True, env=env, timeout=timeout, check=False, **kwargs
    )
    if check_rc and done.returncode != 0:
        raise Failed(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def ctl(*args: str) -> subprocess.CompletedProcess:
    """chairtimectl, its output shown as it would be to an operator."""
    done = run([*CTL, *args], check_rc=False)
    print(
        "\n".join("      | " + line for line in (done.stdout + done.stderr).rstrip().splitlines()), flush=True
    )
    return done


def kubectl_json(*args: str) -> dict:
    return json.loads(run([KUBECTL, "-n", NAMESPACE, *args, "-o", "json"]).stdout)


def web_pods() -> list[dict]:
    return [
        p
        for p in kubectl_json("get", "pods", "-l", WEB)["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]


def worker_pods() -> list[dict]:
    return [
        p
        for p in kubectl_json("get", "pods", "-l", WORKER)["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]


class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self, port: int) -> None:
        from aiosmtpd.controller import Controller

        self.received: list[tuple[list[str], str]] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.received.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, recipient: str, seconds: float) -> str | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for recipients, content in self.received:
                if recipient in recipients:
                    return content
            time.sleep(1)
        return None


def book_one(base: str, email: str) -> dict:
    """A booking through the API of one web pod: the first free time of the first service."""
    import datetime as dt

    import requests

    service = requests.get(f"{base}/api/v1/services", timeout=10).json()[0]["id"]
    today = dt.datetime.now(dt.UTC).date()
    for days in range(2, 16):
        params = {"service": service, "date": (today + dt.timedelta(days=days)).isoformat()}
        slots = requests.get(f"{base}/api/v1/availability", params=params, timeout=10).json()["slots"]
        if slots:
            booking = {
                "service": service,
                "stylist": None,
                "start": slots[0],
                "customer": {"name": "E2E Worker", "email": email},
            }
            r = requests.post(f"{base}/api/v1/appointments", json=booking, timeout=10)
            if r.status_code != 201:
                raise Failed(f"POST /api/v1/appointments -> {r.status_code} {r.text[:300]}")
            return r.json()
    raise Failed("no free time in the next two weeks")


def deployment() -> dict:
    return kubectl_json("get", "deployment", "chairtime-web")


def replicaset_of(pod: dict) -> str:
    return pod["metadata"]["ownerReferences"][0]["name"]


# --- setting up -------------------------------------------------------------------------------


def release_images(image: str) -> dict[str, str]:
    """Three releases made from the built image: two good ones (the second is the
    same image under another tag, so that it is a new revision) and one whose web
    server never becomes ready."""
    repository, tag = image.rsplit(":", 1)
    second = f"{repository}:{tag}-second"
    unready = f"{repository}:{tag}-unready"
    run(["podman", "tag", image, second])
    with tempfile.TemporaryDirectory() as tmp:
        # The entrypoint of deploy/container/Dockerfile, plus an environment variable
        # for gunicorn's workers only: libpq then requires TLS, which the machine's
        # PostgreSQL does not offer. The migrations Job (its own command) still works;
        # the web pods start (/healthz 200) but /readyz answers 503 for ever.
        containerfile = Path(tmp) / "Containerfile"
        containerfile.write_text(
            f"FROM {image}\n"
            'ENTRYPOINT ["gunicorn", "--config", "deploy/container/gunicorn.conf.py", "--no-control-socket", '
            '"--env", "PGSSLMODE=require", "chairtime.wsgi:application"]\n'
        )
        run(
            [
                "buildah",
                "bud",
                "--pull=never",
                "--isolation=chroot",
                "-q",
                "-t",
                unready,
                "-f",
                str(containerfile),
                tmp,
            ]
        )
    return {"first": image, "second": second, "unready": unready}


def fresh_database() -> None:
    for sql in (f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", f"CREATE DATABASE {DATABASE}"):
        run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-q", "-c", sql])


def start_moto():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=MOTO_PORT, verbose=False)
    server.start()
    return server


def load_demo_salon() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "DEBUG": "true",
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{MOTO_PORT}",
        "AWS_ACCESS_KEY_ID": "e2e",
        "AWS_SECRET_ACCESS_KEY": "e2e",
        "AWS_REGION": "us-east-1",
        "ANNOUNCEMENTS_TABLE": "chairtime-e2e-announcements",
    }
    python = str(ROOT / ".venv/bin/python")
    for args in (["load_salon", "demo/salon.json"], ["create_announcements_table"]):
        done = subprocess.run(
            [python, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise Failed(f"manage.py {' '.join(args)}: {done.stderr[-2000:]}")


# --- the scenario ------------------------------------------------------------------------------


def scenario(images: dict[str, str], steps: dict[str, float], sink: SmtpSink) -> None:
    def step(name: str):
        print(f"\n=== {name}", flush=True)
        return name, time.monotonic()

    def done(started: tuple[str, float]) -> None:
        steps[started[0]] = round(time.monotonic() - started[1], 1)
        print(f"    ({steps[started[0]]} s)", flush=True)

    s = step("1. a good release deploys")
    result = ctl("deploy", "--image", images["first"], "--timeout", "240")
    check(result.returncode == 0, "chairtimectl deploy exits 0")
    check("migrations chairtime-migrate-" in result.stdout, "the release's migrations Job ran first")
    check(f"released {images['first']} as revision 1" in result.stdout, "it reports revision 1")
    pods = web_pods()
    check(len(pods) == 2 and all(is_ready(p) for p in pods), "2 web pods, each Ready from its own probe")
    load_demo_salon()
    seen = checks(f"http://{pods[0]['status']['podIP']}:8000")
    check(seen[2].endswith("slots)"), f"a pod answers /readyz and the availability API ({seen[2]})")
    workers = worker_pods()
    check(
        len(workers) == 2 and all(is_ready(p) for p in workers),
        "2 message worker pods, each Ready from its heartbeat probe",
    )
    check(
        all(image_of({"spec": {"template": p}}, "worker") == images["first"] for p in workers),
        "the workers run the release's image",
    )
    booked_at = time.monotonic()
    appointment = book_one(f"http://{pods[0]['status']['podIP']}:8000", "worker-e2e@example.org")
    mail = sink.wait_for("worker-e2e@example.org", 120)
    check(
        mail is not None and "Subject:" in mail,
        f"the booking's confirmation (appointment {appointment.get('id')}) reached the SMTP sink through "
        f"the worker in {time.monotonic() - booked_at:.1f} s",
    )
    done(s)

    s = step("2. a second good release deploys")
    result = ctl("deploy", "--image", images["second"], "--timeout", "240")
    check(result.returncode == 0, "chairtimectl deploy exits 0")
    check(image_of(deployment()) == images["second"], "the Deployment runs the second image")
    good_pods = {p["metadata"]["name"] for p in web_pods()}
    good_rs = {replicaset_of(p) for p in web_pods()}
    check(len(good_pods) == 2 and len(good_rs) == 1, f"2 pods of one ReplicaSet {good_rs}")
    done(s)

    s = step("3. a release that never becomes ready is rolled back automatically")
    result = ctl("deploy", "--image", images["unready"], "--timeout", "45")
    output = result.stdout + result.stderr
    check(result.returncode == 1, "chairtimectl deploy exits 1")
    check("Readiness probe failed" in output, "the reason names the failing readiness probe")
    check("chairtime-web-" in output.split("RELEASE FAILED:")[-1], "the reason names the failing pods")
    check("rolled back: chairtime-web revision" in output, "it rolled back by itself")
    check(
        "rolling back chairtime-worker" in output and "rolled back: chairtime-worker revision" in output,
        "the worker, whose pods were fine, was rolled back with it",
    )
    check(
        all(image_of({"spec": {"template": p}}, "worker") == images["second"] for p in worker_pods()),
        "the workers run the second image again",
    )
    check(image_of(deployment()) == images["second"], "the Deployment runs the second image again")
    after = web_pods()
    check(
        {p["metadata"]["name"] for p in after} == good_pods and all(is_ready(p) for p in after),
        "the previous ReplicaSet kept the very same pods, all Ready",
    )
    done(s)

    s = step("4. rollback --to-revision 1 restores the first image")
    result = ctl("rollback", "--to-revision", "1", "--timeout", "240")
    check(result.returncode == 0, "chairtimectl rollback exits 0")
    check(image_of(deployment()) == images["first"], "the Deployment runs the first image")
    pods = web_pods()
    check(len(pods) == 2 and all(is_ready(p) for p in pods), "2 Ready pods")
    check(
        all(image_of({"spec": {"template": p}}) == images["first"] for p in pods), "both run the first image"
    )
    done(s)

    s = step("5. diagnose names what is failing; rollback repairs it")
    run([KUBECTL, "-n", NAMESPACE, "set", "image", "deployment/chairtime-web", f"web={images['unready']}"])
    failing: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not failing:
        time.sleep(2)
        # Unready pods of the bad image that have failed their probe at least twice.
        events = kubectl_json("get", "events")["items"]
        probed = {e["involvedObject"]["name"] for e in events if e.get("reason") == "Unhealthy"}
        failing = {
            p["metadata"]["name"]
            for p in web_pods()
            if image_of({"spec": {"template": p}}) == images["unready"]
            and not is_ready(p)
            and p["metadata"]["name"] in probed
        }
    check(failing, f"the bad release's pods fail their readiness probe: {sorted(failing)}")
    result = ctl("diagnose")
    report = result.stdout
    check(result.returncode == 1, "diagnose exits 1")
    check(all(name in report for name in failing), "diagnose names every failing pod")
    check("Readiness probe failed: HTTP probe failed with statuscode: 503" in report, "and the failing probe")
    check('"Failing readiness"' in report, "and points at the runbook section")
    history = ctl("history")
    check(history.returncode == 0 and images["unready"] in history.stdout, "history lists the bad revision")
    result = ctl("rollback", "--timeout", "240")
    check(result.returncode == 0, "rollback exits 0")
    status = ctl("status")
    check(status.returncode == 0 and images["first"] in status.stdout, "status: healthy, on the first image")
    done(s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", help="default: the last `make image` (var/images/last-build)")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running at the end")
    args = parser.parse_args()
    last = ROOT / "var/images/last-build"
    image = args.image or (last.read_text().strip() if last.exists() else "")
    if not image:
        parser.error("no image: run `make image` first, or pass --image")

    started = time.monotonic()
    steps: dict[str, float] = {}
    moto = None
    sink = None
    ok = False
    try:
        t = time.monotonic()
        run(["scripts/k8s-tools"], cwd=ROOT)
        run([*CLUSTER, "build"], timeout=3600)
        steps["build (cached after the first run)"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        run([*CLUSTER, "up", "--forward", str(SMTP_PORT)], timeout=600)
        steps["cluster up"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        images = release_images(image)
        run([*CLUSTER, "load-image", *images.values()], timeout=600)
        steps["release images made and loaded"] = round(time.monotonic() - t, 1)
        fresh_database()
        moto = start_moto()
        sink = SmtpSink(SMTP_PORT)
        sink.start()
        run([KUBECTL, "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true"], timeout=300)
        scenario(images, steps, sink)
        ok = True
    except Failed as failure:
        print(f"\nFAILED: {failure}", file=sys.stderr)
        print(ctl("diagnose").stdout if KUBECONFIG.exists() else "", file=sys.stderr)
    finally:
        if moto is not None:
            moto.stop()
        if sink is not None:
            sink.stop()
        if not args.keep:
            run([*CLUSTER, "down"], check_rc=False, timeout=300)
    total = round(time.monotonic() - started, 1)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({"passed": ok, "image": image, "seconds": total, "steps": steps}, indent=2))
    print("\n=== e2e-k8s " + ("passed" if ok else "FAILED") + f" in {total} s")
    for name, seconds in steps.items():
        print(f"    {seconds:7.1f} s  {name}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
