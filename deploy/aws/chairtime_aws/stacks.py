"""The CDK app's stacks and the order they depend on each other in."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from .checkov import AcceptCheckovFindings
from .cluster import ClusterStack
from .config import PROJECT, Settings, settings_from_context
from .data import DataStack
from .network import NetworkStack
from .pipeline import PipelineStack
from .registry import RegistryStack


@dataclass(frozen=True)
class Stacks:
    settings: Settings
    registry: RegistryStack
    network: NetworkStack
    data: DataStack
    cluster: ClusterStack
    pipeline: PipelineStack


def build(app: cdk.App) -> Stacks:
    """Add every stack to ``app``: the chosen environment's three, and the shared two.

    ``chairtime-<env>-network`` -> ``-data`` -> ``-cluster`` belong to the environment
    given with ``-c env=staging|prod``. ``chairtime-registry`` and ``chairtime-pipeline``
    are shared by both environments (one image is promoted from staging to prod) and
    come out the same whichever environment is chosen; the pipeline deploys to both
    clusters, so it goes last, once both exist.
    """
    settings = settings_from_context(app.node)
    env = settings.env
    aws_env = cdk.Environment(account=settings.account, region=settings.region)
    prefix = f"{PROJECT}-{env.name}"

    registry = RegistryStack(
        app,
        f"{PROJECT}-registry",
        env=aws_env,
        termination_protection=True,
        description="Chairtime: the image repository (shared by staging and prod)",
    )
    network = NetworkStack(
        app,
        f"{prefix}-network",
        settings=settings,
        env=aws_env,
        termination_protection=env.protect,
        description=f"Chairtime {env.name}: VPC, subnets, NAT, flow logs, endpoints",
    )
    data = DataStack(
        app,
        f"{prefix}-data",
        settings=settings,
        vpc=network.vpc,
        logs_key=network.logs_key,
        env=aws_env,
        termination_protection=env.protect,
        description=f"Chairtime {env.name}: RDS, DynamoDB announcements, Redis, app secret",
    )
    cluster = ClusterStack(
        app,
        f"{prefix}-cluster",
        settings=settings,
        vpc=network.vpc,
        logs_key=network.logs_key,
        data=data,
        env=aws_env,
        termination_protection=env.protect,
        description=f"Chairtime {env.name}: EKS cluster, add-ons, the app's Pod Identity role",
    )
    pipeline = PipelineStack(
        app,
        f"{PROJECT}-pipeline",
        repository=registry.repository,
        prod_approval=settings.prod_approval,
        env=aws_env,
        termination_protection=True,
        description="Chairtime: release pipeline (test, image, deploy staging, deploy prod)",
    )

    cdk.Aspects.of(app).add(AcceptCheckovFindings())
    cdk.Tags.of(app).add("project", PROJECT)
    for stack in (network, data, cluster):
        cdk.Tags.of(stack).add("environment", env.name)
    return Stacks(settings, registry, network, data, cluster, pipeline)
