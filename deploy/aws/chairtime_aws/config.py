"""What differs between staging and prod, and what the CDK context may set. One place.

Everything a stack needs to know about its environment comes from an
:class:`EnvironmentConfig` (sizes, counts, retention, protection) and from
:class:`Settings` (the environment chosen with ``-c env=...`` plus the other context
values). Names that other parts of the repository rely on (the kustomize overlays,
the SecretProviderClass, docs/kubernetes.md) are derived here and nowhere else.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from aws_cdk import aws_logs as logs
from constructs import Node

PROJECT = "chairtime"
# The database, its IAM-authenticated application user and the RDS master user.
DATABASE_NAME = "chairtime"
DATABASE_APP_USER = "chairtime_app"
DATABASE_MASTER_USER = "chairtime_admin"
# The pods' Kubernetes service account (deploy/k8s/base/serviceaccount.yaml).
SERVICE_ACCOUNT = "chairtime"
# The Kubernetes group the pipeline's deploy roles are mapped to (RBAC in the cluster stack).
DEPLOYERS_GROUP = "chairtime-deployers"
# The announcements table's design (chairtime/announcements/store.py).
TABLE_PARTITION_KEY = "pk"
TABLE_SORT_KEY = "sk"
TABLE_TTL_ATTRIBUTE = "expires_at"
ENGINES = ("postgres", "mysql")
ENGINE_PORTS = {"postgres": 5432, "mysql": 3306}
REDIS_PORT = 6379
# The web container's port (deploy/k8s/base/deployment.yaml): the ALB and the kubelet's
# probes reach the pods there.
APP_PORT = 8000
# Node instance types that can hold branch network interfaces, which security groups for
# pods need (the app pods' security group, cluster.py), with how many each takes: the
# types marked IsTrunkingCompatible in the VPC resource controller's pkg/aws/vpc/limits.go
# (aws/amazon-vpc-resource-controller-k8s), and their BranchInterface count. Nitro types
# only, and not all of them: no t-family type is (t3, t3a, t4g all say false). Add a type
# here from that file before using it in ENVIRONMENTS; the cluster stack refuses others.
BRANCH_INTERFACES = {"c6a.large": 9, "m7i.large": 9}


@dataclass(frozen=True)
class EnvironmentConfig:
    """Sizes and safety settings of one environment (staging or prod)."""

    name: str
    # The overlays' NetworkPolicy allows this CIDR (deploy/k8s/overlays/<env>).
    vpc_cidr: str
    max_azs: int
    nat_gateways: int
    node_instance_type: str
    node_min: int
    node_desired: int
    node_max: int
    db_instance_type: str
    db_storage_gib: int
    db_max_storage_gib: int
    db_multi_az: bool
    db_backup_days: int
    redis_node_type: str
    # Nodes in the replication group: 1 = primary only; 2+ = replicas, automatic failover.
    redis_nodes: int
    log_retention: logs.RetentionDays
    # Deletion protection, RETAIN/SNAPSHOT removal policies, stack termination protection.
    protect: bool
    # The overlay's placeholder for the public host (the Ingress rule's host), which
    # step 7 of docs/aws.md replaces in the overlay. The stacks do not need the real one:
    # the deploy's smoke test reads it, and the ALB's address, from the Ingress.
    default_host: str

    @property
    def namespace(self) -> str:
        return f"{PROJECT}-{self.name}"

    @property
    def cluster_name(self) -> str:
        return f"{PROJECT}-{self.name}"

    @property
    def table_name(self) -> str:
        return f"{PROJECT}-{self.name}-announcements"

    @property
    def app_secret_name(self) -> str:
        """JSON {"secret_key", "redis_url"}, read by the pods through the CSI driver."""
        return f"{PROJECT}/{self.name}/app"

    @property
    def redis_auth_secret_name(self) -> str:
        """JSON {"token"}: the Redis AUTH token, read by ElastiCache and by the pods."""
        return f"{PROJECT}/{self.name}/redis-auth"

    @property
    def db_instance_id(self) -> str:
        return f"{PROJECT}-{self.name}"

    @property
    def overlay(self) -> str:
        return self.name


ENVIRONMENTS: dict[str, EnvironmentConfig] = {
    "staging": EnvironmentConfig(
        name="staging",
        vpc_cidr="10.20.0.0/16",
        max_azs=2,
        nat_gateways=1,
        # Two nodes: the web pods' zone spread is DoNotSchedule, so each AZ needs one.
        # c6a.large, not t3.medium (same 2 vCPUs and 4 GiB): security groups for pods need
        # branch network interfaces, which no t-family type supports (BRANCH_INTERFACES).
        node_instance_type="c6a.large",
        node_min=2,
        node_desired=2,
        node_max=4,
        # The smallest class with Performance Insights on both engines.
        db_instance_type="t4g.medium",
        db_storage_gib=20,
        db_max_storage_gib=100,
        db_multi_az=False,
        db_backup_days=7,
        redis_node_type="cache.t4g.micro",
        redis_nodes=1,
        log_retention=logs.RetentionDays.ONE_MONTH,
        protect=False,
        default_host="staging.chairtime.example",
    ),
    "prod": EnvironmentConfig(
        name="prod",
        vpc_cidr="10.30.0.0/16",
        max_azs=3,
        nat_gateways=3,
        node_instance_type="m7i.large",
        node_min=3,
        node_desired=3,
        node_max=6,
        db_instance_type="m7g.large",
        db_storage_gib=50,
        db_max_storage_gib=500,
        db_multi_az=True,
        db_backup_days=30,
        redis_node_type="cache.t4g.small",
        redis_nodes=2,
        log_retention=logs.RetentionDays.ONE_YEAR,
        protect=True,
        default_host="book.chairtime.example",
    ),
}


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ADDRESS = re.compile(r"^[^@\s]+@(?P<domain>[^@\s]+)$")


def ses_identity_from(value: object, name: str) -> str:
    """A domain or one e-mail address, lower-cased; refused otherwise."""
    text = str(value).strip().lower()
    match = _ADDRESS.match(text)
    domain = match["domain"] if match else text
    if not _DOMAIN.match(domain):
        raise ConfigError(
            f"-c {name}={value!r}: a domain (salon.example.com) or an address (bookings@salon.example.com)"
        )
    return text


def export_name(env_name: str, what: str) -> str:
    """The CloudFormation export an environment's stack gives the shared pipeline stack
    (which cannot reference both environments' constructs: it is synthesized with one)."""
    return f"{PROJECT}-{env_name}-{what}"


class ConfigError(ValueError):
    """A context value is missing or wrong; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """The whole app's inputs: the chosen environment plus the CDK context values."""

    env: EnvironmentConfig
    account: str
    region: str
    engine: str
    # IAM role given cluster-admin through an EKS access entry (the operators' role).
    admin_role_arn: str | None
    # Public CIDRs allowed to the EKS API endpoint besides its private one (empty: no
    # public endpoint; kubectl from inside the VPC only, as the deploy projects run).
    api_allowed_cidrs: tuple[str, ...]
    # A manual approval between the staging and prod deploy stages.
    prod_approval: bool
    # The Amazon SES identity the pods send customers' e-mail from: a domain
    # (salon.example.com, verified by DKIM records) or one address (verified by a link
    # SES mails to it). Context ``<env>_ses_identity``: one per environment, as an
    # identity exists once per account and region; the overlay's DEFAULT_FROM_EMAIL
    # must be an address of it. Default: the overlay's placeholder host.
    ses_identity: str = ""

    @property
    def ses_identity_is_domain(self) -> bool:
        return "@" not in self.ses_identity

    @property
    def db_port(self) -> int:
        return ENGINE_PORTS[self.engine]


def _flag(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ConfigError(f"-c {name}={value!r}: use true or false")


# Context values that existed once and mean nothing now: refused, not ignored.
_RETIRED = {
    f"{name}_host": "the public host is the overlay's Ingress host (docs/aws.md, step 7); the deploy's "
    "smoke test reads it, and the ALB's address, from the Ingress (SMOKE_URL=https://{ingress})"
    for name in ENVIRONMENTS
}


def settings_from_context(node: Node, environ: dict[str, str] | None = None) -> Settings:
    """Read ``-c env=staging|prod`` and the other context values; refuse bad ones."""
    environ = os.environ if environ is None else environ
    env_name = node.try_get_context("env")
    if env_name not in ENVIRONMENTS:
        raise ConfigError(f"pass -c env=staging or -c env=prod (got {env_name!r})")
    engine = node.try_get_context("engine") or "postgres"
    if engine not in ENGINES:
        raise ConfigError(f"-c engine={engine!r}: use postgres or mysql")
    account = node.try_get_context("account") or environ.get("CDK_DEFAULT_ACCOUNT")
    region = node.try_get_context("region") or environ.get("CDK_DEFAULT_REGION")
    if not account or not region:
        raise ConfigError(
            "no AWS account/region: run through the cdk CLI with credentials "
            "(it sets CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION) or pass -c account=... -c region=..."
        )
    admin_role_arn = node.try_get_context("admin_role_arn") or None
    if admin_role_arn is not None and not str(admin_role_arn).startswith("arn:"):
        raise ConfigError(f"-c admin_role_arn={admin_role_arn!r}: an IAM role ARN is expected")
    cidrs = node.try_get_context("api_allowed_cidrs") or ""
    if isinstance(cidrs, str):
        cidrs = [c.strip() for c in cidrs.split(",") if c.strip()]
    approval = node.try_get_context("prod_approval")
    for name, why in _RETIRED.items():
        if node.try_get_context(name) is not None:
            raise ConfigError(f"-c {name} is no longer used: {why}")
    return Settings(
        env=ENVIRONMENTS[env_name],
        account=str(account),
        region=str(region),
        engine=engine,
        admin_role_arn=admin_role_arn,
        api_allowed_cidrs=tuple(cidrs),
        prod_approval=True if approval is None else _flag(approval, "prod_approval"),
        ses_identity=ses_identity_from(
            node.try_get_context(f"{env_name}_ses_identity") or ENVIRONMENTS[env_name].default_host,
            f"{env_name}_ses_identity",
        ),
    )
