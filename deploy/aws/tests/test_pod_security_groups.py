"""The database and Redis reachable only from the app's pods: security groups for pods.

The VPC enforces a security group on a pod's own branch network interface; the overlay's
SecurityGroupPolicy (deploy/k8s/tools/check_rendered.py checks it selects every pod that
talks to the database) names the group made here. These check the AWS half.
"""

import dataclasses
import json
import math
import re

import aws_cdk as cdk
import pytest
from chairtime_aws import config
from chairtime_aws.config import BRANCH_INTERFACES, ENVIRONMENTS, ConfigError
from chairtime_aws.stacks import build

from .conftest import REPO, context
from .support import flatten, logical_id, only, resources

# The data stack's exports of its two groups' ids.
DB_GROUP_EXPORT = "ExportsOutputFnGetAttDatabaseSecurityGroup7319C0F6GroupId72A1B827"
REDIS_GROUP_EXPORT = "ExportsOutputFnGetAttRedisSecurityGroupB05951F6GroupIdECA64B37"


def pods_group_id(template) -> str:
    return logical_id(template, "AWS::EC2::SecurityGroup", "AppPodsSecurityGroup")


def cluster_group(template) -> dict:
    """The cluster security group EKS makes (on every node, and every pod without a policy)."""
    return {
        "Fn::GetAtt": [
            logical_id(template, "Custom::AWSCDK-EKS-Cluster", "Cluster"),
            "ClusterSecurityGroupId",
        ]
    }


def ingress_into(template, what: str) -> list[dict]:
    """Every ingress rule of the template whose target group's reference mentions `what`."""
    return [
        r["Properties"]
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if what in flatten(r["Properties"]["GroupId"])
    ]


@pytest.mark.parametrize(("variant", "db_port"), [("staging", 5432), ("prod", 5432), ("staging_mysql", 3306)])
def test_the_database_and_redis_admit_the_app_pods_group_and_nothing_else(request, variant, db_port):
    synthesized = request.getfixturevalue(variant)
    cluster = synthesized.cluster
    pods = {"Fn::GetAtt": [pods_group_id(cluster), "GroupId"]}
    for group, port in (("DatabaseSecurityGroup", db_port), ("RedisSecurityGroup", 6379)):
        [rule] = ingress_into(cluster, group)
        assert rule["SourceSecurityGroupId"] == pods, group
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", port, port)
        assert "CidrIp" not in rule and "CidrIpv6" not in rule
    # No other stack of the app opens them (the data stack's groups have no rules: test_data.py).
    for stack in (synthesized.network, synthesized.data, synthesized.registry, synthesized.pipeline):
        for rule in resources(stack, "AWS::EC2::SecurityGroupIngress").values():
            assert "DatabaseSecurityGroup" not in flatten(rule["Properties"]["GroupId"])
            assert "RedisSecurityGroup" not in flatten(rule["Properties"]["GroupId"])


def test_the_cluster_security_group_no_longer_reaches_the_database_or_redis(each_env):
    for group in ("DatabaseSecurityGroup", "RedisSecurityGroup"):
        rules = ingress_into(each_env.cluster, group)
        assert all(r["SourceSecurityGroupId"] != cluster_group(each_env.cluster) for r in rules)


def test_the_app_pods_reach_only_the_database_redis_dns_metrics_and_the_vpc_endpoints(each_env):
    template = each_env.cluster
    group = resources(template, "AWS::EC2::SecurityGroup")[pods_group_id(template)]["Properties"]
    # In the group itself, so CloudFormation drops the default allow-all egress rule.
    assert not resources(template, "AWS::EC2::SecurityGroupEgress")
    egress = {
        (r["IpProtocol"], r["FromPort"], r["ToPort"]): r.get("DestinationSecurityGroupId") or r["CidrIp"]
        for r in group["SecurityGroupEgress"]
    }
    assert len(egress) == len(group["SecurityGroupEgress"])
    vpc_cidr = each_env.stacks.settings.env.vpc_cidr
    data = each_env.stacks.data.stack_name
    assert {port: flatten(target) for port, target in egress.items()} == {
        ("tcp", 5432, 5432): f"{{Fn::ImportValue:{data}:{DB_GROUP_EXPORT}}}",
        ("tcp", 6379, 6379): f"{{Fn::ImportValue:{data}:{REDIS_GROUP_EXPORT}}}",
        ("tcp", 53, 53): flatten(cluster_group(template)),
        ("udp", 53, 53): flatten(cluster_group(template)),
        ("udp", 25888, 25888): flatten(cluster_group(template)),
        ("tcp", 443, 443): vpc_cidr,
    }
    assert "0.0.0.0/0" not in json.dumps(group)


def test_into_the_app_pods_only_the_nodes_probes_and_never_an_inline_ingress_list(each_env):
    template = each_env.cluster
    group = resources(template, "AWS::EC2::SecurityGroup")[pods_group_id(template)]["Properties"]
    # The load balancer controller adds its ALB's rule to this group: no inline list for
    # CloudFormation to reconcile that rule away.
    assert "SecurityGroupIngress" not in group
    [rule] = ingress_into(template, pods_group_id(template))
    assert rule["SourceSecurityGroupId"] == cluster_group(template)
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 8000, 8000)


def test_the_cluster_group_admits_the_app_pods_dns_and_metrics(each_env):
    template = each_env.cluster
    pods = {"Fn::GetAtt": [pods_group_id(template), "GroupId"]}
    rules = [
        r["Properties"]
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == cluster_group(template)
    ]
    from_pods = {
        (r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules if r["SourceSecurityGroupId"] == pods
    }
    assert from_pods == {("tcp", 53, 53), ("udp", 53, 53), ("udp", 25888, 25888)}


def test_the_vpc_cni_gives_selected_pods_branch_interfaces_in_standard_mode(each_env):
    [cni] = [
        a["Properties"]
        for a in resources(each_env.cluster, "AWS::EKS::Addon").values()
        if a["Properties"]["AddonName"] == "vpc-cni"
    ]
    assert json.loads(cni["ConfigurationValues"]) == {
        "enableNetworkPolicy": "true",
        "env": {
            "ENABLE_POD_ENI": "true",
            # Not strict: probes, Pod Identity and the NetworkPolicy keep working.
            "POD_SECURITY_GROUP_ENFORCING_MODE": "standard",
            "AWS_VPC_K8S_CNI_EXTERNALSNAT": "false",
        },
    }


def test_the_cluster_role_lets_eks_manage_branch_interfaces(each_env):
    template = each_env.cluster
    config_ = only(template, "Custom::AWSCDK-EKS-Cluster")["Properties"]["Config"]
    role = resources(template, "AWS::IAM::Role")[config_["roleArn"]["Fn::GetAtt"][0]]
    names = {flatten(arn).rsplit("/", 1)[-1] for arn in role["Properties"]["ManagedPolicyArns"]}
    assert names == {"AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"}


def test_the_stack_gives_the_overlays_the_group_and_they_await_it(each_env):
    outputs = each_env.cluster.to_json()["Outputs"]
    assert outputs["AppPodsSecurityGroupId"]["Value"] == {
        "Fn::GetAtt": [pods_group_id(each_env.cluster), "GroupId"]
    }
    env = each_env.stacks.settings.env.name
    overlay = (REPO / "deploy/k8s/overlays" / env / "kustomization.yaml").read_text()
    assert re.findall(r"securityGroups/groupIds/0\s+value: (\S+) # PLACEHOLDER", overlay) == [
        "sg-00000000000000000"
    ]


def web_max_replicas(env: str) -> int:
    overlay = (REPO / "deploy/k8s/overlays" / env / "kustomization.yaml").read_text()
    [value] = re.findall(r"path: /spec/maxReplicas\s+value: (\d+)", overlay)
    return int(value)


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_every_environments_nodes_hold_enough_branch_interfaces_for_the_app_pods(env):
    config_ = ENVIRONMENTS[env]
    assert not config_.node_instance_type.startswith("t"), "no t-family type takes branch interfaces"
    # Every pod with the group at the peak of a release: the HPA's maximum of web pods
    # plus a 25 % surge, two workers plus one surge, the migrations Job; on the fewest
    # nodes the group may have.
    peak = math.ceil(web_max_replicas(env) * 1.25) + 3 + 1
    assert config_.node_min * BRANCH_INTERFACES[config_.node_instance_type] >= peak


def test_a_node_type_without_branch_interfaces_is_refused(monkeypatch, tmp_path):
    staging = dataclasses.replace(ENVIRONMENTS["staging"], node_instance_type="t3.medium")
    monkeypatch.setitem(config.ENVIRONMENTS, "staging", staging)
    app = cdk.App(outdir=str(tmp_path), context=context(env="staging"))
    with pytest.raises(ConfigError, match=r"t3\.medium: security groups for pods need"):
        build(app)
