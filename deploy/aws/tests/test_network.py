"""The VPC: AZs, subnets and their load-balancer tags, NAT, flow logs, endpoints."""

import re

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from chairtime_aws.config import settings_from_context
from chairtime_aws.network import NetworkStack

from .conftest import context
from .support import flatten, only, resources

ELB = {"Key": "kubernetes.io/role/elb", "Value": "1"}
INTERNAL_ELB = {"Key": "kubernetes.io/role/internal-elb", "Value": "1"}


def subnets_by_kind(template):
    kinds = {"public": [], "private": [], "database": []}
    for subnet in resources(template, "AWS::EC2::Subnet").values():
        name = next(t["Value"] for t in subnet["Properties"]["Tags"] if t["Key"] == "aws-cdk:subnet-name")
        kinds[name].append(subnet["Properties"])
    return kinds


@pytest.mark.parametrize(
    ("env", "cidr", "azs", "nats"), [("staging", "10.20.0.0/16", 2, 1), ("prod", "10.30.0.0/16", 3, 3)]
)
def test_the_vpc_spans_the_environments_azs_with_its_nat_gateways(request, env, cidr, azs, nats):
    template = request.getfixturevalue(env).network
    assert only(template, "AWS::EC2::VPC")["Properties"]["CidrBlock"] == cidr
    kinds = subnets_by_kind(template)
    for subnets in kinds.values():
        assert sorted(s["AvailabilityZone"] for s in subnets) == [f"us-east-1{z}" for z in "abc"[:azs]]
    assert len(resources(template, "AWS::EC2::NatGateway")) == nats


def test_subnets_are_tagged_for_the_load_balancer_controller(each_env):
    kinds = subnets_by_kind(each_env.network)
    for subnet in kinds["public"]:
        assert ELB in subnet["Tags"] and INTERNAL_ELB not in subnet["Tags"]
        assert subnet["MapPublicIpOnLaunch"] is True
    for subnet in kinds["private"]:
        assert INTERNAL_ELB in subnet["Tags"] and ELB not in subnet["Tags"]
        assert subnet["MapPublicIpOnLaunch"] is False
    for subnet in kinds["database"]:
        assert ELB not in subnet["Tags"] and INTERNAL_ELB not in subnet["Tags"]


def test_the_network_stack_tags_its_subnets_without_the_cluster(tmp_path):
    app = cdk.App(outdir=str(tmp_path), context=context(env="prod"))
    settings = settings_from_context(app.node)
    stack = NetworkStack(
        app,
        "network",
        settings=settings,
        env=cdk.Environment(account=settings.account, region=settings.region),
    )
    kinds = subnets_by_kind(Template.from_stack(stack))
    assert all(ELB in s["Tags"] for s in kinds["public"])
    assert all(INTERNAL_ELB in s["Tags"] for s in kinds["private"])


def test_pods_get_room_in_the_private_subnets(each_env):
    # VPC CNI gives every pod a VPC address: /19 = 8190 per AZ.
    assert {s["CidrBlock"][-3:] for s in subnets_by_kind(each_env.network)["private"]} == {"/19"}


def test_isolated_subnets_have_no_route_to_the_internet(each_env):
    template = each_env.network.to_json()["Resources"]
    database_tables = {
        assoc["Properties"]["RouteTableId"]["Ref"]
        for assoc in template.values()
        if assoc["Type"] == "AWS::EC2::SubnetRouteTableAssociation"
        and "database" in assoc["Properties"]["SubnetId"]["Ref"]
    }
    assert database_tables
    routes = [r for r in template.values() if r["Type"] == "AWS::EC2::Route"]
    assert not [r for r in routes if r["Properties"]["RouteTableId"]["Ref"] in database_tables]


@pytest.mark.parametrize(("env", "days"), [("staging", 30), ("prod", 365)])
def test_flow_logs_record_all_traffic_into_an_encrypted_log_group(request, env, days):
    template = request.getfixturevalue(env).network
    flow_log = only(template, "AWS::EC2::FlowLog")["Properties"]
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["LogDestinationType"] == "cloud-watch-logs"
    group = only(template, "AWS::Logs::LogGroup")["Properties"]
    assert group["LogGroupName"] == f"/chairtime/{env}/vpc-flow-logs"
    assert group["RetentionInDays"] == days
    assert group["KmsKeyId"]["Fn::GetAtt"][0].startswith("LogsKey")
    assert flow_log["LogGroupName"] == {"Ref": next(iter(resources(template, "AWS::Logs::LogGroup")))}


def test_aws_apis_are_reached_through_vpc_endpoints(each_env):
    by_type = {"Gateway": set(), "Interface": set()}
    for endpoint in resources(each_env.network, "AWS::EC2::VPCEndpoint").values():
        # com.amazonaws.<region>.<service>, the region as a name or a Ref.
        service = re.sub(
            r"^com\.amazonaws\.(us-east-1|\{Ref:AWS::Region\})\.",
            "",
            flatten(endpoint["Properties"]["ServiceName"]),
        )
        by_type[endpoint["Properties"]["VpcEndpointType"]].add(service)
        if endpoint["Properties"]["VpcEndpointType"] == "Interface":
            assert endpoint["Properties"]["PrivateDnsEnabled"] is True
    assert by_type == {
        "Gateway": {"s3", "dynamodb"},
        "Interface": {"ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager"},
    }


def test_the_logs_key_is_usable_by_cloudwatch_logs_of_this_account_only(each_env):
    key = only(each_env.network, "AWS::KMS::Key")["Properties"]
    assert key["EnableKeyRotation"] is True
    logs = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "logs.us-east-1.amazonaws.com"}
    ]
    assert len(logs) == 1
    assert "log-group:*" in flatten(logs[0]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    assert ":123456789012:" in flatten(logs[0]["Condition"])
