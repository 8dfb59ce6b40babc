"""The EKS API endpoint is private; the deploy projects and CDK's kubectl handler reach it
from inside the VPC; a public endpoint exists only for the CIDRs given (issue 13)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from .conftest import synthesize
from .support import flatten, logical_id, only, resources
from .test_pipeline import projects


def cluster_config(template):
    return only(template, "Custom::AWSCDK-EKS-Cluster")["Properties"]["Config"]


def test_the_api_endpoint_is_private_only_by_default(each_env):
    vpc_config = cluster_config(each_env.cluster)["resourcesVpcConfig"]
    assert vpc_config["endpointPrivateAccess"] is True
    assert vpc_config["endpointPublicAccess"] is False


def test_given_cidrs_get_a_public_endpoint_for_them_only(tmp_path_factory):
    synthesized = synthesize(tmp_path_factory, env="staging", api_allowed_cidrs="203.0.113.0/24")
    vpc_config = cluster_config(synthesized.cluster)["resourcesVpcConfig"]
    assert vpc_config["endpointPrivateAccess"] is True
    assert vpc_config["endpointPublicAccess"] is True
    assert vpc_config["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_cdks_kubectl_handler_runs_in_the_private_subnets(each_env):
    # The Lambda function that runs kubectl/helm for the stack's manifests and charts
    # (CDK's nested kubectl provider stack), in the VPC's private subnets.
    nested = [
        s
        for s in each_env.stacks.cluster.node.find_all()
        if isinstance(s, cdk.NestedStack) and "KubectlProvider" in s.node.path
    ]
    assert len(nested) == 1
    functions = resources(Template.from_stack(nested[0]), "AWS::Lambda::Function").values()
    kubectl = [f for f in functions if "kubectl" in flatten(f["Properties"].get("Layers", "")).lower()]
    assert kubectl, "no function with the kubectl layer"
    for function in kubectl:
        assert function["Properties"].get("VpcConfig"), "the kubectl handler is outside the VPC"


def test_the_private_endpoint_admits_the_deployers_security_group_on_443(each_env):
    template = each_env.cluster
    rule = resources(template, "AWS::EC2::SecurityGroupIngress")[
        logical_id(template, "AWS::EC2::SecurityGroupIngress", "ApiFromDeployers")
    ]
    props = rule["Properties"]
    assert (props["FromPort"], props["ToPort"], props["IpProtocol"]) == (443, 443, "tcp")
    assert "ClusterSecurityGroupId" in flatten(props["GroupId"])
    assert flatten(props["SourceSecurityGroupId"]).startswith("{Fn::GetAtt:DeployersSecurityGroup")
    env = each_env.stacks.settings.env.name
    exports = {
        o.get("Export", {}).get("Name")
        for stack in (template, each_env.network)
        for o in stack.to_json()["Outputs"].values()
    }
    assert {
        f"chairtime-{env}-vpc-id",
        f"chairtime-{env}-private-subnets",
        f"chairtime-{env}-deployers-sg",
    } <= exports


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_each_deploy_project_runs_in_its_environments_vpc_and_security_group(staging, env):
    vpc_config = projects(staging.pipeline)[f"chairtime-deploy-{env}"]["VpcConfig"]
    assert flatten(vpc_config["VpcId"]) == f"{{Fn::ImportValue:chairtime-{env}-vpc-id}}"
    assert [flatten(g) for g in vpc_config["SecurityGroupIds"]] == [
        f"{{Fn::ImportValue:chairtime-{env}-deployers-sg}}"
    ]
    max_azs = {"staging": 2, "prod": 3}[env]
    assert len(vpc_config["Subnets"]) == max_azs
    assert all(f"chairtime-{env}-private-subnets" in flatten(s) for s in vpc_config["Subnets"])


def test_the_test_and_image_projects_stay_outside_the_vpcs(staging):
    for name in ("chairtime-test", "chairtime-image"):
        assert "VpcConfig" not in projects(staging.pipeline)[name]
