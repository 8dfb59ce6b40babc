"""Accepted checkov findings stay on the resources they are about; no account is hard-coded."""

import re

import aws_cdk as cdk
from aws_cdk.assertions import Template
from chairtime_aws.checkov import ACCEPTED

from .conftest import AWS_DIR, REPO
from .support import resources


def skipped(template):
    """logical id -> the checkov ids skipped on that resource"""
    return {
        logical_id: sorted(s["id"] for s in resource["Metadata"]["checkov"]["skip"])
        for logical_id, resource in template.to_json()["Resources"].items()
        if "checkov" in resource.get("Metadata", {})
    }


def test_the_data_stack_accepts_only_a_single_az_staging_database(staging, prod):
    # Redis has its AUTH token now (CKV_AWS_31 passes): nothing accepted on it.
    staging_skips = skipped(staging.data)
    assert staging_skips == {next(k for k in staging_skips if k.startswith("Database")): ["CKV_AWS_157"]}
    assert skipped(prod.data) == {}


def test_nothing_is_accepted_in_the_registry_and_in_the_pipeline_only_the_bucket_log_and_vpc_enis(staging):
    assert skipped(staging.registry) == {}
    accepted = skipped(staging.pipeline)
    [bucket] = [k for k in accepted if k.startswith("Artifacts")]
    assert accepted.pop(bucket) == ["CKV_AWS_18"]
    # CodeBuild in the VPC: the network-interface calls take no resource constraint.
    assert sorted(accepted) == sorted(
        k
        for k in accepted
        if k.startswith(("DeployStagingProjectPolicyDocument", "DeployProdProjectPolicyDocument"))
    )
    assert len(accepted) == 2 and all(checks == ["CKV_AWS_111"] for checks in accepted.values())


def nested_templates(stack):
    return [Template.from_stack(c) for c in stack.node.find_all() if isinstance(c, cdk.NestedStack)]


def test_lambda_findings_are_accepted_only_on_cdks_own_provider_functions(each_env):
    stacks = each_env.stacks
    # The data, registry and pipeline stacks have no function at all.
    for template in (each_env.data, each_env.registry, each_env.pipeline):
        assert not resources(template, "AWS::Lambda::Function")
    # The rest are CDK's: the VPC's default security group, the OIDC provider,
    # CfnUtils, and, in the cluster's nested stacks, the EKS and kubectl providers.
    functions = 0
    for template in [each_env.network, each_env.cluster, *nested_templates(stacks.cluster)]:
        skips = skipped(template)
        for logical_id in resources(template, "AWS::Lambda::Function"):
            assert skips[logical_id] == ["CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"], (
                logical_id
            )
            functions += 1
    assert functions == 9
    # CDK gives the functions in the nested stacks log groups of their own, without a key.
    for template in nested_templates(stacks.cluster):
        skips = skipped(template)
        for logical_id in resources(template, "AWS::Logs::LogGroup"):
            assert skips[logical_id] == ["CKV_AWS_158"], logical_id
    assert len(nested_templates(stacks.cluster)) == 2


def test_the_app_role_has_no_accepted_finding(each_env):
    assert not [k for k in skipped(each_env.cluster) if k.startswith("AppRole")]


def test_every_accepted_finding_is_explained_in_the_docs():
    docs = (REPO / "docs/aws-checkov.md").read_text()
    assert [a.check for a in ACCEPTED if a.check not in docs] == []


def test_no_account_id_or_arn_is_written_into_the_stacks_code():
    for path in [*sorted((AWS_DIR / "chairtime_aws").glob("*.py")), AWS_DIR / "app.py", AWS_DIR / "cdk.json"]:
        text = path.read_text()
        assert not re.search(r"\b\d{12}\b", text), path
        assert not re.search(r"arn:aws:(?!eks::aws:)[a-z0-9-]+:[a-z0-9-]*:\d", text), path
