"""The VPC an environment runs in: subnets, NAT, flow logs, VPC endpoints, the logs key."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from .config import Settings, export_name

# Subnet group names (also the names of the CloudFormation outputs' subnets).
PUBLIC = "public"
PRIVATE = "private"
ISOLATED = "database"


class NetworkStack(cdk.Stack):
    """Public subnets (ALB, NAT), private subnets (nodes, pods), isolated ones (RDS, Redis).

    Pods get VPC addresses (VPC CNI), hence /19 private subnets. The subnets carry the
    tags the AWS Load Balancer Controller uses to place internet-facing and internal
    load balancers. AWS API traffic from the nodes stays inside the VPC through
    gateway endpoints (S3, which ECR layers come from, and DynamoDB) and interface
    endpoints (ECR, STS, CloudWatch Logs, Secrets Manager).
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        env = settings.env
        removal = cdk.RemovalPolicy.RETAIN if env.protect else cdk.RemovalPolicy.DESTROY

        # One key for every CloudWatch log group of the environment (flow logs, RDS,
        # the EKS control plane); the logs service may use it for log groups of this
        # account and region only.
        self.logs_key = kms.Key(
            self,
            "LogsKey",
            alias=f"alias/{env.cluster_name}-logs",
            description=f"Chairtime {env.name}: CloudWatch Logs encryption",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        self.logs_key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": self.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=env.cluster_name,
            ip_addresses=ec2.IpAddresses.cidr(env.vpc_cidr),
            max_azs=env.max_azs,
            nat_gateways=env.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name=PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name=PRIVATE, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19
                ),
                ec2.SubnetConfiguration(
                    name=ISOLATED, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
            restrict_default_security_group=True,
        )
        # Where the AWS Load Balancer Controller puts internet-facing (elb) and
        # internal (internal-elb) load balancers. The EKS construct tags the subnets of
        # its VPC the same way; tagged here too, the network is right on its own.
        for subnet in self.vpc.public_subnets:
            cdk.Tags.of(subnet).add("kubernetes.io/role/elb", "1")
        for subnet in self.vpc.private_subnets:
            cdk.Tags.of(subnet).add("kubernetes.io/role/internal-elb", "1")

        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            log_group_name=f"/chairtime/{env.name}/vpc-flow-logs",
            retention=env.log_retention,
            encryption_key=self.logs_key,
            removal_policy=removal,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        # Private DNS on: the SDKs' usual endpoints resolve to these from inside the VPC.
        # The endpoints' security group admits HTTPS from the VPC's CIDR only.
        for name, service in (
            ("EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR),
            ("EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
            ("Sts", ec2.InterfaceVpcEndpointAwsService.STS),
            ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
        ):
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                private_dns_enabled=True,
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            )

        cdk.CfnOutput(self, "VpcId", value=self.vpc.vpc_id)
        # For the shared pipeline stack's deploy project, which runs in this VPC's private
        # subnets (its cluster's API endpoint is private; cluster.py).
        private = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnets
        for what, value in (
            ("vpc-id", self.vpc.vpc_id),
            ("private-subnets", cdk.Fn.join(",", [s.subnet_id for s in private])),
            ("private-route-tables", cdk.Fn.join(",", [s.route_table.route_table_id for s in private])),
        ):
            cdk.CfnOutput(
                self,
                "Export" + "".join(p.title() for p in what.split("-")),
                value=value,
                export_name=export_name(env.name, what),
            )
        cdk.CfnOutput(
            self,
            "VpcCidr",
            value=self.vpc.vpc_cidr_block,
            description=f"The overlays' NetworkPolicy CIDR (deploy/k8s/overlays/{env.overlay})",
        )
