"""scripts/image-publish and scripts/kubeconfig: their pure parts, and their AWS side
against moto in-process (the pushes themselves run in `make pipeline-local`)."""

from __future__ import annotations

import base64
import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path

import boto3
import pytest
import requests
import yaml
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()


def load(script: str):
    """A script without .py, as a module."""
    name = script.replace("-", "_")
    loader = importlib.machinery.SourceFileLoader(name, str(ROOT / "scripts" / script))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


publish = load("image-publish")
kubeconfig = load("kubeconfig")


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_EKS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


# --- image-publish: the pure parts -------------------------------------------------------------------


def test_the_repository_uri_splits_into_registry_and_name():
    assert publish.split_repository("123456789012.dkr.ecr.eu-west-1.amazonaws.com/chairtime") == (
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "chairtime",
    )
    assert publish.split_repository("127.0.0.1:5000/team/chairtime") == ("127.0.0.1:5000", "team/chairtime")
    for bad in ("chairtime", "host/", "host/Chairtime", "host/chairtime:tag"):
        with pytest.raises(publish.Refused, match="not a repository URI"):
            publish.split_repository(bad)


def test_the_tag_comes_from_the_build_and_latest_is_refused():
    assert publish.tag_of("localhost/chairtime:3f2a9c1b7d0e") == "3f2a9c1b7d0e"
    assert publish.tag_of("localhost:5000/chairtime:abc") == "abc"
    with pytest.raises(publish.Refused, match="'latest'"):
        publish.tag_of("localhost/chairtime:latest")
    with pytest.raises(publish.Refused, match="has no tag"):
        publish.tag_of("localhost:5000/chairtime")


def test_only_a_registry_on_this_machine_skips_tls_verification():
    assert publish.is_local("127.0.0.1")
    assert publish.is_local("127.0.0.1:5000")
    assert publish.is_local("localhost:5000")
    assert not publish.is_local("123456789012.dkr.ecr.us-east-1.amazonaws.com")
    assert not publish.is_local("localhost.example.com")
    assert publish.tls_flags("dest-tls-verify", True) == ["--dest-tls-verify=false"]
    assert publish.tls_flags("dest-tls-verify", False) == []


def test_ecrs_token_is_user_and_password():
    assert publish.decode_token(base64.b64encode(b"AWS:s3cr:et").decode()) == ("AWS", "s3cr:et")
    with pytest.raises(publish.Refused):
        publish.decode_token(base64.b64encode(b"nocolon").decode())


def findings(status: str, counts: dict | None = None, names: list[tuple[str, str]] = ()) -> dict:
    return {
        "imageScanStatus": {"status": status, "description": f"{status.lower()} scan"},
        "imageScanFindings": {
            "findingSeverityCounts": counts or {},
            "findings": [{"name": n, "severity": s} for n, s in names],
        },
    }


def test_the_scan_verdict():
    assert publish.scan_verdict(findings("IN_PROGRESS")) == ("pending", None)
    assert publish.scan_verdict(findings("COMPLETE", {"HIGH": 3, "LOW": 1})) == ("done", None)
    state, refusal = publish.scan_verdict(
        findings(
            "COMPLETE",
            {"CRITICAL": 2, "HIGH": 1},
            [("CVE-1", "CRITICAL"), ("CVE-2", "HIGH"), ("CVE-3", "CRITICAL")],
        )
    )
    assert state == "done"
    assert refusal == "2 CRITICAL finding(s): CVE-1, CVE-3"
    state, refusal = publish.scan_verdict(findings("FAILED"))
    assert "did not complete (FAILED: failed scan)" in refusal
    assert publish.scan_verdict(findings("UNSUPPORTED_IMAGE"))[1].startswith("the scan did not complete")
    assert (
        publish.severity_line(findings("COMPLETE", {"LOW": 1, "CRITICAL": 2, "WEIRD": 4}))
        == "CRITICAL 2, LOW 1, WEIRD 4"
    )
    assert publish.severity_line(findings("COMPLETE")) == "no findings"


# --- image-publish against ECR (moto) ------------------------------------------------------------------

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "c" * 64,
            "size": 9,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + "1" * 64,
                "size": 5,
            }
        ],
    }
)
DIGEST = "sha256:" + "d" * 64


def pushed(ecr, tag: str = "3f2a9c1b7d0e") -> None:
    ecr.create_repository(repositoryName="chairtime", imageScanningConfiguration={"scanOnPush": True})
    ecr.put_image(repositoryName="chairtime", imageManifest=MANIFEST, imageTag=tag, imageDigest=DIGEST)


def test_without_a_scan_it_asks_for_one_and_accepts_findings_below_critical(aws, capsys):
    ecr = boto3.client("ecr")
    pushed(ecr)
    publish.wait_until_listed(ecr, "chairtime", "3f2a9c1b7d0e", DIGEST)
    result = publish.wait_for_scan(ecr, "chairtime", DIGEST, timeout=5, poll=0.1)
    assert result["imageScanStatus"]["status"] == "COMPLETE"
    err = capsys.readouterr().err
    assert "no scan of the image yet: StartImageScan" in err
    assert "scan COMPLETE: HIGH 1" in err  # moto's one made-up finding


def test_a_critical_finding_refuses_the_image(aws):
    ecr = boto3.client("ecr")
    pushed(ecr)
    # moto answers with these findings for this image (its documented static results)
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/ecr/scan-finding-results",
        json={
            "region": REGION,
            "results": [
                {
                    **findings("COMPLETE", {"CRITICAL": 1}, [("CVE-2099-1", "CRITICAL")]),
                    "repositoryName": "chairtime",
                    "imageId": {"imageDigest": DIGEST},
                }
            ],
        },
        timeout=5,
    )
    ecr.start_image_scan(repositoryName="chairtime", imageId={"imageDigest": DIGEST})
    with pytest.raises(publish.Refused, match=r"refused: 1 CRITICAL finding\(s\): CVE-2099-1"):
        publish.wait_for_scan(ecr, "chairtime", DIGEST, timeout=5, poll=0.1)


def test_a_scan_that_never_finishes_times_out(aws):
    ecr = boto3.client("ecr")
    pushed(ecr)
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/ecr/scan-finding-results",
        json={
            "region": REGION,
            "results": [
                {**findings("IN_PROGRESS"), "repositoryName": "chairtime", "imageId": {"imageDigest": DIGEST}}
            ]
            * 20,
        },
        timeout=5,
    )
    ecr.start_image_scan(repositoryName="chairtime", imageId={"imageDigest": DIGEST})
    with pytest.raises(publish.Refused, match="did not finish within 0 s"):
        publish.wait_for_scan(ecr, "chairtime", DIGEST, timeout=0, poll=0)


def test_an_image_ecr_lists_under_another_digest_is_refused(aws, monkeypatch):
    ecr = boto3.client("ecr")
    pushed(ecr)
    assert publish.existing_digest(ecr, "chairtime", "nope") is None
    assert publish.existing_digest(ecr, "chairtime", "3f2a9c1b7d0e") == DIGEST
    with pytest.raises(publish.Refused, match="lists chairtime:3f2a9c1b7d0e as sha256:ddd"):
        publish.wait_until_listed(ecr, "chairtime", "3f2a9c1b7d0e", "sha256:" + "e" * 64)
    monkeypatch.setattr(publish, "LISTED_WITHIN", 0.0)
    with pytest.raises(publish.Refused, match="does not list chairtime:other"):
        publish.wait_until_listed(ecr, "chairtime", "other", DIGEST)


def test_it_refuses_to_run_without_a_repository_or_a_build(aws, monkeypatch, tmp_path):
    monkeypatch.delenv("IMAGE_REPOSITORY", raising=False)
    with pytest.raises(publish.Refused, match="IMAGE_REPOSITORY is not set"):
        publish.publish()
    monkeypatch.setenv("IMAGE_REPOSITORY", "127.0.0.1/chairtime")
    monkeypatch.setattr(publish, "LAST_BUILD", tmp_path / "last-build")
    with pytest.raises(publish.Refused, match="run `make image` first"):
        publish.publish()
    (tmp_path / "last-build").write_text("localhost/chairtime:latest\n")
    with pytest.raises(publish.Refused, match="'latest'"):
        publish.publish()


# --- kubeconfig ------------------------------------------------------------------------------------------


def eks_cluster(name: str = "chairtime-staging") -> None:
    from moto.eks.models import eks_backends

    boto3.client("eks").create_cluster(
        name=name,
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
    )
    # moto's endpoint is made up and its CA random text; a real answer has a PEM.
    record = eks_backends["123456789012"][REGION].clusters[name]
    record.endpoint = "https://127.0.0.1:6443"
    record.certificate_authority = {"data": CA}


def source_kubeconfig(tmp_path: Path, *, files: bool = False) -> Path:
    user = (
        {"client-certificate": "client.crt", "client-key": "client.key"}
        if files
        else {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}
    )
    if files:
        (tmp_path / "client.crt").write_bytes(b"CERT")
        (tmp_path / "client.key").write_bytes(b"KEY")
    config = {
        "apiVersion": "v1",
        "clusters": [{"name": "local", "cluster": {"server": "https://elsewhere:1"}}],
        "users": [{"name": "admin", "user": user}, {"name": "other", "user": {"token": "t"}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
        "current-context": "local",
    }
    path = tmp_path / "source.kubeconfig"
    path.write_text(json.dumps(config))
    return path


def test_the_kubeconfig_is_what_update_kubeconfig_writes(aws, monkeypatch, tmp_path, capsys):
    eks_cluster()
    monkeypatch.setenv("CLUSTER_NAME", "chairtime-staging")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/sub/kubeconfig:{tmp_path}/ignored")
    monkeypatch.delenv("KUBECONFIG_CREDENTIALS_FROM", raising=False)
    assert kubeconfig.main() == 0
    path = tmp_path / "sub/kubeconfig"
    written = yaml.safe_load(path.read_text())
    arn = "arn:aws:eks:us-east-1:123456789012:cluster/chairtime-staging"
    assert written["current-context"] == arn
    assert written["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:6443",
        "certificate-authority-data": CA,
    }
    assert written["users"][0]["user"]["exec"]["command"] == "aws"
    assert written["users"][0]["user"]["exec"]["args"] == [
        "--region", REGION, "eks", "get-token", "--cluster-name", "chairtime-staging", "--output", "json",
    ]  # fmt: skip
    assert path.stat().st_mode & 0o077 == 0
    assert not (tmp_path / "ignored").exists()
    assert "as arn:aws:sts::123456789012:" in capsys.readouterr().err


@pytest.mark.parametrize("files", [False, True])
def test_for_the_replay_the_credentials_come_from_another_kubeconfig(
    aws, monkeypatch, tmp_path, capsys, files
):
    eks_cluster()
    monkeypatch.setenv("CLUSTER_NAME", "chairtime-staging")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("KUBECONFIG_CREDENTIALS_FROM", str(source_kubeconfig(tmp_path, files=files)))
    assert kubeconfig.main() == 0
    written = yaml.safe_load((tmp_path / "kubeconfig").read_text())
    assert written["users"][0]["user"] == {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}
    # the endpoint and CA still come from EKS, not from the other kubeconfig
    assert written["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert "REPLAY ONLY" in capsys.readouterr().err


def test_kubeconfig_failures_say_why(aws, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.delenv("CLUSTER_NAME", raising=False)
    assert kubeconfig.main() == 1
    assert "CLUSTER_NAME is not set" in capsys.readouterr().err
    monkeypatch.setenv("CLUSTER_NAME", "missing")
    assert kubeconfig.main() == 1
    assert "AWS said" in capsys.readouterr().err
    eks_cluster("chairtime-staging")
    monkeypatch.setenv("CLUSTER_NAME", "chairtime-staging")
    empty = tmp_path / "empty.kubeconfig"
    empty.write_text(json.dumps({"current-context": "x", "contexts": [], "users": []}))
    monkeypatch.setenv("KUBECONFIG_CREDENTIALS_FROM", str(empty))
    assert kubeconfig.main() == 1
    assert "no user for its current context 'x'" in capsys.readouterr().err
    assert not (tmp_path / "kubeconfig").exists()


def test_a_ca_that_is_not_a_pem_certificate_is_refused():
    kubeconfig.check_ca(CA)
    with pytest.raises(kubeconfig.Failed, match="not base64"):
        kubeconfig.check_ca("not base64!")
    with pytest.raises(kubeconfig.Failed, match="not a PEM certificate"):
        kubeconfig.check_ca(base64.b64encode(b"random text").decode())


# --- image-promote: the prod deploy keeps its image (moto's ECR) ----------------------------------------

promote = load("image-promote")
REF = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/chairtime:3f2a9c1b7d0e@{DIGEST}"


def test_the_promoted_tag_names_the_release_and_a_digest_is_required():
    assert promote.parse(REF) == ("chairtime", "3f2a9c1b7d0e", DIGEST)
    assert promote.promoted_tag("prod-", "3f2a9c1b7d0e") == "prod-3f2a9c1b7d0e"
    with pytest.raises(promote.Failed, match="is not <registry>"):
        promote.parse(REF.split("@")[0])
    with pytest.raises(promote.Failed, match="not a tag prefix"):
        promote.promoted_tag("Prod ", "3f2a9c1b7d0e")


def test_the_released_image_gets_the_prod_tag_on_the_same_digest_and_a_rerun_changes_nothing(aws):
    ecr = boto3.client("ecr")
    pushed(ecr)
    assert promote.promote(ecr, "chairtime", DIGEST, "prod-3f2a9c1b7d0e") == (
        f"tagged chairtime@{DIGEST} as prod-3f2a9c1b7d0e"
    )
    [image] = ecr.describe_images(repositoryName="chairtime", imageIds=[{"imageDigest": DIGEST}])[
        "imageDetails"
    ]
    assert sorted(image["imageTags"]) == ["3f2a9c1b7d0e", "prod-3f2a9c1b7d0e"]
    # A retried or rolled-back deploy promotes the same image again.
    assert promote.promote(ecr, "chairtime", DIGEST, "prod-3f2a9c1b7d0e") == (
        f"chairtime:prod-3f2a9c1b7d0e already names {DIGEST}"
    )


def test_promoting_an_image_the_repository_does_not_hold_fails(aws):
    ecr = boto3.client("ecr")
    pushed(ecr)
    with pytest.raises(promote.Failed, match="is not in the repository"):
        promote.promote(ecr, "chairtime", "sha256:" + "e" * 64, "prod-x")


def test_image_promote_runs_from_the_environment(aws, monkeypatch, capsys):
    pushed(boto3.client("ecr"))
    monkeypatch.setattr(sys, "argv", ["image-promote"])
    monkeypatch.setenv("IMAGE_REF", REF)
    monkeypatch.delenv("PROMOTE_TAG_PREFIX", raising=False)
    assert promote.main() == 1
    assert "PROMOTE_TAG_PREFIX is not set" in capsys.readouterr().err
    monkeypatch.setenv("PROMOTE_TAG_PREFIX", "prod-")
    assert promote.main() == 0
    assert "as prod-3f2a9c1b7d0e" in capsys.readouterr().err


# --- image-publish --existing: a retried Image stage takes the image already there (moto's ECR) -----


@pytest.fixture
def no_build_tools(monkeypatch):
    """podman and skopeo must not run: nothing is built or pushed again."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"ran {args[0]}")

    monkeypatch.setattr(publish.subprocess, "run", refuse)


def test_a_retry_takes_the_image_by_tag_and_digest_without_building(
    aws, monkeypatch, tmp_path, no_build_tools
):
    ecr = boto3.client("ecr")
    pushed(ecr)  # by the first attempt of the stage
    registry = f"123456789012.dkr.ecr.{REGION}.amazonaws.com"
    monkeypatch.setenv("IMAGE_REPOSITORY", f"{registry}/chairtime")
    monkeypatch.setenv("IMAGE_TAG", "3f2a9c1b7d0e")
    monkeypatch.setenv("SCAN_POLL", "0.1")
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    monkeypatch.setattr(publish, "LAST_BUILD", tmp_path / "no-build-here")
    ref = publish.publish_existing()
    assert ref == f"{registry}/chairtime:3f2a9c1b7d0e@{DIGEST}"
    assert (tmp_path / "published").read_text() == ref + "\n"


def test_without_an_image_in_ecr_it_says_so_and_exits_3(aws, monkeypatch, tmp_path, no_build_tools, capsys):
    boto3.client("ecr").create_repository(repositoryName="chairtime")
    monkeypatch.setenv("IMAGE_REPOSITORY", "123456789012.dkr.ecr.us-east-1.amazonaws.com/chairtime")
    monkeypatch.setenv("IMAGE_TAG", "3f2a9c1b7d0e")
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    monkeypatch.setattr(sys, "argv", ["image-publish", "--existing"])
    assert publish.main() == publish.NOT_PUBLISHED == 3
    assert "is not in ECR yet" in capsys.readouterr().err
    assert not (tmp_path / "published").exists()
    monkeypatch.delenv("IMAGE_TAG")
    assert publish.main() == 1
    assert "IMAGE_TAG is not set" in capsys.readouterr().err


def test_a_retry_still_refuses_an_image_with_a_critical_finding(aws, monkeypatch, tmp_path, no_build_tools):
    ecr = boto3.client("ecr")
    pushed(ecr)
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/ecr/scan-finding-results",
        json={
            "region": REGION,
            "results": [
                {
                    **findings("COMPLETE", {"CRITICAL": 1}, [("CVE-2099-1", "CRITICAL")]),
                    "repositoryName": "chairtime",
                    "imageId": {"imageDigest": DIGEST},
                }
            ],
        },
        timeout=5,
    )
    ecr.start_image_scan(repositoryName="chairtime", imageId={"imageDigest": DIGEST})
    monkeypatch.setenv("IMAGE_REPOSITORY", "123456789012.dkr.ecr.us-east-1.amazonaws.com/chairtime")
    monkeypatch.setenv("IMAGE_TAG", "3f2a9c1b7d0e")
    monkeypatch.setenv("SCAN_POLL", "0.1")
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    with pytest.raises(publish.Refused, match="CRITICAL"):
        publish.publish_existing()
    assert not (tmp_path / "published").exists()
