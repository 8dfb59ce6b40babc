"""The checkov findings we accept, each on the resources it is about, with the reason.

checkov reads suppressions from a resource's ``Metadata.checkov.skip``; an aspect
writes them at synthesis, so each one sits next to the resource in the template and
a new resource of the same type is still checked. docs/aws-checkov.md explains every
entry; scripts/aws-check fails if one is missing there. Checks skipped for every
resource are in deploy/aws/checkov.yaml (none, so far).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import aws_cdk as cdk
import jsii
from constructs import IConstruct

# Construct paths of what CDK itself adds: the EKS cluster and kubectl providers
# (in nested stacks) and the singleton custom-resource providers (VPC default
# security group, OIDC provider, CfnUtils).
_CDK_PROVIDER = (
    r"/(@aws-cdk--aws-eks\.(ClusterResourceProvider|KubectlProvider)|[^/]*CustomResourceProvider)/"
)
_CDK_LAMBDA_REASON = (
    "a function CDK generates for its custom resources (EKS cluster, kubectl, OIDC "
    "provider, default security group); it runs only during deployments"
)


@dataclass(frozen=True)
class Accepted:
    check: str
    resource_type: str
    path: str
    reason: str
    when: Callable[[cdk.CfnResource], bool] = field(default=lambda resource: True)

    def applies_to(self, resource: cdk.CfnResource) -> bool:
        return (
            resource.cfn_resource_type == self.resource_type
            and re.search(self.path, resource.node.path) is not None
            and self.when(resource)
        )


ACCEPTED: tuple[Accepted, ...] = (
    Accepted(
        "CKV_AWS_115", "AWS::Lambda::Function", _CDK_PROVIDER, f"no concurrency limit: {_CDK_LAMBDA_REASON}"
    ),
    Accepted(
        "CKV_AWS_116", "AWS::Lambda::Function", _CDK_PROVIDER, f"no dead-letter queue: {_CDK_LAMBDA_REASON}"
    ),
    Accepted("CKV_AWS_117", "AWS::Lambda::Function", _CDK_PROVIDER, f"not in the VPC: {_CDK_LAMBDA_REASON}"),
    Accepted(
        "CKV_AWS_173",
        "AWS::Lambda::Function",
        _CDK_PROVIDER,
        f"environment not KMS-encrypted: {_CDK_LAMBDA_REASON}",
    ),
    Accepted(
        "CKV_AWS_158",
        "AWS::Logs::LogGroup",
        _CDK_PROVIDER,
        "the log group of a function CDK generates for its custom resources: deployment-time "
        "handler logs, no application data; CDK sets no key on it",
    ),
    Accepted(
        "CKV_AWS_109",
        "AWS::IAM::Role",
        r"/Custom::AWSCDKOpenIdConnectProviderCustomResourceProvider/",
        "CDK's provider that creates the cluster's IAM OIDC provider "
        "(for the load balancer controller's IRSA)",
    ),
    Accepted(
        "CKV_AWS_109",
        "AWS::IAM::Policy",
        r"/Cluster/Resource/CreationRole/",
        "the role CDK creates the EKS cluster with; it must pass the cluster role and manage the cluster",
    ),
    Accepted(
        "CKV_AWS_111",
        "AWS::IAM::Policy",
        r"-AlbController/alb-sa/",
        "the AWS Load Balancer Controller's upstream IAM policy (CDK ships it per version): it creates "
        "load balancers, target groups and security groups, whose ids it cannot know beforehand",
    ),
    Accepted(
        "CKV_AWS_18",
        "AWS::S3::Bucket",
        r"/Artifacts/",
        "the pipeline's artifact bucket: CloudTrail records who reads it; a log bucket would need its own",
    ),
    Accepted(
        "CKV_AWS_111",
        "AWS::IAM::Policy",
        r"/Deploy(Staging|Prod)Project/PolicyDocument/",
        "CodeBuild in a VPC: ec2:CreateNetworkInterface, DeleteNetworkInterface and the Describe "
        "calls take no resource-level constraint (AWS CodeBuild documentation); "
        "CreateNetworkInterfacePermission is limited to CodeBuild and the environment's subnets",
    ),
    Accepted(
        "CKV_AWS_18",
        "AWS::S3::Bucket",
        r"/AlbAccessLogs/",
        "the ALB's access-log bucket: logging a log bucket's own access would need yet another bucket",
    ),
    Accepted(
        "CKV_AWS_157",
        "AWS::RDS::DBInstance",
        r"/Database/",
        "staging runs a single-AZ database to halve its cost; prod is Multi-AZ",
        when=lambda resource: getattr(resource, "multi_az", None) is False,
    ),
)


def record(resource: cdk.CfnResource, accepted: list[Accepted]) -> None:
    """Write ``Metadata.checkov.skip`` on ``resource`` (keeping any earlier entries)."""
    existing = resource.get_metadata("checkov") or {}
    skips = list(existing.get("skip", []))
    skips.extend({"id": a.check, "comment": a.reason} for a in accepted)
    resource.add_metadata("checkov", {**existing, "skip": skips})


@jsii.implements(cdk.IAspect)
class AcceptCheckovFindings:
    """Marks every resource an :data:`ACCEPTED` entry applies to."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, cdk.CfnResource):
            matching = [a for a in ACCEPTED if a.applies_to(node)]
            if matching:
                record(node, matching)
