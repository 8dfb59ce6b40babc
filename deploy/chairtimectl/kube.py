"""kubectl, run for the operator command: the same binary and kubeconfig a
person would use, so every step can be repeated by hand."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class KubeError(Exception):
    """kubectl failed; the message carries its own error output."""


def find_kubectl() -> str:
    """$KUBECTL, else kubectl on PATH, else the one scripts/k8s-tools installs."""
    for candidate in (os.environ.get("KUBECTL"), shutil.which("kubectl"), ROOT / "var/tools/bin/kubectl"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise KubeError("kubectl not found: install it, set KUBECTL, or run scripts/k8s-tools")


def _readable(stderr: str) -> str:
    """kubectl's error without client-go's klog lines ("E1126 21:36:58 ... memcache.go"),
    which repeat what its last line says."""
    lines = [x for x in stderr.strip().splitlines() if not re.match(r"^[EWI]\d{4} ", x)]
    return "\n".join(lines).strip() or stderr.strip()


class Kube:
    def __init__(self, namespace: str | None = None, context: str | None = None) -> None:
        self.binary = find_kubectl()
        self.namespace = namespace
        self.context = context

    def run(
        self, args: list[str], *, input: str | None = None, namespaced: bool = True, check: bool = True
    ) -> str:
        command = [self.binary]
        if self.context:
            command += ["--context", self.context]
        if namespaced and self.namespace:
            command += ["--namespace", self.namespace]
        done = subprocess.run(  # noqa: S603 (kubectl, with our arguments)
            command + args, input=input, capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise KubeError(f"kubectl {' '.join(args)}: {_readable(done.stderr) or done.stdout.strip()}")
        return done.stdout

    def get(self, kind: str, name: str | None = None, *, selector: str | None = None) -> dict | None:
        """One object (None when it does not exist) or, without a name, a List."""
        args = ["get", kind] + ([name] if name else []) + ["-o", "json"]
        if selector:
            args += ["-l", selector]
        try:
            return json.loads(self.run(args))
        except KubeError as error:
            if name and "NotFound" in str(error):
                return None
            raise

    def items(self, kind: str, *, selector: str | None = None) -> list[dict]:
        return self.get(kind, selector=selector)["items"]

    def apply(self, objects: list[dict]) -> str:
        """`kubectl apply` of ``objects``; returns kubectl's lines
        ("deployment.apps/chairtime-web configured")."""
        if not objects:
            return ""
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        return self.run(["apply", "-f", "-"], input=document)

    def logs(self, pod: str, container: str, *, tail: int = 20, previous: bool = False) -> str:
        args = ["logs", pod, "-c", container, f"--tail={tail}"] + (["--previous"] if previous else [])
        try:
            return self.run(args)
        except KubeError as error:
            return f"(logs unavailable: {error})"
