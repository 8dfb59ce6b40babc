"""Image references and the rendering of an overlay with a release's image."""

from __future__ import annotations

import pytest
import yaml

from chairtimectl.kube import Kube, KubeError
from chairtimectl.release import K8S, ImageRef, ReleaseError, namespace_of, overlay_path, render, split

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "repository", "tag", "digest"),
    [
        ("chairtime:3f2a9c1", "chairtime", "3f2a9c1", None),
        ("127.0.0.1:5000/chairtime:v1.2", "127.0.0.1:5000/chairtime", "v1.2", None),
        (
            f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/chairtime:3f2a9c1@{DIGEST}",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/chairtime",
            "3f2a9c1",
            DIGEST,
        ),
    ],
)
def test_it_reads_image_references(text, repository, tag, digest):
    ref = ImageRef.parse(text)
    assert (ref.repository, ref.tag, ref.digest) == (repository, tag, digest)
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chairtime", "REPOSITORY:TAG"),
        ("chairtime@" + DIGEST, "REPOSITORY:TAG"),
        ("chairtime:latest", "refusing the tag 'latest'"),
        ("Chair Time:1", "REPOSITORY:TAG"),
        ("chairtime:1@sha256:short", "REPOSITORY:TAG"),
    ],
)
def test_it_refuses_unusable_references_with_a_reason(text, message):
    with pytest.raises(ReleaseError, match=message):
        ImageRef.parse(text)


def test_it_finds_overlays_by_name_or_path_inside_deploy_k8s(tmp_path):
    assert overlay_path("staging") == K8S / "overlays" / "staging"
    assert overlay_path(str(K8S / "overlays" / "prod")) == K8S / "overlays" / "prod"
    with pytest.raises(ReleaseError, match="use one of prod, staging"):
        overlay_path("qa")
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    with pytest.raises(ReleaseError, match="must live under deploy/k8s/"):
        overlay_path(str(tmp_path))


@pytest.fixture
def kube():
    try:
        return Kube()
    except KubeError as error:  # scripts/k8s-tools installs it; `make test` runs that
        pytest.skip(str(error))


def test_it_renders_an_overlay_with_the_release_and_leaves_the_tree_alone(kube):
    before = (K8S / "overlays" / "staging" / "kustomization.yaml").read_text()
    release = f"registry.example/chairtime:abc1234@{DIGEST}"
    objects = render(kube, "staging", ImageRef.parse(release))
    assert (K8S / "overlays" / "staging" / "kustomization.yaml").read_text() == before

    assert namespace_of(objects) == "chairtime-staging"
    prerequisites, jobs, rest = split(objects)
    assert [j["metadata"]["name"] for j in jobs] == ["chairtime-migrate-abc1234"]
    assert jobs[0]["spec"]["template"]["spec"]["containers"][0]["image"] == release
    assert {o["kind"] for o in prerequisites} >= {"Namespace", "ServiceAccount", "ConfigMap"}
    # The migrations pod gets the app pods' security group only if the policy is there first.
    assert "SecurityGroupPolicy" in {o["kind"] for o in prerequisites}
    deployment = next(o for o in rest if o["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == release
    assert "Job" not in {o["kind"] for o in rest} and "ConfigMap" not in {o["kind"] for o in rest}
    yaml.safe_dump_all(objects)  # plain data, ready for `kubectl apply`
