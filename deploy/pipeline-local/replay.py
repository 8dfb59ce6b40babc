#!/usr/bin/env python3
"""`make pipeline-local`: the release pipeline's buildspecs, replayed on this machine.

    .venv/bin/python deploy/pipeline-local/replay.py [--worktree] [--full] [--no-stage-rollback] [--keep]

The pipeline (deploy/aws/chairtime_aws/pipeline.py) is Source -> Test -> Image ->
DeployStaging -> (approval) -> DeployProd, each build stage a CodeBuild project running
one of deploy/buildspecs/*.yml. This runs the first four in that order, the buildspecs
unchanged, with deploy/pipeline-local/runner.py, against stand-ins for what needs an
AWS account (docs/pipeline-local.md):

- AWS APIs: a moto server on 127.0.0.1:4566 (AWS_ENDPOINT_URL for every build): ECR
  (the repository `chairtime`, immutable tags, scan on push), EKS (the cluster
  `chairtime-staging`, whose endpoint and CA are the local cluster's), STS; the app's
  DynamoDB on the same server (the e2e overlay's AWS_ENDPOINT_URL_DYNAMODB);
- ECR's registry: Debian's docker-registry on 127.0.0.1:80, requiring ECR's
  credentials; each pushed manifest is reported (registry notifications) to this
  process, which records it in moto's ECR (PutImage with the same digest);
- EKS: the local Kubernetes 1.20 cluster (deploy/k8s/e2e/cluster.py); its node pulls
  the pushed image from the registry by digest with the registry's credentials (as an
  EKS node pulls from ECR with its role); DeployStaging uses the e2e overlay;
- the ALB: a reverse proxy on 127.0.0.1 to the Ready endpoints of Service
  chairtime-web (an IP target group), which, as the controller does, publishes its
  address in the Ingress's status and routes the Ingress rule's host only; the deploy's
  SMOKE_URL is http://{ingress}:<port> (https://{ingress} in the pipeline).

Run 1 releases the commit (HEAD, or with --worktree the working tree as a throwaway
commit) as staging's first release, from an empty database and with no DNS: every
stage must pass, the smoke test with an empty catalogue; then the salon is loaded into
the release as docs/aws.md says (kubectl exec ... load_salon -). Run 2 releases a
broken commit (run 1's tree with the image's ENTRYPOINT asking PostgreSQL for TLS,
which it refuses: the web pods never become Ready) through the real Image stage:
DeployStaging must fail, chairtimectl must roll it back, and run 1's release must keep
serving. Run 2 skips the Test stage (the same tests ran in run 1 on the same code; the
change is to the Dockerfile, which no test reads) unless --full. Then, as the
pipeline's DeployStaging has `on_failure: ROLLBACK`, CodePipeline's stage rollback is
replayed: DeployStaging again with run 1's source and image (--no-stage-rollback
leaves it out).

Prints every build's log and a summary with durations; writes
var/pipeline-local/result.json; exits 1 if any expectation fails. The cluster is
stopped at the end (unless --keep), moto and the registry always.
"""

# Runs fixed programs (git, kubectl, psql, docker-registry, cluster.py) with our
# own arguments: S603/S607 are the point of this script.
# ruff: noqa: S603, S607

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import http.server
import itertools
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "deploy"))

from chairtimectl.report import image_of, is_ready  # noqa: E402
from chairtimectl.smoke import SmokeFailed, checks  # noqa: E402
from runner import BuildResult, codebuild_environment, run_build  # noqa: E402

VAR = ROOT / "var/pipeline-local"
RESULT = VAR / "result.json"
CLUSTER = [sys.executable, str(ROOT / "deploy/k8s/e2e/cluster.py")]
CLUSTER_KUBECONFIG = ROOT / "var/k8s/kubeconfig"
# The node's credentials for the registry, read by its kubelet (--root-dir).
NODE_DOCKER_CONFIG = ROOT / "var/k8s/run/kubelet/config.json"
KUBECTL = str(ROOT / "var/tools/bin/kubectl")
PYTHON = str(ROOT / ".venv/bin/python")

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
MOTO_PORT = 4566  # the e2e overlay's DynamoDB endpoint (via the cluster's host gateway)
AWS_ENDPOINT = f"http://127.0.0.1:{MOTO_PORT}"
# Port 80: an ECR repository URI has no port, and the overlays name the migrations Job
# after the text between the reference's first and second ':' (docs/pipeline-local.md).
REGISTRY = "127.0.0.1"
REPOSITORY = "chairtime"
NAMESPACE = "chairtime-e2e"
DATABASE = "chairtime_e2e"  # the e2e overlay's DATABASE_URL
ANNOUNCEMENTS_TABLE = "chairtime-e2e-announcements"
FAKE_KEY = "pipeline-local"  # moto takes any access key; boto3 wants one

# The pipeline, as deploy/aws/chairtime_aws/pipeline.py defines it (test_replay.py
# checks the two agree): stage, CodeBuild project, buildspec, timeout (minutes).
TEST = ("Test", "chairtime-test", "deploy/buildspecs/test.yml", 45)
IMAGE = ("Image", "chairtime-image", "deploy/buildspecs/image.yml", 30)
DEPLOY_STAGING = ("DeployStaging", "chairtime-deploy-staging", "deploy/buildspecs/deploy.yml", 30)
STAGING_CLUSTER = "chairtime-staging"
# The part of the system environment a build sees (CodeBuild's image has its own).
SYSTEM_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "USER",
    "LOGNAME",
    "SHELL",
    "TZ",
    "PYENV_ROOT",
    "PYENV_VERSION",
)

# Run 2's change: the image's web server asks PostgreSQL for TLS, which the machine's
# server refuses, so /readyz answers 503 for ever (/healthz 200), as scenario.py's
# "-unready" image; here it is a commit, built by the Image stage.
DOCKERFILE = "deploy/container/Dockerfile"
ENTRYPOINT_GOOD = '"--no-control-socket", \\\n'
ENTRYPOINT_BROKEN = '"--no-control-socket", "--env", "PGSSLMODE=require", \\\n'


class Failed(Exception):
    """The replay cannot go on (a stand-in did not start, a stage failed unexpectedly)."""


def say(message: str) -> None:
    print(f"[pipeline-local] {message}", flush=True)


def run(
    command: list[str], *, check: bool = True, timeout: float = 900, **kwargs
) -> subprocess.CompletedProcess:
    done = subprocess.run(command, text=True, capture_output=True, timeout=timeout, check=False, **kwargs)
    if check and done.returncode != 0:
        raise Failed(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise Failed(f"{what} did not come up within {timeout:.0f} s")
        time.sleep(0.2)


def answers(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def kubectl_json(*args: str) -> dict:
    done = run([KUBECTL, "--kubeconfig", str(CLUSTER_KUBECONFIG), "-n", NAMESPACE, *args, "-o", "json"])
    return json.loads(done.stdout)


# --- AWS: moto ------------------------------------------------------------------------------------


class Aws:
    """moto in this process: the account's ECR, EKS, STS and DynamoDB on one endpoint."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        if answers(MOTO_PORT):
            raise Failed(f"something already listens on 127.0.0.1:{MOTO_PORT} (a moto of another run?)")
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=MOTO_PORT, verbose=False)
        self.server.start()
        import boto3

        session = boto3.session.Session(
            aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_KEY, region_name=REGION
        )
        self.ecr = session.client("ecr", endpoint_url=AWS_ENDPOINT)
        self.eks = session.client("eks", endpoint_url=AWS_ENDPOINT)

    def create_repository(self) -> str:
        """As deploy/aws/chairtime_aws/registry.py makes it; returns the registry password."""
        self.ecr.create_repository(
            repositoryName=REPOSITORY,
            imageTagMutability="IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": True},
        )
        [auth] = self.ecr.get_authorization_token()["authorizationData"]
        return base64.b64decode(auth["authorizationToken"]).decode().partition(":")[2]

    def create_cluster(self, kubeconfig: Path) -> str:
        """The EKS cluster record, pointed at the local cluster. moto gives a made-up
        endpoint and CA; its backend object lives in this process (ThreadedMotoServer),
        so they are replaced with the local API server's address and CA."""
        from moto.eks.models import eks_backends

        local = json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]
        self.eks.create_cluster(
            name=STAGING_CLUSTER,
            version="1.20",
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{STAGING_CLUSTER}-cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-pipeline-local"]},
        )
        record = eks_backends[ACCOUNT][REGION].clusters[STAGING_CLUSTER]
        record.endpoint = local["server"]
        record.certificate_authority = {"data": local["certificate-authority-data"]}
        described = self.eks.describe_cluster(name=STAGING_CLUSTER)["cluster"]
        if described["endpoint"] != local["server"]:
            raise Failed("moto's EKS record did not take the local cluster's endpoint")
        return described["endpoint"]

    def image_digest(self, tag: str) -> str | None:
        try:
            details = self.ecr.describe_images(repositoryName=REPOSITORY, imageIds=[{"imageTag": tag}])
        except self.ecr.exceptions.ImageNotFoundException:
            return None
        return details["imageDetails"][0]["imageDigest"]

    def stop(self) -> None:
        self.server.stop()


# --- ECR's registry: docker-registry + notifications ----------------------------------------------------


class Registry:
    """Debian's docker-registry on 127.0.0.1:80 with basic auth (ECR's user and
    password), storage under var/. Its notifications of pushed manifests go to a small
    HTTP endpoint in this process, which puts each manifest into moto's ECR (PutImage,
    same digest), so ECR knows every pushed image as real ECR does."""

    MANIFEST_TYPES = (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )

    def __init__(self, aws: Aws, password: str) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # bcrypt, which docker-registry's htpasswd wants (Python 3.11)

        self.aws = aws
        self.creds = ("AWS", password)
        self.dir = VAR / "registry"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        if not shutil.which("docker-registry"):
            raise Failed("docker-registry is not installed (Debian package docker-registry)")
        if answers(80):
            raise Failed("something already listens on 127.0.0.1:80, where the registry must")
        (self.dir / "htpasswd").write_text(
            # bcrypt with the lowest cost: the registry checks it on every request.
            f"AWS:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))}\n"  # noqa: S324
        )
        self.recorded: list[dict] = []
        self.errors: list[str] = []
        self.events = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.events.serve_forever, daemon=True).start()
        events_url = f"http://127.0.0.1:{self.events.server_address[1]}/events"
        (self.dir / "config.yml").write_text(
            f"""# Written by deploy/pipeline-local/replay.py for one replay.
version: 0.1
log: {{level: warn, formatter: text}}
storage:
  filesystem: {{rootdirectory: {self.dir / "data"}}}
  delete: {{enabled: true}}
http:
  addr: {REGISTRY}:80
auth:
  htpasswd: {{realm: pipeline-local-ecr, path: {self.dir / "htpasswd"}}}
notifications:
  events: {{includereferences: true}}
  endpoints:
    - name: moto-ecr
      url: {events_url}
      timeout: 5s
      threshold: 3
      backoff: 1s
      ignoredmediatypes: [application/octet-stream]
      ignore:
        actions: [pull]
"""
        )
        self.log = (self.dir / "registry.log").open("w")
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(self.dir / "config.yml")],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for("docker-registry", lambda: self.proc.poll() is None and answers(80), 20)
        except Failed:
            self.stop()
            raise Failed(f"docker-registry did not start: see {self.dir / 'registry.log'}") from None

    def _handler(self):
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.end_headers()
                try:
                    for event in json.loads(body).get("events", []):
                        registry.record(event)
                except Exception as error:
                    registry.errors.append(f"{type(error).__name__}: {error}")

            def log_message(self, *args) -> None:
                pass

        return Handler

    def manifest(self, repository: str, reference: str, media_type: str) -> tuple[bytes, str]:
        request = urllib.request.Request(
            f"http://{REGISTRY}/v2/{repository}/manifests/{reference}",
            headers={
                "Accept": media_type,
                "Authorization": "Basic " + base64.b64encode(":".join(self.creds).encode()).decode(),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.read(), answer.headers.get("Docker-Content-Digest", "")

    def record(self, event: dict) -> None:
        target = event.get("target", {})
        if event.get("action") != "push" or target.get("mediaType") not in self.MANIFEST_TYPES:
            return
        if not target.get("tag"):
            return  # pushed by digest only (an index's child): ECR lists the tagged one
        body, digest = self.manifest(target["repository"], target["digest"], target["mediaType"])
        if digest != target["digest"]:
            raise Failed(f"the registry serves {digest} for {target['digest']}")
        self.aws.ecr.put_image(
            repositoryName=target["repository"],
            imageManifest=body.decode(),
            imageManifestMediaType=target["mediaType"],
            imageTag=target["tag"],
            imageDigest=target["digest"],
        )
        self.recorded.append({"repository": target["repository"], "tag": target["tag"], "digest": digest})
        say(f"ECR (moto) now lists {target['repository']}:{target['tag']} {digest}")

    def tag_digest(self, tag: str) -> str:
        return self.manifest(REPOSITORY, tag, self.MANIFEST_TYPES[0] + ", " + self.MANIFEST_TYPES[1])[1]

    def stop(self) -> None:
        self.events.shutdown()
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        if self.proc.poll() is None:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir / "data", ignore_errors=True)  # the images (hundreds of MB)


# --- the ALB ------------------------------------------------------------------------------------------


class ServiceEndpoints:
    """The Ready addresses of Service chairtime-web (its `http` port), read from the API
    server with the cluster-admin client certificate (one HTTPS request, no kubectl
    process: the ALB stand-in asks every second). Returns None when they cannot be read."""

    def __init__(self, kubeconfig: Path = CLUSTER_KUBECONFIG) -> None:
        import ssl

        config = json.loads(kubeconfig.read_text())
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        self.server = cluster["server"]
        self.pki = Path(tempfile.mkdtemp(prefix="alb-", dir=VAR))
        for name, key in (("cert.pem", "client-certificate-data"), ("key.pem", "client-key-data")):
            (self.pki / name).touch(mode=0o600)
            (self.pki / name).write_bytes(base64.b64decode(user[key]))
        self.context = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )
        self.context.load_cert_chain(self.pki / "cert.pem", self.pki / "key.pem")
        shutil.rmtree(self.pki)

    def ingress(self) -> dict | None:
        """Ingress chairtime (None while there is none, or it cannot be read)."""
        url = f"{self.server}/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses/chairtime"
        try:
            with urllib.request.urlopen(url, timeout=5, context=self.context) as answer:  # noqa: S310
                return json.loads(answer.read())
        except (OSError, ValueError):
            return None

    def publish(self, address: str) -> bool:
        """Write the load balancer's address into the Ingress's status, as the AWS Load
        Balancer Controller does once it made the ALB (the status subresource)."""
        url = f"{self.server}/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses/chairtime/status"
        body = json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": address}]}}}).encode()
        request = urllib.request.Request(  # noqa: S310
            url, data=body, method="PATCH", headers={"Content-Type": "application/merge-patch+json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5, context=self.context):  # noqa: S310
                return True
        except OSError:
            return False  # the next refresh tries again

    def __call__(self) -> list[tuple[str, int]] | None:
        url = f"{self.server}/api/v1/namespaces/{NAMESPACE}/endpoints/chairtime-web"
        try:
            with urllib.request.urlopen(url, timeout=5, context=self.context) as answer:  # noqa: S310
                endpoints = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return [] if error.code == 404 else None
        except (OSError, ValueError):
            return None
        targets = []
        for subset in endpoints.get("subsets", []):
            ports = [p["port"] for p in subset.get("ports", []) if p.get("name") in ("http", None)]
            targets += [(a["ip"], port) for a in subset.get("addresses", []) for port in ports[:1]]
        return sorted(targets)


class Alb:
    """The load balancer in front of staging, as the AWS Load Balancer Controller makes
    it from the Ingress: an IP target group of the pods behind Service chairtime-web.
    Targets are what ``endpoints()`` answers (the Service's Ready endpoints), asked every
    second and kept as they are when it cannot tell; each request goes to the next one;
    without any target it answers 503, as an ALB with no healthy target does.

    With ``ingress`` (ServiceEndpoints: ``ingress()`` and ``publish(address)``) it is the
    controller too: once the Ingress exists it publishes its own address (127.0.0.1) in
    the Ingress's status, and routes by the Ingress rule's host only: a request for
    another Host gets 404, the ALB's default action. Nothing resolves the public host:
    the deploy's smoke test must come by the address with the Host header."""

    def __init__(self, endpoints, every: float = 1.0, ingress=None) -> None:
        self.endpoints = endpoints
        self.ingress = ingress
        self.host: str | None = None
        self.published = False
        self.targets: list[tuple[str, int]] = []
        self.cycle = itertools.cycle([])
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # The deploy's SMOKE_URL: chairtimectl puts the published address for {ingress}.
        self.smoke_url = f"http://{{ingress}}:{self.server.server_address[1]}"
        self._refresh_once()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        threading.Thread(target=self._refresh, args=(every,), daemon=True).start()

    def _refresh_once(self) -> None:
        if self.ingress is not None:
            self._reconcile(self.ingress.ingress())
        targets = self.endpoints()
        if targets is None:
            return
        with self.lock:
            if targets != self.targets:
                self.targets = list(targets)
                self.cycle = itertools.cycle(self.targets)

    def _refresh(self, every: float) -> None:
        while not self.stopping.wait(every):
            self._refresh_once()

    def _reconcile(self, ingress: dict | None) -> None:
        if ingress is None:
            return  # not there yet (or not readable): keep what we had
        rules = ingress.get("spec", {}).get("rules") or []
        with self.lock:
            self.host = next((r["host"] for r in rules if r.get("host")), None)
        if not (ingress.get("status") or {}).get("loadBalancer", {}).get("ingress"):
            self.published = self.ingress.publish("127.0.0.1")

    def routes(self, host_header: str | None) -> bool:
        """Whether a request with this Host reaches the targets (the Ingress's rule)."""
        if self.ingress is None:
            return True
        with self.lock:
            return self.host is not None and (host_header or "").rsplit(":", 1)[0].lower() == self.host

    def next_target(self) -> tuple[str, int] | None:
        with self.lock:
            return next(self.cycle, None) if self.targets else None

    def _handler(self):
        alb = self
        hop_by_hop = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                if not alb.routes(self.headers.get("Host")):
                    return self._answer(404, b"404 Not Found (no rule for this host)")
                target = alb.next_target()
                if target is None:
                    return self._answer(503, b"503 Service Temporarily Unavailable (no healthy target)")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in hop_by_hop}
                headers["X-Forwarded-For"] = self.client_address[0]
                headers["X-Forwarded-Proto"] = "http"
                try:
                    upstream = http.client.HTTPConnection(*target, timeout=30)
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                except OSError as error:
                    return self._answer(502, f"502 Bad Gateway ({target[0]}: {error})".encode())
                self.send_response(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() not in hop_by_hop | {"content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()
                return None

            def _answer(self, status: int, text: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

            def log_message(self, *args) -> None:
                pass

        return Handler

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()


# --- Source: the artifact ------------------------------------------------------------------------------


def _commit_tree(tree: Path, message: str) -> str:
    """Commit ``tree`` in a throwaway repository inside it; returns the commit id, which
    depends only on the files and the message (fixed author and dates), so the same
    tree gives the same commit, and the Image stage the same tag."""
    git = [
        "git",
        "-C",
        str(tree),
        "-c",
        "user.name=pipeline-local",
        "-c",
        "user.email=pipeline-local@invalid",
    ]
    fixed = {
        **os.environ,
        "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
    }
    run([*git, "init", "-q"])
    run([*git, "add", "-A"])
    run([*git, "commit", "-q", "--no-verify", "-m", message], env=fixed)
    return run([*git, "rev-parse", "HEAD"]).stdout.strip()


def source_artifact(out: Path, *, worktree: bool, root: Path = ROOT) -> tuple[str, str]:
    """CodePipeline's source artifact: the commit's files without .git, as a tar here
    (a zip there). Returns (commit id, what it is)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if not worktree:
        commit = run(["git", "-C", str(root), "rev-parse", "HEAD"]).stdout.strip()
        run(["git", "-C", str(root), "archive", "--format=tar", "-o", str(out), commit])
        dirty = run(["git", "-C", str(root), "status", "--porcelain"]).stdout.strip()
        return commit, "HEAD" + (
            " (uncommitted changes are NOT in it; --worktree takes them)" if dirty else ""
        )
    listed = run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    ).stdout
    with tempfile.TemporaryDirectory(prefix="pipeline-local-src-") as tmp:
        for name in filter(None, listed.split("\0")):
            source = root / name
            if source.is_file() and not source.is_symlink():
                (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, Path(tmp) / name)
        commit = _commit_tree(Path(tmp), "pipeline-local: the working tree")
        run(["git", "-C", tmp, "archive", "--format=tar", "-o", str(out), commit])
    return commit, "the working tree, committed in a throwaway repository"


def broken_artifact(good: Path, out: Path) -> str:
    """Run 2's commit: run 1's tree with the image's ENTRYPOINT broken (see above)."""
    with tempfile.TemporaryDirectory(prefix="pipeline-local-broken-") as tmp:
        with tarfile.open(good) as archive:
            archive.extractall(tmp, filter="data")
        dockerfile = Path(tmp) / DOCKERFILE
        text = dockerfile.read_text()
        if text.count(ENTRYPOINT_GOOD) != 1:
            raise Failed(f"{DOCKERFILE}: its ENTRYPOINT changed; cannot make run 2's broken release")
        dockerfile.write_text(text.replace(ENTRYPOINT_GOOD, ENTRYPOINT_BROKEN))
        commit = _commit_tree(
            Path(tmp), "pipeline-local: gunicorn's workers require TLS from PostgreSQL (never ready)"
        )
        run(["git", "-C", tmp, "archive", "--format=tar", "-o", str(out), commit])
    return commit


# --- the environment's data ---------------------------------------------------------------------------


def prepare_staging_data(artifact: Path) -> None:
    """Staging as it is before its first release (docs/aws.md): an empty database (the
    release's migrations Job makes the schema; no salon is loaded until after the first
    release) and its DynamoDB table (the data stack makes it), made with the released
    commit's own code."""
    for sql in (f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", f"CREATE DATABASE {DATABASE}"):
        run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-q", "-c", sql])
    env = {
        **{k: os.environ[k] for k in SYSTEM_ENV if k in os.environ},
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "DEBUG": "true",
        "AWS_ENDPOINT_URL_DYNAMODB": AWS_ENDPOINT,
        "AWS_ACCESS_KEY_ID": FAKE_KEY,
        "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
        "AWS_REGION": REGION,
        "ANNOUNCEMENTS_TABLE": ANNOUNCEMENTS_TABLE,
    }
    with tempfile.TemporaryDirectory(prefix="pipeline-local-seed-", dir=VAR) as tmp:
        with tarfile.open(artifact) as archive:
            archive.extractall(tmp, filter="data")
        run([PYTHON, "manage.py", "create_announcements_table"], cwd=tmp, env=env, timeout=300)


def database_tables() -> int:
    """How many tables staging's database has (0: empty)."""
    query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    out = run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DATABASE, "-tAq", "-c", query])
    return int(out.stdout.strip())


def load_the_salon(artifact: Path) -> subprocess.CompletedProcess:
    """docs/aws.md, first release, step 3: the operator loads the salon into the running
    release, the way the document says (`kubectl exec ... load_salon - < salon.json`)."""
    with tarfile.open(artifact) as archive:
        salon = archive.extractfile("demo/salon.json").read()
    command = [KUBECTL, "--kubeconfig", str(CLUSTER_KUBECONFIG), "-n", NAMESPACE, "exec", "-i"]
    command += ["deploy/chairtime-web", "-c", "web", "--", "python", "manage.py", "load_salon", "-"]
    return subprocess.run(command, input=salon, capture_output=True, timeout=120, check=False)


# --- stages ----------------------------------------------------------------------------------------------


@dataclass
class Stage:
    run: str
    name: str
    status: str
    seconds: float
    build: BuildResult | None = None
    note: str = ""

    def to_json(self) -> dict:
        return {
            "run": self.run,
            "stage": self.name,
            "status": self.status,
            "seconds": self.seconds,
            "note": self.note,
            "build": self.build.to_json() if self.build else None,
        }


@dataclass
class Replay:
    stages: list[Stage] = field(default_factory=list)
    checks: list[tuple[bool, str]] = field(default_factory=list)
    number: int = 0

    def check(self, ok: object, message: str) -> bool:
        self.checks.append((bool(ok), message))
        print(f"    {'ok  ' if ok else 'FAIL'} {message}", flush=True)
        return bool(ok)

    def build(
        self,
        run_name: str,
        stage: tuple[str, str, str, int],
        artifact: Path,
        *,
        project_env: dict[str, str],
        action_env: dict[str, str],
        note: str = "",
    ) -> BuildResult:
        """One CodeBuild build of ``stage`` on a fresh copy of the source artifact."""
        name, project, buildspec, timeout = stage
        self.number += 1
        print(f"\n=== {run_name} / {name}: {project} ({buildspec}){' ' + note if note else ''}", flush=True)
        work = VAR / "builds" / f"{self.number:02d}-{run_name}-{name}"
        shutil.rmtree(work, ignore_errors=True)
        src = work / "src"
        src.mkdir(parents=True)
        with tarfile.open(artifact) as archive:
            archive.extractall(src, filter="data")
        system = {k: os.environ[k] for k in SYSTEM_ENV if k in os.environ}
        system.update(codebuild_environment(project, src, REGION, self.number))
        # The build's AWS identity and where its AWS is: moto.
        system.update(
            {
                "AWS_ACCESS_KEY_ID": FAKE_KEY,
                "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
                "AWS_ENDPOINT_URL": AWS_ENDPOINT,
            }
        )
        prefix = f"[{run_name}/{name}] "
        try:
            result = run_build(
                project,
                src / buildspec,
                src,
                system=system,
                project_env=project_env,
                action_env=action_env,
                timeout_minutes=timeout,
                log=VAR / "logs" / f"{self.number:02d}-{run_name}-{name}.log",
                cache=VAR / "cache" / project,
                echo=lambda line: print(prefix + line, flush=True),
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.stages.append(Stage(run_name, name, result.status, result.seconds, result, note))
        return result

    def skipped(self, run_name: str, name: str, why: str) -> None:
        print(f"\n=== {run_name} / {name}: skipped ({why})", flush=True)
        self.stages.append(Stage(run_name, name, "SKIPPED", 0.0, note=why))


# --- the runs ---------------------------------------------------------------------------------------------


def deployment() -> dict:
    return kubectl_json("get", "deployment", "chairtime-web")


def web_pods() -> list[dict]:
    selector = "app.kubernetes.io/name=chairtime,app.kubernetes.io/component=web"
    return [
        p
        for p in kubectl_json("get", "pods", "-l", selector)["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]


def check_serving(replay: Replay, image_ref: str, alb: Alb, *, first_release: bool = False) -> None:
    """The release ``image_ref`` runs and serves: the Deployment, its pods (pulled by
    digest from the registry), and the smoke test's requests through the ALB, for the
    Ingress's host (an empty catalogue passes only on the ``first_release``)."""
    digest = image_ref.rpartition("@")[2]
    replay.check(image_of(deployment()) == image_ref, f"the Deployment runs {image_ref}")
    pods = web_pods()
    replay.check(
        pods and all(is_ready(p) and image_of({"spec": {"template": p}}) == image_ref for p in pods),
        f"{len(pods)} web pods, all Ready, all on that image",
    )
    ids = {s.get("imageID", "") for p in pods for s in p.get("status", {}).get("containerStatuses", [])}
    replay.check(
        ids and all(i.endswith(digest) for i in ids),
        f"the node pulled it by its digest from the registry ({', '.join(sorted(ids))})",
    )
    try:
        seen = checks(alb.url, alb.host, first_release=first_release)
        replay.check(True, f"through the ALB stand-in (Host: {alb.host}): {'; '.join(seen)}")
    except (SmokeFailed, OSError, ValueError) as error:
        replay.check(False, f"through the ALB stand-in: {error}")


def check_published(replay: Replay, image: BuildResult, commit: str, aws: Aws, registry: Registry) -> str:
    image_ref = image.exported.get("IMAGE_REF", "")
    tag = commit[:12]
    replay.check(image.status == "SUCCEEDED", f"Image: the build SUCCEEDED ({image.seconds} s)")
    replay.check(
        image_ref.startswith(f"{REGISTRY}/{REPOSITORY}:{tag}@sha256:")
        and len(image_ref.rpartition(":")[2]) == 64,
        f"Image: exported IMAGE_REF={image_ref or '(not set)'}, tagged with the commit ({tag})",
    )
    if not image_ref:
        return ""
    digest = image_ref.rpartition("@")[2]
    replay.check(registry.tag_digest(tag) == digest, f"the registry holds {REPOSITORY}:{tag} as {digest}")
    replay.check(aws.image_digest(tag) == digest, f"ECR (moto) lists {REPOSITORY}:{tag} with that digest")
    return image_ref


def deploy_env(alb: Alb) -> dict[str, str]:
    """The staging deploy project's variables (pipeline.py), pointed at the stand-ins."""
    return {
        "OVERLAY": "deploy/k8s/e2e/overlay",  # staging's overlay, for the 1.20 cluster
        "CLUSTER_NAME": STAGING_CLUSTER,
        "SMOKE_URL": alb.smoke_url,  # https://{ingress} in the pipeline
        # Replay only: the local API server cannot verify IAM tokens (scripts/kubeconfig).
        "KUBECONFIG_CREDENTIALS_FROM": str(CLUSTER_KUBECONFIG),
    }


def run_one(replay: Replay, aws: Aws, registry: Registry, alb: Alb, artifact: Path, commit: str) -> str:
    """Run 1: a good commit through every stage."""
    test = replay.build("run1", TEST, artifact, project_env={}, action_env={})
    replay.check(test.status == "SUCCEEDED", f"Test: the build SUCCEEDED ({test.seconds} s)")
    reports = {r.group: r for r in test.reports}
    junit, coverage = reports.get("junit"), reports.get("coverage")
    replay.check(
        junit and junit.status == "SUCCEEDED" and junit.summary.get("total", 0) > 0,
        f"Test: JUnit report {junit.files if junit else '-'}: "
        + (f"{junit.summary.get('total', 0):.0f} test cases, {junit.status}" if junit else "missing"),
    )
    replay.check(
        coverage and coverage.status == "SUCCEEDED",
        f"Test: Cobertura report {coverage.files if coverage else '-'}: "
        + (f"line coverage {coverage.summary.get('line_rate', 0):.1%}" if coverage else "missing"),
    )
    if test.status != "SUCCEEDED":
        raise Failed("run 1's Test stage failed: the pipeline stops there")

    image = replay.build(
        "run1", IMAGE, artifact, project_env=image_project_env(), action_env={"COMMIT_ID": commit}
    )
    image_ref = check_published(replay, image, commit, aws, registry)
    if image.status != "SUCCEEDED" or not image_ref:
        raise Failed("run 1's Image stage failed: the pipeline stops there")

    deploy = replay.build(
        "run1", DEPLOY_STAGING, artifact, project_env=deploy_env(alb), action_env={"IMAGE_REF": image_ref}
    )
    replay.check(deploy.status == "SUCCEEDED", f"DeployStaging: the build SUCCEEDED ({deploy.seconds} s)")
    log = Path(deploy.log).read_text()
    replay.check(
        "smoke: GET /readyz 200" in log, "DeployStaging: chairtimectl's smoke test passed through the ALB"
    )
    through = f"smoke: through http://127.0.0.1:{alb.url.rpartition(':')[2]} (Host: {alb.host})"
    replay.check(
        alb.published and alb.host and through in log,
        f"the smoke test found the ALB by the Ingress's status, no DNS: {through!r}",
    )
    tables = database_tables()
    replay.check(
        "(0 services: a first release, the salon is not loaded yet)" in log and tables > 0,
        f"first release: the migrations Job made the schema ({tables} tables), the empty catalogue passed",
    )
    check_serving(replay, image_ref, alb, first_release=True)
    if deploy.status != "SUCCEEDED":
        raise Failed("run 1's DeployStaging failed")
    loaded = load_the_salon(artifact)
    said = (loaded.stdout + loaded.stderr).decode(errors="replace").strip().splitlines()
    replay.check(
        loaded.returncode == 0,
        "after the first release the operator loaded the salon (docs/aws.md: kubectl exec ... "
        f"load_salon - < salon.json): {said[-1] if said else 'no output'}",
    )
    check_serving(replay, image_ref, alb)
    return image_ref


def image_project_env() -> dict[str, str]:
    # The real base image cannot be pulled here (no registry): the project's variable
    # overrides the buildspec's PULL_BASE=1 (CodeBuild's precedence), so image-build
    # makes its local stand-in base when podman does not have the base already.
    return {"IMAGE_REPOSITORY": f"{REGISTRY}/{REPOSITORY}", "PULL_BASE": "0"}


def run_two(
    replay: Replay,
    aws: Aws,
    registry: Registry,
    alb: Alb,
    artifact: Path,
    commit: str,
    good: tuple[Path, str],
    *,
    full: bool,
    stage_rollback: bool,
) -> None:
    """Run 2: a release that never becomes ready must fail at deploy and leave run 1's
    release serving."""
    if full:
        test = replay.build("run2", TEST, artifact, project_env={}, action_env={})
        replay.check(test.status == "SUCCEEDED", f"Test: the build SUCCEEDED ({test.seconds} s)")
    else:
        replay.skipped(
            "run2", "Test", "same code and tests as run 1; only the Dockerfile differs (--full runs it)"
        )
    image = replay.build(
        "run2", IMAGE, artifact, project_env=image_project_env(), action_env={"COMMIT_ID": commit}
    )
    image_ref = check_published(replay, image, commit, aws, registry)
    if not image_ref:
        raise Failed("run 2's Image stage failed: the broken release never reached Deploy")
    replay.check(image_ref != good[1], "run 2's image is another image than run 1's")

    deploy = replay.build(
        "run2", DEPLOY_STAGING, artifact, project_env=deploy_env(alb), action_env={"IMAGE_REF": image_ref}
    )
    log = Path(deploy.log).read_text()
    build_phase = next((p for p in deploy.phases if p.name == "build"), None)
    replay.check(deploy.status == "FAILED", f"DeployStaging: the build FAILED ({deploy.seconds} s)")
    replay.check(
        build_phase is not None and build_phase.status == "FAILED",
        "it failed in the build phase (chairtimectl deploy exited 1), not before",
    )
    replay.check(
        "RELEASE FAILED" in log and "Readiness probe failed" in log, "chairtimectl named the failing probe"
    )
    replay.check(
        "rolled back: chairtime-web revision" in log, "chairtimectl rolled the Deployment back by itself"
    )
    # The message worker rolled out the same release (its pods were fine: only gunicorn's
    # workers refuse) and is rolled back with the web pods, so both run one image.
    replay.check(
        "rolled back: chairtime-worker revision" in log, "and the message worker's Deployment with it"
    )
    check_serving(replay, good[1], alb)

    if stage_rollback:
        # pipeline.py: on_failure ROLLBACK re-runs the stage with the last successful
        # execution's source and image.
        again = replay.build(
            "run2",
            DEPLOY_STAGING,
            good[0],
            project_env=deploy_env(alb),
            action_env={"IMAGE_REF": good[1]},
            note="(CodePipeline's stage rollback: run 1's source and image)",
        )
        replay.check(again.status == "SUCCEEDED", f"the stage rollback's build SUCCEEDED ({again.seconds} s)")
        check_serving(replay, good[1], alb)


# --- main --------------------------------------------------------------------------------------------------


def preflight() -> None:
    missing = [
        tool for tool in ("docker-registry", "skopeo", "podman", "buildah", "psql") if not shutil.which(tool)
    ]
    if missing:
        raise Failed(
            f"missing: {', '.join(missing)} (make pipeline-local installs them: scripts/system-deps)"
        )
    for port, what in ((5432, "PostgreSQL"), (6379, "Redis")):
        if not answers(port):
            raise Failed(f"{what} does not answer on 127.0.0.1:{port} (the e2e overlay uses it)")
    if not Path(KUBECTL).exists():
        run([str(ROOT / "scripts/k8s-tools")], cwd=ROOT)


def summary(replay: Replay, total: float, passed: bool, extra: dict) -> None:
    print(f"\n=== pipeline-local {'passed' if passed else 'FAILED'} in {total:.1f} s")
    for stage in replay.stages:
        phases = ""
        if stage.build:
            phases = (
                "  (" + ", ".join(f"{p.name} {p.seconds:.0f}s" for p in stage.build.phases if p.seconds) + ")"
            )
        print(f"    {stage.run:<5} {stage.name:<14} {stage.status:<10} {stage.seconds:7.1f} s{phases}")
    for name, seconds in extra.items():
        print(f"    {'':<5} {name:<25} {seconds:7.1f} s")
    failed = [message for ok, message in replay.checks if not ok]
    print(f"    checks: {len(replay.checks) - len(failed)} of {len(replay.checks)} passed")
    for message in failed:
        print(f"    FAILED: {message}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worktree", action="store_true", help="release the working tree, not HEAD")
    parser.add_argument("--full", action="store_true", help="run 2 runs its Test stage too")
    parser.add_argument(
        "--no-stage-rollback",
        dest="stage_rollback",
        action="store_false",
        help="leave out CodePipeline's stage rollback after run 2's failed deploy",
    )
    parser.add_argument("--keep", action="store_true", help="leave the cluster running at the end")
    args = parser.parse_args()

    started = time.monotonic()
    replay = Replay()
    timings: dict[str, float] = {}
    passed = False
    aws = registry = alb = None
    commits: dict[str, str] = {}
    VAR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(VAR / "logs", ignore_errors=True)
    try:
        t = time.monotonic()
        preflight()
        run([*CLUSTER, "build"], timeout=3600)
        run([*CLUSTER, "up"], timeout=600)
        timings["cluster build (cached) + up"] = round(time.monotonic() - t, 1)

        t = time.monotonic()
        aws = Aws()
        password = aws.create_repository()
        endpoint = aws.create_cluster(CLUSTER_KUBECONFIG)
        registry = Registry(aws, password)
        # The node's registry credentials (an EKS node pulls from ECR with its role).
        NODE_DOCKER_CONFIG.write_text(
            json.dumps({"auths": {REGISTRY: {"auth": base64.b64encode(f"AWS:{password}".encode()).decode()}}})
        )
        cluster_api = ServiceEndpoints()
        alb = Alb(cluster_api, ingress=cluster_api)
        say(f"moto on {AWS_ENDPOINT} (ECR repository {REPOSITORY}, EKS {STAGING_CLUSTER} -> {endpoint})")
        say(f"registry {REGISTRY}:80 (ECR's credentials; pushes recorded in moto), ALB stand-in {alb.url}")

        good_artifact = VAR / "artifacts/run1.tar"
        commit, what = source_artifact(good_artifact, worktree=args.worktree)
        commits["run1"] = commit
        say(f"run 1 source: {commit} ({what})")
        broken = VAR / "artifacts/run2.tar"
        commits["run2"] = broken_artifact(good_artifact, broken)
        say(f"run 2 source: {commits['run2']} (run 1's tree, {DOCKERFILE} ENTRYPOINT + PGSSLMODE=require)")
        forget = ["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true"]
        run([KUBECTL, "--kubeconfig", str(CLUSTER_KUBECONFIG), *forget], timeout=300)
        prepare_staging_data(good_artifact)
        replay.check(
            database_tables() == 0,
            f"before run 1, staging's database {DATABASE} is empty (no schema, no salon)",
        )
        timings["stand-ins, sources, staging data"] = round(time.monotonic() - t, 1)

        t = time.monotonic()
        image_ref = run_one(replay, aws, registry, alb, good_artifact, commit)
        timings["run 1"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        run_two(
            replay,
            aws,
            registry,
            alb,
            broken,
            commits["run2"],
            (good_artifact, image_ref),
            full=args.full,
            stage_rollback=args.stage_rollback,
        )
        timings["run 2"] = round(time.monotonic() - t, 1)
        replay.check(
            not registry.errors, f"every registry notification was recorded in ECR {registry.errors or ''}"
        )
        passed = all(ok for ok, _ in replay.checks)
    except Failed as failure:
        print(f"\nFAILED: {failure}", file=sys.stderr, flush=True)
        replay.checks.append((False, str(failure).splitlines()[0]))
    except Exception as error:  # a bug or a surprise: still stop everything, still report
        traceback.print_exc()
        replay.checks.append((False, f"the replay broke: {type(error).__name__}: {error}"))
    finally:
        t = time.monotonic()
        for stand_in in (alb, registry, aws):
            if stand_in is not None:
                with contextlib.suppress(Exception):
                    stand_in.stop()
        NODE_DOCKER_CONFIG.unlink(missing_ok=True)
        if not args.keep:
            run([*CLUSTER, "down"], check=False, timeout=300)
        timings["teardown"] = round(time.monotonic() - t, 1)
    total = round(time.monotonic() - started, 1)
    RESULT.write_text(
        json.dumps(
            {
                "passed": passed,
                "seconds": total,
                "commits": commits,
                "timings": timings,
                "stages": [s.to_json() for s in replay.stages],
                "checks": [{"ok": ok, "check": message} for ok, message in replay.checks],
            },
            indent=2,
        )
    )
    summary(replay, total, passed, timings)
    print(f"    result: {RESULT.relative_to(ROOT)}; build logs: {(VAR / 'logs').relative_to(ROOT)}/")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
