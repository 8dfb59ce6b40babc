#!/usr/bin/env python3
"""A real Kubernetes 1.20 cluster on loopback, with one real node, for `make e2e-k8s`.

    deploy/k8s/e2e/cluster.py build              # kube-* binaries from Debian's source package
    deploy/k8s/e2e/cluster.py up [--forward PORT ...] [--control-plane-only]
    deploy/k8s/e2e/cluster.py load-image chairtime:<sha>   # podman's image -> the node's containerd
    deploy/k8s/e2e/cluster.py status
    deploy/k8s/e2e/cluster.py down [--wipe] [--grace SECONDS]

What runs (everything started in the background; logs in var/k8s/log/<name>.log, pid
files in var/k8s/run/pids/; see docs/e2e-k8s.md):

- etcd 3.4 (Debian's `etcd-server`) on 127.0.0.1, data in var/k8s/run/etcd;
- kube-apiserver, kube-controller-manager, kube-scheduler and kubelet 1.20.2, built from
  Debian's `kubernetes` source package with Debian's Go (`build`); the first three on
  127.0.0.1, the kubelet's API on the pods' bridge address 10.89.0.1 (the kubelet
  refuses a loopback node address);
- containerd 1.6 (Debian's `containerd`, runc, cgroupfs) as the kubelet's container
  runtime, its state in var/k8s/run/containerd; pods get addresses on the CNI bridge
  cni-e2e0 (10.89.0.0/24, Debian's containernetworking-plugins);
- the host gateway: a small TCP forwarder (this script, `host-gateway`) listening on the
  bridge's address 10.89.0.1 and forwarding to the same port on 127.0.0.1, so pods reach
  the machine's PostgreSQL (5432), MariaDB (3306), Redis (6379) and a moto server on
  4566, which listen on loopback only (`up --forward PORT` adds ports).

The node is `e2e-node-1` (labels kubernetes.io/hostname=e2e-node-1,
topology.kubernetes.io/zone=zone-a). Pods run for real: the kubelet's own probes,
restarts, events, `kubectl logs` and `kubectl exec`; the containers' log files are in
var/k8s/log/pods/ (bind-mounted on the kubelet's /var/log/pods while the node runs, and
kept after `down`). Images come from containerd's
store, which is not podman's: `load-image` copies an image built with `make image`
across (its name becomes localhost/<name>:<tag>, which is what a pod spec must use).

`up` makes a certificate authority, serving and client certificates (openssl CLI) and
a service-account signing key in var/k8s/run/pki (kept across `down`/`up`), picks free
loopback ports (kept across restarts while they stay free) and writes
var/k8s/kubeconfig: cluster-admin through a client certificate whose organisation is
system:masters, certificates embedded so the file can be copied. Use it with

    export KUBECONFIG=$PWD/var/k8s/kubeconfig
    var/tools/bin/kubectl get nodes

`up` when the cluster is already up says so and succeeds. `down` drains the node
(cordon, delete its pods with at most --grace seconds of grace, let the kubelet stop
them), stops everything `up` started (by pid file, checking the pid still runs the
program it started), removes any container left in containerd, and unmounts what the
kubelet and containerd mounted under var/k8s; `down --wipe` also deletes the etcd
data, the kubelet's state, the pods' logs and the bridge (the images in containerd
stay; delete var/k8s/run/containerd to drop them).

The real scheduler is used: resource requests, the new node's not-ready taint and the
Deployment's topologySpreadConstraints are judged by Kubernetes itself.

`build` is cached: it does nothing when var/k8s/bin holds the binaries and
var/k8s/bin/STAMP names the source package version they were built from. Cold, it
installs what is missing with apt-get, fetches the source with `apt-get source
--download-only` (from the machine's deb-src entries, or from deb-src entries derived
at run time from /etc/apt/sources.list.d/debian.sources, in a private apt state
directory), unpacks it with Debian's patches and runs `GOPROXY=off make
generated_files` then `make WHAT=...` in GOPATH mode, as Debian's package build does,
and deletes the unpacked tree (2.7 GB) unless --keep-source.

Stdlib only: this runs before any virtualenv exists.
"""

# The point of this script is to run fixed programs (apt-get, make, openssl, etcd,
# kube-*, containerd, ctr, podman, umount): S603/S607 are its job, not a risk.
# ruff: noqa: S603, S607

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
VAR = ROOT / "var" / "k8s"
BIN = VAR / "bin"
SRC = VAR / "src"
RUN = VAR / "run"
PIDS = RUN / "pids"
PKI = RUN / "pki"
ETCD_DATA = RUN / "etcd"
KUBELET_DIR = RUN / "kubelet"
CONTAINERD_DIR = RUN / "containerd"
CNI_DIR = RUN / "cni"
LOG = VAR / "log"
KUBECONFIG = VAR / "kubeconfig"
STATE = RUN / "ports.json"
IMAGES = RUN / "images.json"
STAMP = BIN / "STAMP"
# The kubelet 1.20 writes container logs to /var/log/pods (built in) and links them from
# /var/log/containers; these directories are bind-mounted there while the node runs.
POD_LOGS = {Path("/var/log/pods"): LOG / "pods", Path("/var/log/containers"): LOG / "containers"}
LOG_MOUNTS = RUN / "log-mounts"  # the targets `up` mounted, for `down`

SOURCE_PACKAGE = "kubernetes"
WANT_MINOR = "v1.20."
BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet")
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"  # the first address: the `kubernetes` Service, in the serving cert
POD_SUBNET = "10.89.0.0/24"  # beside podman's 10.88.0.0/16
HOST_GATEWAY = "10.89.0.1"  # the bridge's own address: the pods' gateway to the host
BRIDGE = "cni-e2e0"
CLUSTER = "chairtime-e2e"
NODE_NAME = "e2e-node-1"
ZONE = "zone-a"
PAUSE_IMAGE = "localhost/pause:e2e"
CRI_NAMESPACE = "k8s.io"  # containerd's namespace for the kubelet's containers
# Loopback services the pods reach through the host gateway: PostgreSQL, MariaDB,
# Redis, and moto (DynamoDB) on 4566, the port the e2e overlay points at.
DEFAULT_FORWARDS = (5432, 3306, 6379, 4566)
# Start order; `down` stops in reverse.
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "containerd",
    "host-gateway",
    "kubelet",
)
CONTROL_PLANE = COMPONENTS[:4]
NODE = COMPONENTS[4:]
# The controller manager and scheduler check callers of their /metrics etc. with these.
AUTH_FLAGS = ("authentication-kubeconfig", "authorization-kubeconfig")
# Alpha in 1.20 (beta in 1.21): without the gate the API server drops the Job's
# ttlSecondsAfterFinished and the controller does not run.
FEATURE_GATES = "TTLAfterFinished=true"
# Debian packages, by the command that shows they are there.
BUILD_TOOLS = {"go": "golang-go", "dpkg-source": "dpkg-dev", "make": "make", "rsync": "rsync", "jq": "jq"}
RUN_TOOLS = {
    "ip": "iproute2",
    "etcd": "etcd-server",
    "openssl": "openssl",
    "containerd": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "catatonit": "catatonit",  # the pause process of every pod sandbox
    "podman": "podman",  # load-image reads podman's store
}
CNI_PLUGINS = Path("/usr/lib/cni")  # containernetworking-plugins
DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")


def say(message: str) -> None:
    print(f"cluster: {message}", file=sys.stderr, flush=True)


class Failed(Exception):
    """A step failed; the message says which and where to look."""


# --- packages and the build ------------------------------------------------------------


def ensure_packages(tools: dict[str, str], paths: dict[Path, str] | None = None) -> None:
    """apt-get install the packages whose command (or file) is missing; nothing if all are there."""
    missing = {package for command, package in tools.items() if not shutil.which(command)}
    missing |= {package for path, package in (paths or {}).items() if not path.exists()}
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Failed(f"please install these Debian packages first: {' '.join(sorted(missing))}")
    say(f"installing {' '.join(sorted(missing))} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *sorted(missing)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def binary_version(path: Path) -> str:
    """`<binary> --version` -> "v1.20.2" ("" when it does not run)."""
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    match = re.search(r"v\d+\.\d+\.\d+\S*", out)
    return match.group(0) if match else ""


def built_ok() -> bool:
    if not STAMP.exists() or not all((BIN / name).exists() for name in BINARIES):
        return False
    return all(binary_version(BIN / name).startswith(WANT_MINOR) for name in BINARIES)


def apt_source_options(workdir: Path) -> list[str]:
    """apt options that make `apt-get source` work on a machine with only `deb` entries.

    If the machine has deb-src entries, none. Otherwise deb-src entries are derived from
    the `deb` ones in debian.sources (same URIs, suites and keyring) into a private
    sources file with a private lists directory, so the machine's apt state is
    untouched. The mirror's address is read here, at run time, never stored.
    """
    probe = subprocess.run(["apt-cache", "showsrc", SOURCE_PACKAGE], capture_output=True, text=True)
    if probe.returncode == 0 and "Package:" in probe.stdout:
        return []
    if not DEBIAN_SOURCES.exists():
        raise Failed(f"no deb-src entries and no {DEBIAN_SOURCES} to derive them from")
    sources = workdir / "deb-src.sources"
    sources.write_text(
        re.sub(r"^Types:.*$", "Types: deb-src", DEBIAN_SOURCES.read_text(), flags=re.MULTILINE)
    )
    lists = workdir / "lists"
    (lists / "partial").mkdir(parents=True)
    os.chmod(workdir, 0o755)  # noqa: S103 - apt's download sandbox user (_apt) must reach it
    options = ["-o", f"Dir::Etc::SourceList={sources}", "-o", "Dir::Etc::SourceParts=/dev/null"]
    options += ["-o", f"Dir::State::Lists={lists}"]
    say("no deb-src entries on this machine: deriving them from debian.sources (private apt state)")
    subprocess.run(["apt-get", *options, "update", "-qq"], check=True)
    return options


def fetch_source() -> tuple[Path, str]:
    """Download and unpack Debian's `kubernetes` source package; returns (tree, version)."""
    download = SRC / "download"
    download.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="k8s-apt-") as tmp:
        options = apt_source_options(Path(tmp))
        # --download-only: apt checks every file against the signed Sources index;
        # unpacking is dpkg-source's job (below). As root, into a directory apt's own
        # download user may not reach.
        subprocess.run(
            [
                "apt-get",
                *options,
                "-o",
                "APT::Sandbox::User=root",
                "source",
                "--download-only",
                SOURCE_PACKAGE,
            ],
            check=True,
            cwd=download,
            stdout=subprocess.DEVNULL,
        )
    dscs = sorted(download.glob(f"{SOURCE_PACKAGE}_*.dsc"))
    if not dscs:
        raise Failed(f"apt-get source left no {SOURCE_PACKAGE}_*.dsc in {download}")
    version = dscs[-1].stem.split("_", 1)[1]
    tree = SRC / f"{SOURCE_PACKAGE}-{version}"
    if not (tree / "Makefile").exists():
        shutil.rmtree(tree, ignore_errors=True)
        # --no-check: the .dsc's signature would need debian-keyring; apt has already
        # verified every file's hash against the signed index. Applies Debian's patches.
        subprocess.run(
            ["dpkg-source", "--no-check", "-x", str(dscs[-1]), str(tree)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return tree, version


def build(force: bool = False, keep_source: bool = False) -> None:
    """Build the four binaries unless the cached ones are right."""
    ensure_packages(RUN_TOOLS, {CNI_PLUGINS / "bridge": "containernetworking-plugins"})
    if not force and built_ok():
        say(f"binaries up to date in {BIN.relative_to(ROOT)} ({STAMP.read_text().strip()})")
        return
    ensure_packages(BUILD_TOOLS)
    started = time.monotonic()
    tree, version = fetch_source()
    say(f"building {', '.join(BINARIES)} from {SOURCE_PACKAGE} {version} (cold: about 5 min on 2 cores)")
    env = {
        **os.environ,
        # GOPATH mode with the vendored tree (hack/lib/init.sh sets GO111MODULE=off and
        # its own GOPATH and build cache under _output); nothing may be fetched.
        "GOPROXY": "off",
        "GOFLAGS": "",
        # Static binaries, as Debian's package builds them.
        "CGO_ENABLED": "0",
    }
    LOG.mkdir(parents=True, exist_ok=True)
    log = LOG / "build.log"
    with log.open("a") as out:
        for target in ("generated_files", "WHAT=" + " ".join(f"cmd/{b}" for b in BINARIES)):
            say(f"make {target}  (log: {log.relative_to(ROOT)})")
            done = subprocess.run(["make", target], cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                raise Failed(f"make {target} failed; see {log}")
    BIN.mkdir(parents=True, exist_ok=True)
    for name in BINARIES:
        # Copy, then rename over: the old binary may be running (ETXTBSY on a write).
        shutil.copy2(tree / "_output" / "bin" / name, BIN / f".{name}.new")
        os.replace(BIN / f".{name}.new", BIN / name)
    STAMP.write_text(f"{SOURCE_PACKAGE} {version} {binary_version(BIN / 'kube-apiserver')}\n")
    if not keep_source:
        # 2.7 GB with Go's build cache; the binaries are the cache that counts (a rebuild
        # in the old tree regenerates everything and takes nearly as long as a cold one).
        shutil.rmtree(tree)
        for copy in SRC.glob(f"{SOURCE_PACKAGE}_*.orig.tar.*"):  # dpkg-source's copy beside the tree
            copy.unlink()
    say(f"built in {time.monotonic() - started:.0f} s: {STAMP.read_text().strip()}")


# --- certificates ----------------------------------------------------------------------


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki() -> None:
    """CA, serving and client certificates and the service-account key (each once)."""
    PKI.mkdir(parents=True, exist_ok=True)
    os.chmod(PKI, 0o700)
    conf = PKI / "openssl.cnf"
    conf.write_text(
        "[req]\ndistinguished_name=dn\n[dn]\n[ca]\n"
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n"
        "subjectKeyIdentifier=hash\n"
    )
    if not (PKI / "ca.crt").exists():
        say(f"making certificates in {PKI.relative_to(ROOT)} (openssl)")
        openssl(
            "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
            "-config", str(conf), "-extensions", "ca", "-subj", f"/CN={CLUSTER}-ca",
            "-keyout", str(PKI / "ca.key"), "-out", str(PKI / "ca.crt"),
        )  # fmt: skip
    server_sans = "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
    server_sans += f"DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:{SERVICE_IP}"
    # (file name, subject, extended key usage, subjectAltName)
    leaves = [
        ("apiserver", "/CN=kube-apiserver", "serverAuth", server_sans),
        # cluster-admin: bootstrap RBAC binds the system:masters group to cluster-admin.
        ("admin", "/O=system:masters/CN=kubernetes-admin", "clientAuth", None),
        # Bootstrap RBAC has the roles of these users; the node's identity is what the
        # Node authorizer and NodeRestriction expect of a kubelet.
        ("controller-manager", "/CN=system:kube-controller-manager", "clientAuth", None),
        ("scheduler", "/CN=system:kube-scheduler", "clientAuth", None),
        ("kubelet", f"/O=system:nodes/CN=system:node:{NODE_NAME}", "clientAuth", None),
        # The API server's identity towards the kubelet (logs, exec).
        (
            "apiserver-kubelet-client",
            "/O=system:masters/CN=kube-apiserver-kubelet-client",
            "clientAuth",
            None,
        ),
    ]
    for name, subject, usage, sans in leaves:
        if (PKI / f"{name}.crt").exists():
            continue
        ext = PKI / f"{name}.ext"
        ext.write_text(
            "[v3]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage={usage}\n" + (f"subjectAltName={sans}\n" if sans else "")
        )
        openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-config", str(conf),
            "-subj", subject, "-keyout", str(PKI / f"{name}.key"), "-out", str(PKI / f"{name}.csr"),
        )  # fmt: skip
        openssl(
            "x509", "-req", "-in", str(PKI / f"{name}.csr"), "-CA", str(PKI / "ca.crt"),
            "-CAkey", str(PKI / "ca.key"), "-CAcreateserial", "-days", "3650", "-sha256",
            "-extfile", str(ext), "-extensions", "v3", "-out", str(PKI / f"{name}.crt"),
        )  # fmt: skip
    if not (PKI / "sa.pub").exists():
        openssl("genrsa", "-out", str(PKI / "sa.key"), "2048")
        openssl("rsa", "-in", str(PKI / "sa.key"), "-pubout", "-out", str(PKI / "sa.pub"))


def kubeconfig(server: str, user: str, embed: bool) -> dict:
    """A kubeconfig as a dict (written as JSON, which kubectl reads like YAML)."""

    def ref(field: str, path: Path) -> dict:
        if embed:
            return {f"{field}-data": base64.b64encode(path.read_bytes()).decode()}
        return {field: str(path)}

    cluster = {"server": server, **ref("certificate-authority", PKI / "ca.crt")}
    credentials = {**ref("client-certificate", PKI / f"{user}.crt"), **ref("client-key", PKI / f"{user}.key")}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": cluster}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": CLUSTER, "context": {"cluster": CLUSTER, "user": user}}],
        "current-context": CLUSTER,
    }


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    tmp.replace(path)


def write_json(path: Path, data: dict, mode: int = 0o600) -> None:
    write_file(path, json.dumps(data, indent=2) + "\n", mode)


# --- processes -------------------------------------------------------------------------


def pid_alive(pid: int, program: str) -> bool:
    """True when `pid` runs and is `program` (a recycled pid is not ours)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    # stat is "pid (comm) state ..."; Z = exited but not reaped (the pid 1 of this
    # sandbox does not reap orphans).
    comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
    if rest.split()[0] in ("Z", "X"):
        return False
    return comm == program[:15] or any(program.encode() in part for part in cmdline[:3])


def running(name: str) -> int | None:
    """The pid of component `name` if it runs, else None (a stale pid file is removed)."""
    pidfile = PIDS / f"{name}.pid"
    try:
        pid_text, program = pidfile.read_text().split(maxsplit=1)
    except (OSError, ValueError):
        return None
    if pid_alive(int(pid_text), program.strip()):
        return int(pid_text)
    pidfile.unlink(missing_ok=True)
    return None


# What this process started, by component: while `up` waits, poll() tells at once (and
# for sure) whether a component died.
STARTED: dict[str, subprocess.Popen] = {}


def start(name: str, argv: list[str], program: str | None = None) -> int:
    """Start a component in the background, in a session of its own (a ^C in the caller's
    shell does not reach it), logging to var/k8s/log/<name>.log; writes its pid file."""
    LOG.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    with (LOG / f"{name}.log").open("ab") as log:
        log.write(f"\n===== {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
    (PIDS / f"{name}.pid").write_text(f"{proc.pid} {program or Path(argv[0]).name}\n")
    STARTED[name] = proc
    return proc.pid


def stop(name: str, timeout: float) -> None:
    pid = running(name)
    if pid is None:
        return
    program = (PIDS / f"{name}.pid").read_text().split(maxsplit=1)[1].strip()
    say(f"stopping {name} (pid {pid})")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid, program):
        time.sleep(0.1)
    if pid_alive(pid, program):
        say(f"{name} did not stop within {timeout:.0f} s: SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    (PIDS / f"{name}.pid").unlink(missing_ok=True)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports() -> dict[str, int]:
    """Loopback ports for every listener: last run's while they are free, else new ones."""
    names = (
        "etcd_client",
        "etcd_peer",
        "apiserver",
        "controller_manager",
        "scheduler",
        "kubelet",
        "kubelet_healthz",
    )
    previous: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError):
        previous = json.loads(STATE.read_text())
    ports: dict[str, int] = {}
    for name in names:
        port = previous.get(name)
        while not port or not port_free(port) or port in ports.values():
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        ports[name] = port
    write_json(STATE, ports, 0o644)
    return ports


def ssl_context(client: str | None = "admin") -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(PKI / "ca.crt"))
    if client:
        context.load_cert_chain(PKI / f"{client}.crt", PKI / f"{client}.key")
    return context


def http(
    url: str,
    context: ssl.SSLContext | None = None,
    method: str = "GET",
    body: dict | None = None,
    timeout: float = 5,
) -> tuple[int, str]:
    """(status, body) of a request; (0, error) when nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/merge-patch+json" if method == "PATCH" else "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - loopback URL
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as r:  # noqa: S310
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def api(path: str, method: str = "GET", body: dict | None = None, timeout: float = 10) -> tuple[int, dict]:
    """A call to the API server as cluster-admin; (0, {}) when it does not answer."""
    try:
        ports = json.loads(STATE.read_text())
    except (OSError, ValueError):
        return 0, {}
    code, text = http(f"https://127.0.0.1:{ports['apiserver']}{path}", ssl_context(), method, body, timeout)
    try:
        return code, json.loads(text) if text else {}
    except ValueError:
        return code, {"message": text}


def wait_for(what: str, name: str, check, timeout: float) -> None:
    """Poll `check()` until true; fail with the component's log tail if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        proc = STARTED.get(name)
        if proc is not None and proc.poll() is not None:
            raise Failed(f"{name} exited ({proc.returncode}) while waiting for {what}:\n{log_tail(name)}")
        time.sleep(0.25)
    raise Failed(f"timed out after {timeout:.0f} s waiting for {what}:\n{log_tail(name)}")


def log_tail(name: str, lines: int = 25) -> str:
    try:
        return "\n".join((LOG / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- the control plane -----------------------------------------------------------------


def start_control_plane(ports: dict[str, int]) -> None:
    server = f"https://127.0.0.1:{ports['apiserver']}"
    for user in ("controller-manager", "scheduler", "kubelet"):
        write_json(RUN / f"{user}.kubeconfig", kubeconfig(server, user, embed=False))
    ETCD_DATA.mkdir(parents=True, exist_ok=True)
    os.chmod(ETCD_DATA, 0o700)

    etcd_client = f"http://127.0.0.1:{ports['etcd_client']}"
    etcd_peer = f"http://127.0.0.1:{ports['etcd_peer']}"
    # Plain HTTP between etcd and the API server: both on loopback, throwaway data.
    start(
        "etcd",
        [
            shutil.which("etcd") or "etcd",
            "--name=e2e",
            f"--data-dir={ETCD_DATA}",
            f"--listen-client-urls={etcd_client}",
            f"--advertise-client-urls={etcd_client}",
            f"--listen-peer-urls={etcd_peer}",
            f"--initial-advertise-peer-urls={etcd_peer}",
            f"--initial-cluster=e2e={etcd_peer}",
            "--initial-cluster-state=new",
            "--auto-compaction-retention=1h",
        ],
    )
    wait_for("etcd /health", "etcd", lambda: '"health":"true"' in http(f"{etcd_client}/health")[1], 30)

    start(
        "kube-apiserver",
        [
            str(BIN / "kube-apiserver"),
            f"--etcd-servers={etcd_client}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports['apiserver']}",
            "--insecure-port=0",
            "--advertise-address=127.0.0.1",
            f"--client-ca-file={PKI / 'ca.crt'}",
            f"--tls-cert-file={PKI / 'apiserver.crt'}",
            f"--tls-private-key-file={PKI / 'apiserver.key'}",
            f"--kubelet-client-certificate={PKI / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={PKI / 'apiserver-kubelet-client.key'}",
            # The node's address is the bridge's (its name does not resolve).
            "--kubelet-preferred-address-types=InternalIP",
            f"--service-account-key-file={PKI / 'sa.pub'}",
            f"--service-account-signing-key-file={PKI / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            # The 1.20 defaults (NamespaceLifecycle, LimitRanger, ServiceAccount,
            # DefaultTolerationSeconds, ResourceQuota, Priority, the webhooks, ...) plus
            # NodeRestriction, as a real cluster runs.
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            f"--feature-gates={FEATURE_GATES}",
            "--event-ttl=1h",
            "--v=1",
        ],
    )
    wait_for(
        "the API server's /readyz",
        "kube-apiserver",
        lambda: http(f"{server}/readyz", ssl_context())[0] == 200,
        90,
    )
    write_json(KUBECONFIG, kubeconfig(server, "admin", embed=True))

    common = ["--bind-address=127.0.0.1", "--port=0", "--leader-elect=false", "--v=1"]
    start(
        "kube-controller-manager",
        [
            str(BIN / "kube-controller-manager"),
            *(f"--{flag}={RUN / 'controller-manager.kubeconfig'}" for flag in ("kubeconfig", *AUTH_FLAGS)),
            f"--secure-port={ports['controller_manager']}",
            *common,
            # Every controller that is on by default: deployment, replicaset, job,
            # garbagecollector, ttl-after-finished (with the gate), endpoint(slice),
            # serviceaccount(-token), namespace, nodelifecycle, podgc, disruption, ...
            "--controllers=*",
            f"--feature-gates={FEATURE_GATES}",
            f"--service-account-private-key-file={PKI / 'sa.key'}",
            f"--root-ca-file={PKI / 'ca.crt'}",
            "--use-service-account-credentials=true",
            f"--cluster-signing-cert-file={PKI / 'ca.crt'}",
            f"--cluster-signing-key-file={PKI / 'ca.key'}",
        ],
    )
    start(
        "kube-scheduler",
        [
            str(BIN / "kube-scheduler"),
            *(f"--{flag}={RUN / 'scheduler.kubeconfig'}" for flag in ("kubeconfig", *AUTH_FLAGS)),
            f"--secure-port={ports['scheduler']}",
            *common,
        ],
    )
    # Their serving certificates are self-signed at start: nothing to verify on loopback;
    # /healthz is always allowed without credentials.
    insecure = ssl._create_unverified_context()  # noqa: S323
    for name, port in (("kube-controller-manager", "controller_manager"), ("kube-scheduler", "scheduler")):
        url = f"https://127.0.0.1:{ports[port]}/healthz"
        wait_for(f"{name} /healthz", name, lambda url=url: http(url, insecure)[0] == 200, 60)


# --- the node: containerd, the host gateway, kubelet ------------------------------------


def containerd_socket() -> Path:
    # A unix socket path must fit in 108 bytes (with ".ttrpc" appended by containerd).
    path = CONTAINERD_DIR / "containerd.sock"
    return path if len(str(path)) < 96 else Path("/run/chairtime-e2e/containerd.sock")


def ctr(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    argv = ["ctr", "--address", str(containerd_socket()), "--namespace", CRI_NAMESPACE, *args]
    return subprocess.run(argv, check=check, capture_output=True, **kwargs)


def ensure_bridge() -> None:
    """The pods' bridge with the host gateway address, before the first pod: the node's
    address (the kubelet refuses 127.0.0.1) and the host gateway's. The CNI bridge
    plugin adopts it. Stays until `down --wipe`."""
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", BRIDGE], capture_output=True, text=True)
    if f" {HOST_GATEWAY}/" in shown.stdout:
        return
    if shown.returncode != 0:
        subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True, capture_output=True)
    prefix = POD_SUBNET.split("/")[1]
    subprocess.run(
        ["ip", "addr", "add", f"{HOST_GATEWAY}/{prefix}", "dev", BRIDGE], check=True, capture_output=True
    )
    subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True, capture_output=True)


def start_containerd() -> None:
    ensure_bridge()
    sock = containerd_socket()
    sock.parent.mkdir(parents=True, exist_ok=True)
    for path in (CNI_DIR / "net.d", CNI_DIR / "ipam"):
        path.mkdir(parents=True, exist_ok=True)
    # One bridge, host-local addresses. No IP masquerading and no portmap: pods only talk
    # to each other and to the host gateway, so no iptables rules are left behind.
    cni = {
        "cniVersion": "0.4.0",
        "name": CLUSTER,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET, "gateway": HOST_GATEWAY}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(CNI_DIR / "ipam"),
                },
            }
        ],
    }
    write_json(CNI_DIR / "net.d" / "10-chairtime-e2e.conflist", cni, 0o644)
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    write_file(
        CONTAINERD_DIR / "config.toml",
        f"""# Written by deploy/k8s/e2e/cluster.py; rewritten at every `up`.
version = 2
root = "{CONTAINERD_DIR / "root"}"
state = "{CONTAINERD_DIR / "state"}"
[grpc]
  address = "{sock}"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # The one setting this sandbox needs: root here lacks CAP_SYS_RESOURCE, so runc
  # cannot lower oom_score_adj (the kubelet asks -998 for every pod sandbox) and fails
  # with "can't get final child's PID from pipe: EOF". With this, containerd clamps
  # the value to its own (docs/e2e-k8s.md, "The real kubelet").
  restrict_oom_score_adj = true
  enable_selinux = false
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{CONTAINERD_DIR / "runc"}"
  [{cri}.cni]
    bin_dir = "{CNI_PLUGINS}"
    conf_dir = "{CNI_DIR / "net.d"}"
""",
    )
    start("containerd", ["containerd", "--config", str(CONTAINERD_DIR / "config.toml")], program="containerd")
    wait_for("containerd", "containerd", lambda: ctr("version", check=False).returncode == 0, 30)
    ensure_pause_image()


def ensure_pause_image() -> None:
    """The pod sandbox image: catatonit in pause mode, made here (no registry to pull from)."""
    if PAUSE_IMAGE.encode() in ctr("images", "ls", "-q").stdout:
        return
    catatonit = Path(shutil.which("catatonit") or "/usr/bin/catatonit").read_bytes()

    def descriptor(data: bytes, media_type: str) -> dict:
        return {"mediaType": media_type, "digest": digest(data), "size": len(data)}

    def digest(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    layer_tar = io.BytesIO()
    with tarfile.open(fileobj=layer_tar, mode="w") as tar:
        info = tarfile.TarInfo("pause")
        info.size, info.mode = len(catatonit), 0o755
        tar.addfile(info, io.BytesIO(catatonit))
    layer = gzip.compress(layer_tar.getvalue(), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/pause", "-P"]},
            "rootfs": {"type": "layers", "diff_ids": [digest(layer_tar.getvalue())]},
        }
    ).encode()
    oci = "application/vnd.oci.image"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": f"{oci}.manifest.v1+json",
            "config": descriptor(config, f"{oci}.config.v1+json"),
            "layers": [descriptor(layer, f"{oci}.layer.v1.tar+gzip")],
        }
    ).encode()
    entry = descriptor(manifest, f"{oci}.manifest.v1+json")
    entry["annotations"] = {"io.containerd.image.name": PAUSE_IMAGE}
    index = {"schemaVersion": 2, "manifests": [entry]}
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": json.dumps(index).encode()}
        files.update({f"blobs/sha256/{digest(d)[7:]}": d for d in (layer, config, manifest)})
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    ctr("images", "import", "-", input=archive.getvalue())
    say(f"made the pod sandbox image {PAUSE_IMAGE} (catatonit)")


def start_host_gateway(ports: list[int]) -> None:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "host-gateway",
        "--ports",
        ",".join(map(str, ports)),
    ]
    start("host-gateway", argv, program="cluster.py")
    time.sleep(0.3)
    if STARTED["host-gateway"].poll() is not None:
        raise Failed(f"the host gateway did not start:\n{log_tail('host-gateway')}")


def host_gateway(ports: list[int]) -> None:
    """Forward HOST_GATEWAY:port -> 127.0.0.1:port for each port, until SIGTERM.

    Pods reach the host at their gateway address, but the machine's databases listen on
    127.0.0.1 only; connecting from here, the server sees a loopback client, so its
    loopback-only authentication rules (PostgreSQL's pg_hba "trust" for 127.0.0.1) hold.
    IP_FREEBIND: should the bridge's address be missing, listen anyway.
    """

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    async def serve(port: int) -> asyncio.base_events.Server:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_FREEBIND", 15), 1)
        sock.bind((HOST_GATEWAY, port))
        return await asyncio.start_server(handle, sock=sock)

    async def main() -> None:
        servers = [await serve(port) for port in ports]
        print(f"host gateway: {HOST_GATEWAY}:{{{','.join(map(str, ports))}}} -> 127.0.0.1", flush=True)
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopped.set)
        await stopped.wait()
        for server in servers:
            server.close()

    asyncio.run(main())


def mount_pod_logs() -> None:
    """Keep the pods' logs under var/k8s/log (and out of the machine's /var/log): bind
    mounts over the kubelet's fixed directories, undone by `down`."""
    mounted = set(LOG_MOUNTS.read_text().split()) if LOG_MOUNTS.exists() else set()
    mount_points = {line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()}
    mounted &= mount_points  # not after a reboot
    for target, source in POD_LOGS.items():
        if str(target) in mounted:
            continue
        source.mkdir(parents=True, exist_ok=True)
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--bind", str(source), str(target)], check=True, capture_output=True)
        mounted.add(str(target))
        write_file(LOG_MOUNTS, "\n".join(sorted(mounted)) + "\n")


def unmount_pod_logs() -> None:
    if not LOG_MOUNTS.exists():
        return
    for target in LOG_MOUNTS.read_text().split():
        subprocess.run(["umount", target], capture_output=True)
    LOG_MOUNTS.unlink()


def start_kubelet(ports: dict[str, int]) -> None:
    KUBELET_DIR.mkdir(parents=True, exist_ok=True)
    mount_pod_logs()
    resolv = RUN / "pod-resolv.conf"
    # No cluster DNS runs; a nameserver that answers nothing at the host gateway makes a
    # lookup fail at once instead of the kubelet warning MissingClusterDNS on every pod.
    write_file(resolv, "# pods: no DNS in the e2e cluster; use IP addresses\n")
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # The kubelet API (logs, exec) on the node's address: the kubelet refuses a
        # loopback node IP, and the bridge's address is as private as loopback.
        "address": HOST_GATEWAY,
        "port": ports["kubelet"],
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": ports["kubelet_healthz"],
        "cgroupDriver": "cgroupfs",  # no systemd here
        "failSwapOn": False,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(PKI / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "clusterDomain": "cluster.local",
        "clusterDNS": [HOST_GATEWAY],
        "resolvConf": str(resolv),
        # A shared machine: do not evict pods or delete images because its disk is
        # fuller than a node's would be (the defaults evict below 10-15% free).
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "volumePluginDir": str(KUBELET_DIR / "volume-plugins"),
        "rotateCertificates": False,
    }
    write_json(RUN / "kubelet-config.json", config, 0o644)
    start(
        "kubelet",
        [
            str(BIN / "kubelet"),
            f"--config={RUN / 'kubelet-config.json'}",
            f"--kubeconfig={RUN / 'kubelet.kubeconfig'}",
            "--container-runtime=remote",
            f"--container-runtime-endpoint=unix://{containerd_socket()}",
            f"--pod-infra-container-image={PAUSE_IMAGE}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={HOST_GATEWAY}",
            f"--node-labels=topology.kubernetes.io/zone={ZONE}",
            f"--root-dir={KUBELET_DIR}",
            f"--cert-dir={KUBELET_DIR / 'pki'}",
            "--v=1",
        ],
    )

    def node_ready() -> bool:
        code, node = api(f"/api/v1/nodes/{NODE_NAME}")
        conditions = node.get("status", {}).get("conditions", []) if code == 200 else []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    wait_for(f"node {NODE_NAME} Ready", "kubelet", node_ready, 90)
    # `down` cordons the node; a new `up` opens it again.
    api(f"/api/v1/nodes/{NODE_NAME}", "PATCH", {"spec": {"unschedulable": None}})


# --- up / down / status / load-image ------------------------------------------------------


def up(forwards: list[int], control_plane_only: bool) -> None:
    started = time.monotonic()
    build()
    make_pki()
    wanted = CONTROL_PLANE if control_plane_only else COMPONENTS
    already = [name for name in wanted if running(name)]
    if len(already) == len(wanted):
        ports = json.loads(STATE.read_text())
        say(f"already up (API server https://127.0.0.1:{ports['apiserver']})")
    else:
        if already:
            say(f"partly up ({', '.join(already)}): restarting everything")
            down(wipe=False, grace=5)
        ports = pick_ports()
        start_control_plane(ports)
        if not control_plane_only:
            start_containerd()
            start_host_gateway(sorted(set(DEFAULT_FORWARDS) | set(forwards)))
            start_kubelet(ports)
        say(f"up in {time.monotonic() - started:.1f} s")
    print(
        f"\nKubernetes {binary_version(BIN / 'kube-apiserver')} at https://127.0.0.1:{ports['apiserver']}"
        + (
            ""
            if control_plane_only
            else f"; node {NODE_NAME}, pods on {POD_SUBNET}, host gateway {HOST_GATEWAY}"
        )
        + f". Use it with:\n\n    export KUBECONFIG={KUBECONFIG}\n"
        f"    {ROOT / 'var/tools/bin/kubectl'} get nodes\n\n"
        f"Images: {Path(__file__).relative_to(ROOT)} load-image <podman image>   Logs: {LOG}/*.log\n"
        f"Stop: {Path(__file__).relative_to(ROOT)} down [--wipe]"
    )


def drain(grace: int) -> None:
    """Cordon the node and delete its pods, letting the kubelet stop them gracefully."""
    selector = urllib.parse.quote(f"spec.nodeName={NODE_NAME}")
    code, _ = api(f"/api/v1/nodes/{NODE_NAME}", "PATCH", {"spec": {"unschedulable": True}})
    if code != 200:
        return
    code, pods = api(f"/api/v1/pods?fieldSelector={selector}")
    items = pods.get("items", []) if code == 200 else []
    if not items:
        return
    say(f"draining {NODE_NAME}: deleting {len(items)} pod(s), grace at most {grace} s")
    longest = 0
    for pod in items:
        meta = pod["metadata"]
        own = pod["spec"].get("terminationGracePeriodSeconds", 30)
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            own = 0  # nothing runs: no need to wait for the kubelet to confirm
        longest = max(longest, min(own, grace))
        api(
            f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
            "DELETE",
            {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": min(own, grace)},
        )
    deadline = time.monotonic() + longest + 30
    while time.monotonic() < deadline:
        code, pods = api(f"/api/v1/pods?fieldSelector={selector}")
        if code != 200 or not pods.get("items"):
            return
        time.sleep(0.5)
    say("some pods were not gone in time; their containers are removed by force")


def remove_containers() -> None:
    """Kill and delete whatever containerd still runs for the kubelet (after the kubelet
    stopped), and the network namespaces of its pod sandboxes."""
    if running("containerd") is None:
        return
    ids = ctr("containers", "ls", "-q", check=False).stdout.decode().split()
    for cid in ids:
        info = ctr("containers", "info", cid, check=False)
        netns = []
        with contextlib.suppress(ValueError, KeyError, TypeError):
            namespaces = json.loads(info.stdout)["Spec"]["linux"]["namespaces"]
            netns = [n["path"] for n in namespaces if n["type"] == "network" and n.get("path")]
        ctr("tasks", "kill", "--signal", "SIGKILL", cid, check=False)
        for _ in range(50):  # the task is deletable once the kill has landed
            deleted = ctr("tasks", "delete", cid, check=False)
            if deleted.returncode == 0 or b"not found" in deleted.stderr:
                break
            time.sleep(0.1)
        ctr("containers", "delete", cid, check=False)
        for path in netns:
            subprocess.run(["umount", path], capture_output=True)
            Path(path).unlink(missing_ok=True)
    if ids:
        say(f"removed {len(ids)} container(s) left in containerd")


def unmount_under(base: Path) -> None:
    """Unmount everything the kubelet and containerd mounted below `base`, deepest first."""
    mounts = []
    for line in Path("/proc/mounts").read_text().splitlines():
        target = line.split()[1].replace("\\040", " ")
        if target == str(base) or target.startswith(str(base) + "/"):
            mounts.append(target)
    for target in sorted(set(mounts), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", target], capture_output=True)


def stop_shims() -> None:
    """containerd's shims outlive it; stop the ones serving our containerd (there are none
    once every container is deleted, unless containerd died first)."""
    address = str(containerd_socket()).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if cmdline and cmdline[0].endswith(b"containerd-shim-runc-v2") and address in cmdline:
                os.kill(int(proc.name), signal.SIGKILL)


def down(wipe: bool, grace: int) -> None:
    if running("kubelet") and running("kube-apiserver"):
        drain(grace)
    for name in ("kubelet", "host-gateway"):
        stop(name, 30)
    remove_containers()
    stop("containerd", 30)
    stop_shims()
    for name in reversed(CONTROL_PLANE):
        stop(name, 30)
    unmount_under(VAR)
    unmount_pod_logs()
    if wipe:
        for path in (ETCD_DATA, KUBELET_DIR, CNI_DIR / "ipam", STATE, KUBECONFIG, *POD_LOGS.values()):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True)
        say("wiped the etcd data, the kubelet's state, the pods' logs and bridge")
    say("down")


def status() -> int:
    """Prints each component's state; 0 = all up, 3 = all down, 1 = partly up."""
    up_count = 0
    for name in COMPONENTS:
        pid = running(name)
        up_count += pid is not None
        print(f"{name:24} {'running, pid ' + str(pid) if pid else 'stopped'}")
    if running("kube-apiserver"):
        ports = json.loads(STATE.read_text())
        code, _ = api("/readyz")
        print(f"{'API server':24} https://127.0.0.1:{ports['apiserver']} /readyz -> {code}")
        code, nodes = api("/api/v1/nodes")
        for node in nodes.get("items", []) if code == 200 else []:
            ready = [c["status"] for c in node["status"].get("conditions", []) if c["type"] == "Ready"]
            print(f"{'node':24} {node['metadata']['name']} Ready={ready[0] if ready else 'Unknown'}")
        print(f"{'kubeconfig':24} {KUBECONFIG}")
    if STAMP.exists():
        print(f"{'binaries':24} {STAMP.read_text().strip()}")
    if all(map(running, CONTROL_PLANE)) and (all(map(running, NODE)) or not any(map(running, NODE))):
        return 0  # up, with its node or --control-plane-only
    return 3 if up_count == 0 else 1


def load_image(images: list[str]) -> None:
    """Copy images from podman's store into the node's containerd (skipped when the same
    image is already there). Pod specs name them as podman does: localhost/<name>:<tag>."""
    if running("containerd") is None:
        raise Failed("containerd is not running: `cluster.py up` first")
    loaded: dict[str, str] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(IMAGES.read_text())
    present = set(ctr("images", "ls", "-q").stdout.decode().split())
    for image in images:
        inspect = subprocess.run(
            ["podman", "image", "inspect", "--format", "{{.Id}} {{range .RepoTags}}{{.}} {{end}}", image],
            capture_output=True,
            text=True,
        )
        if inspect.returncode != 0:
            raise Failed(f"podman has no image {image!r}: {inspect.stderr.strip()}")
        image_id, *tags = inspect.stdout.split()
        # The name asked for, as podman spells it (chairtime:1 -> localhost/chairtime:1);
        # an image may carry several tags, and each is loaded under its own.
        ref = next((t for t in tags if t == image or t.endswith("/" + image)), None)
        if ref is None:
            raise Failed(f"{image!r} is not one of the image's names in podman: {', '.join(tags) or 'none'}")
        if loaded.get(ref) == image_id and ref in present:
            say(f"{ref} already in the node's containerd")
            print(ref)
            continue
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="load-image-", dir=RUN) as tmp:
            archive = Path(tmp) / "image.tar"
            subprocess.run(
                ["podman", "save", "--quiet", "--format", "docker-archive", "-o", str(archive), ref],
                check=True,
            )
            ctr("images", "import", str(archive))
        loaded[ref] = image_id
        write_json(IMAGES, loaded, 0o644)
        say(f"loaded {ref} into the node's containerd in {time.monotonic() - started:.1f} s")
        print(ref)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the kube-* binaries (cached)")
    b.add_argument("--force", action="store_true", help="rebuild even if the cached binaries are right")
    b.add_argument("--keep-source", action="store_true", help="keep the unpacked source tree (2.7 GB)")
    u = sub.add_parser("up", help="start the cluster in the background")
    u.add_argument(
        "--forward",
        type=int,
        action="append",
        default=[],
        metavar="PORT",
        help=f"also forward {HOST_GATEWAY}:PORT to 127.0.0.1:PORT (always: {DEFAULT_FORWARDS})",
    )
    u.add_argument("--control-plane-only", action="store_true", help="no containerd, no kubelet")
    d = sub.add_parser("down", help="stop everything `up` started")
    d.add_argument("--wipe", action="store_true", help="also delete the etcd data and the kubelet's state")
    d.add_argument("--grace", type=int, default=10, help="longest grace period given to pods (s)")
    sub.add_parser("status", help="what runs; exit 0 up, 3 down, 1 partly")
    li = sub.add_parser("load-image", help="copy podman images into the node's containerd")
    li.add_argument("images", nargs="+")
    gw = sub.add_parser("host-gateway", help="(internal: the forwarder `up` starts)")
    gw.add_argument("--ports", required=True)
    args = parser.parse_args()
    try:
        if args.command == "build":
            build(force=args.force, keep_source=args.keep_source)
        elif args.command == "up":
            up(args.forward, args.control_plane_only)
        elif args.command == "down":
            down(args.wipe, args.grace)
        elif args.command == "load-image":
            load_image(args.images)
        elif args.command == "host-gateway":
            host_gateway([int(p) for p in args.ports.split(",")])
        else:
            return status()
    except Failed as e:
        say(f"FAILED: {e}")
        return 1
    except subprocess.CalledProcessError as e:
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        say(f"FAILED: {' '.join(map(str, e.cmd))} exited with {e.returncode} {stderr.strip()}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
