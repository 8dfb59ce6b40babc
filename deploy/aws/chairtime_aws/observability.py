"""What an operator sees and is woken by, per environment (cluster stack).

- Container Insights with the CloudWatch Observability EKS add-on: node, pod and
  container metrics (namespace ``ContainerInsights``), and every container's log
  shipped by its Fluent Bit to ``/aws/containerinsights/<cluster>/application``. The
  add-on's agent runs on its own Pod Identity role (``CloudWatchAgentServerPolicy``).
- Its log groups made here first, with the environment's retention and logs key (Fluent
  Bit would otherwise create them unencrypted and kept for ever).
- The app's own metrics (chairtime/ops/metrics.py: CloudWatch's embedded metric format,
  sent over UDP to the add-on's agent, whose ``emf`` input this stack turns on), written
  to ``/aws/containerinsights/<cluster>/metrics`` in the namespace ``Chairtime/<env>``.
- Alarms to one SNS topic (``chairtime-<env>-alarms``, KMS-encrypted; subscribe people or
  a pager to it): RDS CPU, free storage and connections, DynamoDB throttling, app pods
  restarting, and the app's 5xx rate and p99 latency.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from .config import PROJECT, Settings
from .data import DataStack

OBSERVABILITY_ADDON = "amazon-cloudwatch-observability"
# The add-on's agent and its Fluent Bit both run as this service account.
OBSERVABILITY_NAMESPACE = "amazon-cloudwatch"
OBSERVABILITY_SERVICE_ACCOUNT = "cloudwatch-agent"
# The log groups the add-on writes (Container Insights' names).
CONTAINER_INSIGHTS_LOG_GROUPS = ("application", "dataplane", "host", "performance")
# The add-on's agent configuration: its default (Container Insights with enhanced
# observability, Application Signals) plus the ``emf`` input (TCP and UDP port 25888)
# the app sends its metrics to. The add-on replaces its whole default with this.
AGENT_CONFIG = {
    "logs": {
        "metrics_collected": {
            "kubernetes": {"enhanced_container_insights": True},
            "application_signals": {},
            "emf": {},
        }
    },
    "traces": {"traces_collected": {"application_signals": {}}},
}
# Where the agent writes the app's metric events (the overlays' METRICS_EMF_LOG_GROUP)
# and their namespace (METRICS_EMF_NAMESPACE).
APP_METRICS_LOG_GROUP = "/aws/containerinsights/{cluster}/metrics"
APP_METRICS_NAMESPACE = "Chairtime/{env}"

# RDS's default max_connections is LEAST(DBInstanceClassMemory / divisor, 5000): the
# divisor is 9531392 for PostgreSQL and 12582880 for MySQL (RDS's documented defaults of
# the two parameter groups). The classes of config.py and their memory (GiB).
MAX_CONNECTIONS_DIVISOR = {"postgres": 9531392, "mysql": 12582880}
DB_CLASS_MEMORY_GIB = {"t4g.medium": 4, "m7g.large": 8}
# Alarm thresholds.
DB_CPU_PERCENT = 80
DB_CONNECTIONS_FRACTION = 0.8
ALB_LOG_DAYS = 90
DB_FREE_STORAGE_FRACTION = 0.10  # of the allocated storage (autoscaling grows it near there)
POD_RESTARTS = 3  # restarts of any one app pod's containers
ERROR_RATE_PERCENT = 5  # of the app's requests answered 5xx in 5 minutes...
ERROR_RATE_MIN_REQUESTS = 50  # ...when there were at least this many (a quiet night's 1 of 3 is no page)
P99_LATENCY_MS = 1500  # the app's p99 latency, for three 5-minute periods in a row
# The oldest e-mail due and not sent, in seconds, in two 5-minute periods in a row (the
# worker's sweep reports it every MESSAGES_SWEEP_SECONDS; a reminder late by 15 minutes
# is late). No data at all means no worker is sweeping: that breaches too.
MESSAGE_AGE_SECONDS = 900
RESTARTS_QUERY = " ".join(
    [
        "SELECT MAX(pod_number_of_container_restarts)",
        "FROM SCHEMA(ContainerInsights, ClusterName, Namespace, PodName)",
    ]
)


def default_max_connections(engine: str, instance_type: str) -> int:
    memory = DB_CLASS_MEMORY_GIB[instance_type] * 1024**3
    return min(memory // MAX_CONNECTIONS_DIVISOR[engine], 5000)


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        cluster: eks.ICluster,
        nodes: Construct,
        data: DataStack,
        logs_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        env = settings.env
        removal = cdk.RemovalPolicy.RETAIN if env.protect else cdk.RemovalPolicy.DESTROY

        # --- Container Insights and the containers' logs ----------------------------------
        groups = [
            logs.LogGroup(
                self,
                f"ContainerInsights{name.title()}",
                log_group_name=f"/aws/containerinsights/{env.cluster_name}/{name}",
                retention=env.log_retention,
                encryption_key=logs_key,
                removal_policy=removal,
            )
            for name in CONTAINER_INSIGHTS_LOG_GROUPS
        ]
        groups.append(
            logs.LogGroup(
                self,
                "AppMetrics",
                log_group_name=APP_METRICS_LOG_GROUP.format(cluster=env.cluster_name),
                retention=env.log_retention,
                encryption_key=logs_key,
                removal_policy=removal,
            )
        )
        agent_role = iam.Role(
            self,
            "AgentRole",
            description=f"{env.cluster_name} CloudWatch agent and Fluent Bit "
            f"({OBSERVABILITY_NAMESPACE}/{OBSERVABILITY_SERVICE_ACCOUNT}), EKS Pod Identity",
            assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy")],
        )
        self.addon = eks.CfnAddon(
            self,
            "Addon",
            addon_name=OBSERVABILITY_ADDON,
            cluster_name=cluster.cluster_name,
            resolve_conflicts="OVERWRITE",
            configuration_values=json.dumps({"agent": {"config": AGENT_CONFIG}}, sort_keys=True),
            pod_identity_associations=[
                eks.CfnAddon.PodIdentityAssociationProperty(
                    role_arn=agent_role.role_arn, service_account=OBSERVABILITY_SERVICE_ACCOUNT
                )
            ],
        )
        # Its pods need nodes to become ACTIVE; its log groups must exist before Fluent Bit.
        self.addon.node.add_dependency(nodes)
        for group in groups:
            self.addon.node.add_dependency(group)

        # --- alarms --------------------------------------------------------------------
        key = kms.Key(
            self,
            "AlarmsKey",
            alias=f"alias/{env.cluster_name}-alarms",
            description=f"Chairtime {env.name}: the alarms topic",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        # CloudWatch publishes to an encrypted topic only with a key it may use.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self, "Topic", topic_name=f"{env.cluster_name}-alarms", master_key=key, enforce_ssl=True
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        period = cdk.Duration.minutes(5)

        def alarm(name: str, description: str, metric: cloudwatch.IMetric, threshold: float, **kw) -> None:
            a = cloudwatch.Alarm(
                self,
                name,
                alarm_name=f"{env.cluster_name}-{name}",
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                comparison_operator=kw.pop(
                    "comparison", cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                ),
                evaluation_periods=kw.pop("periods", 3),
                treat_missing_data=kw.pop("missing", cloudwatch.TreatMissingData.MISSING),
                **kw,
            )
            a.add_alarm_action(action)
            a.add_ok_action(action)

        db = data.database
        alarm(
            "database-cpu",
            f"RDS {env.db_instance_id}: CPU above {DB_CPU_PERCENT} % for 15 minutes",
            db.metric_cpu_utilization(period=period, statistic="Average"),
            DB_CPU_PERCENT,
        )
        max_connections = default_max_connections(settings.engine, env.db_instance_type)
        alarm(
            "database-connections",
            f"RDS {env.db_instance_id}: more than {DB_CONNECTIONS_FRACTION:.0%} of the "
            f"{max_connections} connections the class allows (default max_connections)",
            db.metric_database_connections(period=period, statistic="Maximum"),
            int(max_connections * DB_CONNECTIONS_FRACTION),
        )
        free_bytes = int(env.db_storage_gib * 1024**3 * DB_FREE_STORAGE_FRACTION)
        alarm(
            "database-free-storage",
            f"RDS {env.db_instance_id}: under {DB_FREE_STORAGE_FRACTION:.0%} of the allocated "
            f"{env.db_storage_gib} GiB free (storage autoscaling may have reached its maximum)",
            db.metric_free_storage_space(period=period, statistic="Minimum"),
            free_bytes,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            periods=2,
        )
        throttles = cloudwatch.MathExpression(
            expression="reads + writes",
            using_metrics={
                "reads": data.table.metric("ReadThrottleEvents", period=period, statistic="Sum"),
                "writes": data.table.metric("WriteThrottleEvents", period=period, statistic="Sum"),
            },
            label="throttled reads and writes",
            period=period,
        )
        alarm(
            "dynamodb-throttles",
            f"DynamoDB {env.table_name}: requests throttled",
            throttles,
            0,
            periods=1,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # Container Insights reports restarts per pod; the pods' names change with every
        # release, so a Metrics Insights query takes the worst app pod of the namespace.
        # A Metrics Insights query (not SQL sent to a database; its names come from config.py).
        where = f"WHERE ClusterName = '{env.cluster_name}' AND Namespace = '{env.namespace}'"
        restarts = cloudwatch.MathExpression(
            expression=f"{RESTARTS_QUERY} {where}",
            label="restarts of the app pod that restarted most",
            period=period,
        )
        alarm(
            "pod-restarts",
            f"A pod in {env.namespace} restarted more than {POD_RESTARTS} times (crash loop, OOM kill, "
            "failing liveness probe): `bin/chairtimectl diagnose`",
            restarts,
            POD_RESTARTS,
            periods=1,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._add_app_alarms(env, alarm, period)
        cdk.CfnOutput(cdk.Stack.of(self), "AlarmsTopicArn", value=self.topic.topic_arn)
        self.alb_logs = self._add_alb_access_logs(settings)

    def _add_app_alarms(self, env, alarm, period: cdk.Duration) -> None:
        """The app's 5xx rate and p99 latency, from its own metrics (Requests and
        Latency with the dimension Service=web: every request the app answered), and
        the age of the oldest e-mail waiting (the worker's OldestDueMessageAge).

        Not the ALB's: its metrics' dimension is ``app/<name>/<id>``, the id made by
        the load balancer controller when the Ingress first syncs, after this stack.
        A 502/503/504 the ALB answers itself (no ready pod) is not in the app's
        metrics; the pod-restarts alarm and the readiness probe cover most of those."""
        namespace = APP_METRICS_NAMESPACE.format(env=env.name)
        web = {"Service": "web"}
        requests = cloudwatch.Metric(
            namespace=namespace, metric_name="Requests", dimensions_map=web, statistic="Sum", period=period
        )
        errors = cloudwatch.Metric(
            namespace=namespace,
            metric_name="Requests",
            dimensions_map={**web, "StatusClass": "5xx"},
            statistic="Sum",
            period=period,
        )
        # No 5xx in a period is no data point, not a zero: FILL makes it one. Below
        # ERROR_RATE_MIN_REQUESTS the rate is 0: a handful of requests proves nothing.
        error_rate = cloudwatch.MathExpression(
            expression=f"IF(requests >= {ERROR_RATE_MIN_REQUESTS}, 100 * FILL(errors, 0) / requests, 0)",
            using_metrics={"requests": requests, "errors": errors},
            label="5xx answers, % of requests",
            period=period,
        )
        alarm(
            "app-5xx-rate",
            f"More than {ERROR_RATE_PERCENT} % of the app's requests answered 5xx in 5 minutes "
            f"(with at least {ERROR_RATE_MIN_REQUESTS} requests): the app's log group, "
            "`bin/chairtimectl diagnose`",
            error_rate,
            ERROR_RATE_PERCENT,
            periods=1,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        latency = cloudwatch.Metric(
            namespace=namespace,
            metric_name="Latency",
            dimensions_map=web,
            statistic="p99",
            period=period,
        )
        alarm(
            "app-p99-latency",
            f"The app's p99 latency above {P99_LATENCY_MS / 1000:g} s for 15 minutes "
            "(database load, lock waits, DynamoDB timeouts)",
            latency,
            P99_LATENCY_MS,
            periods=3,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        messages = {"Service": "messages"}
        oldest = cloudwatch.Metric(
            namespace=namespace,
            metric_name="OldestDueMessageAge",
            dimensions_map=messages,
            statistic="Maximum",
            period=period,
        )
        alarm(
            "messages-waiting",
            f"Customers' e-mails have waited more than {MESSAGE_AGE_SECONDS // 60} minutes, or no "
            "worker reports the queue: the worker's pods and logs (`bin/chairtimectl diagnose`), "
            "then the mail service (docs/messages.md, docs/runbook.md)",
            oldest,
            MESSAGE_AGE_SECONDS,
            periods=2,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )

    def _add_alb_access_logs(self, settings: Settings) -> s3.Bucket:
        """The bucket the ALB writes its access logs to. The ALB is the AWS Load Balancer
        Controller's (from the Ingress), so the overlay turns the logs on with the
        Ingress's load-balancer-attributes (access_logs.s3.bucket=<this name>): the
        name is derived, not generated, for the overlay to know it. SSE-S3 because ALB
        access logs support no other encryption; kept ALB_LOG_DAYS days."""
        env = settings.env
        stack = cdk.Stack.of(self)
        bucket = s3.Bucket(
            self,
            "AlbAccessLogs",
            bucket_name=alb_logs_bucket_name(env.name, stack.account, stack.region),
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=cdk.Duration.days(ALB_LOG_DAYS),
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            # Logs are evidence: kept when the stack goes (docs/aws.md, "Tearing down").
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # Who writes: in regions from before August 2022 the region's Elastic Load
        # Balancing account, in newer ones the log delivery service (AWS documentation,
        # "Enable access logs for your Application Load Balancer").
        elb_account = RegionInfo.get(stack.region).elbv2_account
        writer: iam.IPrincipal = (
            iam.AccountPrincipal(elb_account)
            if elb_account
            else iam.ServicePrincipal("logdelivery.elasticloadbalancing.amazonaws.com")
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlbAccessLogDelivery",
                principals=[writer],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{env.namespace}/AWSLogs/{stack.account}/*")],
            )
        )
        cdk.CfnOutput(
            stack,
            "AlbAccessLogsBucket",
            value=bucket.bucket_name,
            description=f"the Ingress's access_logs.s3.bucket (deploy/k8s/overlays/{env.overlay})",
        )
        return bucket


def alb_logs_bucket_name(env_name: str, account: str, region: str) -> str:
    return f"{PROJECT}-{env_name}-alb-logs-{account}-{region}"
