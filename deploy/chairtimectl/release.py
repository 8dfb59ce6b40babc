"""A release: an image reference and the overlay it is rendered with.

Rendering works on a temporary copy of deploy/k8s, where the overlay's
``images:`` entry is set to the release's image (what ``kustomize edit set
image`` would do), so the working tree is never modified and the overlay's own
``replacements`` still name the migrations Job after the release's tag.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
IMAGE_NAME = "chairtime"  # the name the base uses, which `images:` rewrites
DEPLOYMENT = "chairtime-web"
CONTAINER = "web"


@dataclass(frozen=True)
class Workload:
    """A Deployment of the release: the web pods, or the message worker."""

    name: str
    container: str
    component: str
    load_balanced: bool

    @property
    def selector(self) -> str:
        return f"app.kubernetes.io/name=chairtime,app.kubernetes.io/component={self.component}"


WEB = Workload(DEPLOYMENT, CONTAINER, "web", load_balanced=True)
WORKER = Workload("chairtime-worker", "worker", "worker", load_balanced=False)
# In this order: the web pods first (they decide the release), then the worker.
WORKLOADS = (WEB, WORKER)


def workloads_of(objects: list[dict]) -> list[Workload]:
    """The release's Deployments that the overlay renders, web first."""
    names = {o["metadata"]["name"] for o in objects if o.get("kind") == "Deployment"}
    return [w for w in WORKLOADS if w.name in names]


_REF = re.compile(
    r"^(?P<repository>[a-z0-9]+(?:[._/:-][a-z0-9]+)*?)"  # may hold a registry host:port
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


class ReleaseError(Exception):
    """A release that cannot be rendered: the message says why, for a person."""


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """``repository:tag`` or ``repository:tag@sha256:<digest>``. A tag is
        required (it names the release and its migrations Job); ``latest`` is
        refused because it says nothing about what runs."""
        match = _REF.match(text.strip())
        if not match:
            raise ReleaseError(
                f"{text!r} is not an image reference of the form REPOSITORY:TAG[@sha256:DIGEST] "
                "(e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/chairtime:3f2a9c1)"
            )
        if match["tag"] == "latest":
            raise ReleaseError("refusing the tag 'latest': deploy an immutable tag (the commit SHA)")
        return cls(match["repository"], match["tag"], match["digest"])

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


def overlay_path(overlay: str) -> Path:
    """An overlay by name (deploy/k8s/overlays/NAME) or by path (a directory
    inside deploy/k8s, e.g. deploy/k8s/e2e/overlay)."""
    named = K8S / "overlays" / overlay
    if "/" not in overlay and named.is_dir():
        return named
    path = Path(overlay)
    path = path if path.is_absolute() else (Path.cwd() / path)
    path = path.resolve()
    if (path / "kustomization.yaml").is_file():
        if not path.is_relative_to(K8S):
            raise ReleaseError(f"{overlay}: overlays must live under {K8S.relative_to(ROOT)}/")
        return path
    known = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
    raise ReleaseError(f"no overlay {overlay!r}: use one of {', '.join(known)} or a path to one")


# A value the operator has not set yet: `<value> # PLACEHOLDER` in an overlay's own files
# (docs/aws.md, step 7; docs/kubernetes.md lists them). A comment line that merely
# mentions the word is not one.
_PLACEHOLDER = re.compile(r"^\s*[^#\s].*#\s*PLACEHOLDER\b")


def placeholders(overlay: str) -> list[str]:
    """The lines of the overlay's own YAML files still marked ``# PLACEHOLDER``, as
    ``path:line: text``. Bases and components are not read: an overlay that builds
    on another (the e2e overlay on the base) sets every value it needs itself."""
    source = overlay_path(overlay)
    found = []
    for path in sorted(source.iterdir()):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if _PLACEHOLDER.match(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def render(kube, overlay: str, image: ImageRef | None) -> list[dict]:
    """The overlay's objects, with ``image`` as the release when given."""
    source = overlay_path(overlay)
    with tempfile.TemporaryDirectory(prefix="chairtimectl-") as tmp:
        copy = Path(tmp) / "k8s"
        shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("tools", "__pycache__", "*.py"))
        target = copy / source.relative_to(K8S)
        if image is not None:
            set_image(target / "kustomization.yaml", image)
        rendered = kube.run(["kustomize", str(target)], namespaced=False)
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def set_image(kustomization: Path, image: ImageRef) -> None:
    data = yaml.safe_load(kustomization.read_text()) or {}
    entry: dict = {"name": IMAGE_NAME, "newName": image.repository, "newTag": image.tag}
    if image.digest:
        entry["digest"] = image.digest
    others = [i for i in data.get("images", []) if i.get("name") != IMAGE_NAME]
    data["images"] = [*others, entry]
    kustomization.write_text(yaml.safe_dump(data, sort_keys=False))


def namespace_of(objects: list[dict]) -> str:
    for obj in objects:
        if obj.get("kind") == "Deployment" and obj["metadata"]["name"] == DEPLOYMENT:
            return obj["metadata"].get("namespace", "default")
    raise ReleaseError(f"the overlay renders no Deployment {DEPLOYMENT}")


# Applied before the migrations Job (it needs them), and again with the rest. The
# SecurityGroupPolicy too: a pod gets its security group only if the policy exists when
# the pod is created, and without it the Job's pod could not reach the database.
_PREREQUISITES = {
    "Namespace",
    "ServiceAccount",
    "ConfigMap",
    "Secret",
    "SecretProviderClass",
    "SecurityGroupPolicy",
}


def split(objects: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """(what the migrations Job needs, the migrations Jobs, everything else)."""
    prerequisites = [o for o in objects if o["kind"] in _PREREQUISITES]
    jobs = [o for o in objects if o["kind"] == "Job"]
    rest = [o for o in objects if o["kind"] not in _PREREQUISITES and o["kind"] != "Job"]
    return prerequisites, jobs, rest
