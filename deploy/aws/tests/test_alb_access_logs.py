"""The ALB's access logs (issue 13): a bucket per environment that only Elastic Load
Balancing's log delivery writes, and the overlays' Ingress turning the logs on into it."""

from __future__ import annotations

import re

from chairtime_aws.observability import ALB_LOG_DAYS, alb_logs_bucket_name

from .conftest import ACCOUNT, REGION, REPO
from .support import flatten, logical_id, resources


def bucket(template):
    return resources(template, "AWS::S3::Bucket")[
        logical_id(template, "AWS::S3::Bucket", "ObservabilityAlbAccessLogs")
    ]


def test_each_environment_has_a_private_versioned_expiring_log_bucket(each_env):
    env = each_env.stacks.settings.env.name
    b = bucket(each_env.cluster)
    props = b["Properties"]
    assert props["BucketName"] == f"chairtime-{env}-alb-logs-{ACCOUNT}-{REGION}"
    # ALB access logs support SSE-S3 only.
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == ALB_LOG_DAYS
    assert b["DeletionPolicy"] == "Retain"


def test_only_the_regions_load_balancing_account_may_write_under_the_namespace_prefix(each_env):
    env = each_env.stacks.settings.env
    [policy] = resources(each_env.cluster, "AWS::S3::BucketPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    [delivery] = [s for s in statements if s.get("Sid") == "AlbAccessLogDelivery"]
    assert delivery["Effect"] == "Allow"
    assert delivery["Action"] == "s3:PutObject"
    # us-east-1 predates August 2022: its Elastic Load Balancing account writes the logs.
    assert "127311923021" in flatten(delivery["Principal"])
    assert flatten(delivery["Resource"]).endswith(f"/{env.namespace}/AWSLogs/{ACCOUNT}/*")
    # and nothing may reach it without TLS (enforce_ssl)
    assert any(
        s["Effect"] == "Deny" and "aws:SecureTransport" in flatten(s.get("Condition", {})) for s in statements
    )


def test_the_overlays_ingress_logs_to_that_bucket_under_its_namespace():
    for env in ("staging", "prod"):
        text = (REPO / "deploy/k8s/overlays" / env / "kustomization.yaml").read_text()
        [attributes] = re.findall(r"value: (idle_timeout[^\s#]*)", text)
        values = dict(pair.split("=", 1) for pair in attributes.split(","))
        assert values["access_logs.s3.enabled"] == "true"
        # The overlay's placeholder account and region, as synthesized here.
        assert values["access_logs.s3.bucket"] == alb_logs_bucket_name(env, ACCOUNT, REGION)
        assert values["access_logs.s3.prefix"] == f"chairtime-{env}"
        # The prod load balancer keeps its deletion protection.
        assert (values.get("deletion_protection.enabled") == "true") == (env == "prod")
