"""Where the salon's state lives: RDS, the announcements table, Redis, the app's secrets."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from .config import (
    DATABASE_APP_USER,
    DATABASE_MASTER_USER,
    DATABASE_NAME,
    REDIS_PORT,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
    TABLE_TTL_ATTRIBUTE,
    Settings,
)
from .network import ISOLATED

# The log types each engine exports to CloudWatch Logs.
DB_LOG_EXPORTS = {"postgres": ["postgresql", "upgrade"], "mysql": ["error", "slowquery"]}


# PostgreSQL's major version is the one the tests run on (`make test` here, and the
# pipeline's Test stage): scripts/ensure-databases' POSTGRES_MAJOR, which refuses any
# other server; tests/test_data.py checks the two agree. This machine kind (Debian 12)
# has PostgreSQL 15 only, so production runs 15 too (docs/aws.md, "Decisions").
POSTGRES_VERSION = rds.PostgresEngineVersion.VER_15_17


def _engine(name: str) -> rds.IInstanceEngine:
    if name == "mysql":
        return rds.DatabaseInstanceEngine.mysql(version=rds.MysqlEngineVersion.VER_8_4_7)
    return rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION)


class DataStack(cdk.Stack):
    """RDS (PostgreSQL or MySQL), DynamoDB, ElastiCache (Valkey) and the app secret.

    Nothing here accepts connections from anywhere yet: the security groups have no
    ingress rules. The cluster stack adds the one rule each needs (from the app pods'
    security group, which only the app's pods carry: security groups for pods), so
    that this stack does not depend on the cluster and the cluster can depend on this
    stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        vpc: ec2.IVpc,
        logs_key: kms.IKey,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        env = settings.env
        self.settings = settings
        removal = cdk.RemovalPolicy.RETAIN if env.protect else cdk.RemovalPolicy.DESTROY
        isolated = ec2.SubnetSelection(subnet_group_name=ISOLATED)

        # One customer managed key for the data at rest: database storage, its
        # Performance Insights and master secret, the table, Redis and the app secret.
        self.data_key = kms.Key(
            self,
            "DataKey",
            alias=f"alias/{env.cluster_name}-data",
            description=f"Chairtime {env.name}: data at rest",
            enable_key_rotation=True,
            removal_policy=removal,
        )

        # --- the relational database --------------------------------------------------
        self.db_security_group = ec2.SecurityGroup(
            self,
            "DatabaseSecurityGroup",
            vpc=vpc,
            description=f"Chairtime {env.name} database: ingress from the app pods only (cluster stack)",
            allow_all_outbound=False,
        )
        # RDS writes to these; made here to set their retention and key (otherwise
        # RDS creates them on first write, unencrypted and kept forever).
        db_log_groups = [
            logs.LogGroup(
                self,
                f"DatabaseLog{log_type.title()}",
                log_group_name=f"/aws/rds/instance/{env.db_instance_id}/{log_type}",
                retention=env.log_retention,
                encryption_key=logs_key,
                removal_policy=removal,
            )
            for log_type in DB_LOG_EXPORTS[settings.engine]
        ]
        parameters = (
            # Every connection must use TLS (IAM tokens need it anyway).
            {"rds.force_ssl": "1"}
            if settings.engine == "postgres"
            else {"require_secure_transport": "ON", "slow_query_log": "1", "long_query_time": "1"}
        )
        engine = _engine(settings.engine)
        self.database = rds.DatabaseInstance(
            self,
            "Database",
            instance_identifier=env.db_instance_id,
            engine=engine,
            parameter_group=rds.ParameterGroup(
                self, "DatabaseParameters", engine=engine, parameters=parameters
            ),
            instance_type=ec2.InstanceType(env.db_instance_type),
            vpc=vpc,
            vpc_subnets=isolated,
            security_groups=[self.db_security_group],
            port=settings.db_port,
            database_name=DATABASE_NAME,
            # RDS generates the master password, keeps it in Secrets Manager (encrypted
            # with the data key) and rotates it; nobody ever types or stores it.
            credentials=rds.Credentials.from_username(DATABASE_MASTER_USER, encryption_key=self.data_key),
            manage_master_user_password=True,
            iam_authentication=True,
            storage_encrypted=True,
            storage_encryption_key=self.data_key,
            storage_type=rds.StorageType.GP3,
            allocated_storage=env.db_storage_gib,
            max_allocated_storage=env.db_max_storage_gib,
            multi_az=env.db_multi_az,
            backup_retention=cdk.Duration.days(env.db_backup_days),
            preferred_backup_window="03:00-03:30",
            preferred_maintenance_window="sun:04:00-sun:04:30",
            delete_automated_backups=not env.protect,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            publicly_accessible=False,
            deletion_protection=env.protect,
            removal_policy=cdk.RemovalPolicy.SNAPSHOT if env.protect else cdk.RemovalPolicy.DESTROY,
            cloudwatch_logs_exports=DB_LOG_EXPORTS[settings.engine],
            enable_performance_insights=True,
            performance_insight_encryption_key=self.data_key,
            performance_insight_retention=rds.PerformanceInsightRetention.DEFAULT,
            monitoring_interval=cdk.Duration.seconds(60),
        )
        for group in db_log_groups:
            self.database.node.add_dependency(group)
        # The DbiResourceId that rds-db:connect is granted on (cluster stack).
        self.db_resource_id = self.database.instance_resource_id
        self.db_master_secret_arn = self.database.node.default_child.attr_master_user_secret_secret_arn  # type: ignore[union-attr]

        # --- the announcements table (chairtime/announcements/store.py) ----------------
        self.table = dynamodb.Table(
            self,
            "Announcements",
            table_name=env.table_name,
            partition_key=dynamodb.Attribute(name=TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=TABLE_SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TABLE_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.data_key,
            deletion_protection=env.protect,
            removal_policy=removal,
        )

        # --- Redis (Valkey) for the rate-limit counters (docs/security.md) -------------
        self.redis_security_group = ec2.SecurityGroup(
            self,
            "RedisSecurityGroup",
            vpc=vpc,
            description=f"Chairtime {env.name} Redis: ingress from the app pods only (cluster stack)",
            allow_all_outbound=False,
        )
        redis_subnets = elasticache.CfnSubnetGroup(
            self,
            "RedisSubnets",
            description=f"Chairtime {env.name} Redis",
            subnet_ids=vpc.select_subnets(subnet_group_name=ISOLATED).subnet_ids,
        )
        # The AUTH token lives in a secret of its own: CloudFormation generates it, and
        # the replication group and the pods both read it from there (by a dynamic
        # reference, and through the CSI driver), so it is never in a template or in
        # the app secret's redis_url. Letters and digits only: ElastiCache refuses
        # most punctuation, and 64 of them is well inside its 16-128.
        self.redis_auth_secret = secretsmanager.Secret(
            self,
            "RedisAuthSecret",
            secret_name=env.redis_auth_secret_name,
            description=f"Chairtime {env.name}: the Redis AUTH token (rotation: docs/aws.md)",
            encryption_key=self.data_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=self.to_json_string({}),
                generate_string_key="token",
                password_length=64,
                exclude_punctuation=True,
            ),
            removal_policy=removal,
        )
        failover = env.redis_nodes > 1
        self.redis = elasticache.CfnReplicationGroup(
            self,
            "Redis",
            replication_group_description=f"Chairtime {env.name} rate-limit counters",
            engine="valkey",
            engine_version="8.0",
            cache_node_type=env.redis_node_type,
            num_cache_clusters=env.redis_nodes,
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            port=REDIS_PORT,
            cache_subnet_group_name=redis_subnets.ref,
            security_group_ids=[self.redis_security_group.security_group_id],
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=self.redis_auth_secret.secret_value_from_json("token").unsafe_unwrap(),
            at_rest_encryption_enabled=True,
            kms_key_id=self.data_key.key_arn,
            auto_minor_version_upgrade=True,
            # Counters that expire within minutes: nothing worth a snapshot.
            snapshot_retention_limit=0,
            preferred_maintenance_window="sun:05:00-sun:06:00",
        )
        redis_url = f"rediss://{self.redis.attr_primary_end_point_address}:{REDIS_PORT}/0"

        # --- the app's secret, read by the pods (deploy/k8s/base/secretproviderclass.yaml)
        self.app_secret = secretsmanager.Secret(
            self,
            "AppSecret",
            secret_name=env.app_secret_name,
            description=f"Chairtime {env.name}: Django SECRET_KEY and the Redis URL",
            encryption_key=self.data_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=self.to_json_string({"redis_url": redis_url}),
                generate_string_key="secret_key",
                password_length=64,
                exclude_punctuation=True,
            ),
            removal_policy=removal,
        )

        scheme = "postgres" if settings.engine == "postgres" else "mysql"
        cdk.CfnOutput(self, "DatabaseEndpoint", value=self.database.db_instance_endpoint_address)
        cdk.CfnOutput(
            self,
            "DatabaseUrl",
            description="DATABASE_URL for the overlay (IAM authentication: no password)",
            value=f"{scheme}://{DATABASE_APP_USER}@{self.database.db_instance_endpoint_address}"
            f":{settings.db_port}/{DATABASE_NAME}",
        )
        cdk.CfnOutput(
            self,
            "DatabaseMasterSecretArn",
            description=f"{DATABASE_MASTER_USER}'s password, managed and rotated by RDS",
            value=self.db_master_secret_arn,
        )
        cdk.CfnOutput(self, "AnnouncementsTable", value=self.table.table_name)
        cdk.CfnOutput(self, "AppSecretName", value=env.app_secret_name)
        cdk.CfnOutput(self, "RedisAuthSecretName", value=env.redis_auth_secret_name)
        cdk.CfnOutput(self, "RedisEndpoint", value=self.redis.attr_primary_end_point_address)
