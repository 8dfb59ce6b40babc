"""The RDS certificate authorities the image carries, and the setting that uses them:
with IAM database authentication the token must only cross verified TLS."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BUNDLE = ROOT / "deploy" / "container" / "rds-ca-bundle.pem"
IN_IMAGE = "/etc/ssl/certs/rds-ca-bundle.pem"


def certificates() -> list[str]:
    """Each certificate of the bundle as openssl's text (one openssl run for all)."""
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", BUNDLE.read_text(), re.S)
    pkcs7 = subprocess.run(  # noqa: S603 - fixed arguments, the repository's own file
        ["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(BUNDLE)],  # noqa: S607 - openssl from PATH
        capture_output=True,
        check=True,
    ).stdout
    text = subprocess.run(
        ["openssl", "pkcs7", "-print_certs", "-text", "-noout"],  # noqa: S607
        input=pkcs7,
        capture_output=True,
        check=True,
    ).stdout.decode()
    certs = [c for c in re.split(r"^Certificate:$", text, flags=re.M) if c.strip()]
    assert len(certs) == len(pems)
    return certs


def test_the_bundle_holds_only_amazon_rds_certificate_authorities():
    certs = certificates()
    assert len(certs) > 50  # every region's roots (RSA2048, RSA4096, ECC384) and the 2019 CAs
    subjects = []
    for cert in certs:
        [subject] = re.findall(r"^\s+Subject: (.+)$", cert, re.M)
        subjects.append(subject)
        assert re.search(r'O ?= ?"?Amazon Web Services, Inc\.', subject), subject
        assert re.search(r"CN ?= ?Amazon RDS ", subject), subject
        assert re.search(r"CA:TRUE", cert), subject
    names = "\n".join(subjects)
    for region in ("us-east-1", "eu-west-1"):  # each region's current roots are there
        for kind in ("RSA2048 G1", "RSA4096 G1", "ECC384 G1"):
            assert f"Amazon RDS {region} Root CA {kind}" in names


def test_the_image_carries_the_bundle_where_the_setting_points():
    dockerfile = (ROOT / "deploy" / "container" / "Dockerfile").read_text()
    assert f"COPY deploy/container/rds-ca-bundle.pem {IN_IMAGE}" in dockerfile
    assert "!deploy/container/rds-ca-bundle.pem" in (ROOT / ".dockerignore").read_text().splitlines()


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_iam_authentication_is_only_used_with_the_ca_bundle(overlay):
    """The base enables IAM authentication and names the bundle; no release overlay
    drops the bundle while keeping IAM authentication (chairtime/settings.py then
    uses sslmode=verify-full with sslrootcert, or MySQL's VERIFY_IDENTITY)."""
    literals = {}
    for path in (
        ROOT / "deploy/k8s/base/kustomization.yaml",
        ROOT / f"deploy/k8s/overlays/{overlay}/kustomization.yaml",
    ):
        for generator in yaml.safe_load(path.read_text()).get("configMapGenerator", []):
            for literal in generator.get("literals", []):
                name, _, value = literal.partition("=")
                literals[name] = value.split(" #")[0].strip()
    assert literals["DATABASE_IAM_AUTH"] == "true"
    assert literals["DATABASE_SSL_CA"] == IN_IMAGE
