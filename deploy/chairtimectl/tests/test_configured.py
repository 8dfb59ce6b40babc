"""The pipeline's first execution, before the overlays are configured (docs/aws.md, step 6
before step 7): the deploy stops before the first request to the cluster."""

from __future__ import annotations

import shutil

import pytest

from chairtimectl import cli, release
from chairtimectl.release import K8S, placeholders


class NoCluster:
    """A Kube that fails the test on any use: nothing may reach the cluster."""

    def __init__(self, *args, **kwargs):
        raise AssertionError("chairtimectl built a Kube for an unconfigured overlay")


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_the_shipped_overlays_are_refused_until_configured(overlay, monkeypatch, capsys):
    monkeypatch.setattr(cli, "Kube", NoCluster)
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/chairtime:abc123def456@sha256:" + "a" * 64
    status = cli.main(["--overlay", overlay, "deploy", "--image", image, "--smoke-url", "https://{ingress}"])
    out = capsys.readouterr().out
    assert status == 2
    assert f"REFUSED: the overlay {overlay} is not configured yet" in out
    assert "Nothing was sent to the cluster." in out
    # Each placeholder is named with its file and line, e.g. the Ingress host.
    assert f"deploy/k8s/overlays/{overlay}/kustomization.yaml:" in out
    assert "chairtime.example # PLACEHOLDER" in out
    assert cli.main(["--overlay", overlay, "configured"]) == 2


def test_every_value_docs_list_as_a_placeholder_is_found():
    found = placeholders("staging")
    text = "\n".join(found)
    for value in (
        "newName:",
        "ALLOWED_HOSTS=",
        "CSRF_TRUSTED_ORIGINS=",
        "AWS_REGION=",
        "ANNOUNCEMENTS_TABLE=",
        "DATABASE_URL=",
        "certificate/",
        "10.20.0.0/16",
        "SITE_URL=",
        "DEFAULT_FROM_EMAIL=",
    ):
        assert value in text, value
    # The header comment mentions the word but is not a value.
    assert not any(":1: " in line for line in found)


def test_a_configured_overlay_passes_and_the_e2e_overlay_has_none(tmp_path, monkeypatch, capsys):
    assert placeholders(str(K8S / "e2e" / "overlay")) == []
    # A copy of deploy/k8s whose staging overlay has every marker removed (values kept).
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("tools", "__pycache__", "*.py"))
    kustomization = copy / "overlays" / "staging" / "kustomization.yaml"
    kustomization.write_text(
        "\n".join(line.split(" # PLACEHOLDER")[0] for line in kustomization.read_text().splitlines()) + "\n"
    )
    monkeypatch.setattr(release, "K8S", copy)
    monkeypatch.setattr(release, "ROOT", tmp_path)
    assert placeholders("staging") == []
    assert cli.main(["--overlay", "staging", "configured"]) == 0
    assert "has no # PLACEHOLDER left" in capsys.readouterr().out
