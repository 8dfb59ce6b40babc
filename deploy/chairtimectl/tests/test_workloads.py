"""A release is two Deployments (web and the message worker): deploy waits for both and
rolls both back when either fails; rollback takes the worker to the web pods' image.

The cluster is a small fake that keeps revisions the way the Deployment controller
does; the rollouts' waiting is replaced by a verdict per (Deployment, image)."""

from __future__ import annotations

import pytest

from chairtimectl import cli, report
from chairtimectl.release import K8S, WEB, WORKER, workloads_of

GOOD, NEW, BAD = "repo/chairtime:good", "repo/chairtime:new", "repo/chairtime:bad"


def deployment(name: str, container: str, image: str, rev: int) -> dict:
    return {
        "kind": "Deployment",
        "metadata": {"name": name, "uid": name, "annotations": {report.REVISION: str(rev)}},
        "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}},
    }


class FakeCluster:
    """Deployments with their ReplicaSets (one per revision, as the controller keeps them)."""

    def __init__(self, images: dict[str, str] | None = None) -> None:
        self.namespace = None
        self.revisions: dict[str, list[str]] = {}  # name -> image of revision 1, 2, ...
        self.current: dict[str, int] = {}
        self.undone: list[tuple[str, int]] = []
        for name, image in (images or {}).items():
            self._roll(name, image)

    def _container(self, name: str) -> str:
        return WEB.container if name == WEB.name else WORKER.container

    def _roll(self, name: str, image: str) -> None:
        revisions = self.revisions.setdefault(name, [])
        current = self.current.get(name)
        if current and revisions[current - 1] == image:
            return
        revisions.append(image)
        self.current[name] = len(revisions)

    def get(self, kind: str, name: str | None = None, **_) -> dict | None:
        assert kind == "deployment"
        if name not in self.current:
            return None
        rev = self.current[name]
        return deployment(name, self._container(name), self.revisions[name][rev - 1], rev)

    def items(self, kind: str, *, selector: str | None = None) -> list[dict]:
        assert kind == "replicasets"
        found = []
        for name, images in self.revisions.items():
            if selector and f"component={'web' if name == WEB.name else 'worker'}" not in selector:
                continue
            for rev, image in enumerate(images, 1):
                rs = deployment(f"{name}-{rev}", self._container(name), image, rev)
                rs["metadata"]["ownerReferences"] = [{"uid": name}]
                found.append(rs)
        return found

    def image(self, name: str) -> str:
        return self.revisions[name][self.current[name] - 1]

    def apply(self, objects: list[dict]) -> str:
        for obj in objects:
            if obj["kind"] == "Deployment":
                self._roll(obj["metadata"]["name"], obj["spec"]["template"]["spec"]["containers"][0]["image"])
        return ""

    def run(self, args: list[str], **_) -> str:
        assert args[:2] == ["rollout", "undo"]
        name = args[2].removeprefix("deployment/")
        rev = int(args[3].removeprefix("--to-revision="))
        self.undone.append((name, rev))
        self._roll(name, self.revisions[name][rev - 1])
        return ""


@pytest.fixture
def setup(monkeypatch):
    """(cluster, said): a fake cluster behind chairtimectl; BAD never becomes ready
    in the Deployments listed in ``failing`` (both by default)."""
    failing = {WEB.name, WORKER.name}
    cluster = FakeCluster()
    said: list[str] = []

    def rendered(kube, overlay, image):
        tag = str(image) if image else GOOD
        return [
            {"kind": "Namespace", "metadata": {"name": "chairtime-test"}},
            deployment(WEB.name, "web", tag, 0)
            | {"metadata": {"name": WEB.name, "namespace": "chairtime-test"}},
            deployment(WORKER.name, "worker", tag, 0) | {"metadata": {"name": WORKER.name}},
        ]

    def wait(kube, console, timeout, stuck_after, workload=WEB):
        if cluster.image(workload.name) == BAD and workload.name in failing:
            raise cli.Failed(f"{workload.name} pods not ready")

    monkeypatch.setattr(cli, "Kube", lambda context=None: cluster)
    monkeypatch.setattr(cli, "render", rendered)
    monkeypatch.setattr(cli, "check_configured", lambda args, console: True)
    monkeypatch.setattr(cli, "wait_for_rollout", wait)
    monkeypatch.setattr(cli.Console, "say", lambda self, message: said.append(message))
    monkeypatch.setattr(cli.Console, "block", lambda self, lines: said.extend(lines))
    return cluster, said, failing


def ctl(*argv: str) -> int:
    return cli.main(list(argv))


def test_the_overlays_render_both_deployments_web_first(setup):
    _cluster, _said, _ = setup
    objects = [
        {"kind": "Deployment", "metadata": {"name": WORKER.name}},
        {"kind": "Deployment", "metadata": {"name": WEB.name}},
    ]
    assert workloads_of(objects) == [WEB, WORKER]
    for overlay in ("staging", "prod"):
        text = (K8S / "overlays" / overlay / "kustomization.yaml").read_text()
        assert "name: chairtime-worker" in text  # its NetworkPolicy gets the VPC's CIDR


def test_a_release_rolls_out_both_deployments(setup):
    cluster, said, _ = setup
    assert ctl("deploy", "--image", GOOD, "--timeout", "5") == 0
    assert ctl("deploy", "--image", NEW, "--timeout", "5") == 0
    assert cluster.image(WEB.name) == cluster.image(WORKER.name) == NEW
    assert said[-1] == f"released {NEW} as revision 2; chairtime-worker revision 2"


@pytest.mark.parametrize("which_fails", [WEB.name, WORKER.name])
def test_when_either_deployment_fails_both_are_rolled_back(setup, which_fails):
    cluster, said, failing = setup
    assert ctl("deploy", "--image", GOOD, "--timeout", "5") == 0
    failing.intersection_update({which_fails})
    assert ctl("deploy", "--image", BAD, "--timeout", "5") == 1
    assert cluster.undone == [(WEB.name, 1), (WORKER.name, 1)]
    assert cluster.image(WEB.name) == cluster.image(WORKER.name) == GOOD
    assert f"RELEASE FAILED: {which_fails} pods not ready" in said


def test_the_workers_first_release_is_left_running_when_the_web_release_fails(setup):
    cluster, said, _ = setup
    cluster._roll(WEB.name, GOOD)  # a release from before the worker existed
    assert ctl("deploy", "--image", BAD, "--timeout", "5") == 1
    assert cluster.undone == [(WEB.name, 1)]
    assert any("chairtime-worker: nothing to roll back to (its first release)" in s for s in said)


def test_rollback_takes_the_worker_to_the_revision_that_ran_the_web_pods_target_image(setup):
    cluster, _said, _ = setup
    for image in (GOOD, NEW):
        assert ctl("deploy", "--image", image, "--timeout", "5") == 0
    # The worker's revisions no longer match the web pods' numbers.
    cluster._roll(WORKER.name, "repo/chairtime:hotfix")
    assert ctl("rollback", "--to-revision", "1", "--timeout", "5") == 0
    assert cluster.undone == [(WEB.name, 1), (WORKER.name, 1)]
    assert cluster.image(WEB.name) == cluster.image(WORKER.name) == GOOD


def test_rollback_leaves_a_worker_that_already_runs_the_target_image(setup):
    cluster, said, _ = setup
    assert ctl("deploy", "--image", GOOD, "--timeout", "5") == 0
    cluster._roll(WEB.name, BAD)  # `kubectl set image` on the web Deployment only
    assert ctl("rollback", "--timeout", "5") == 0
    assert cluster.undone == [(WEB.name, 1)]
    assert f"chairtime-worker: already runs {GOOD}" in said
