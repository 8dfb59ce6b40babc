"""Container Insights, the containers' logs with retention, and the alarms (observability.py)."""

import json

import pytest
from chairtime_aws.observability import (
    APP_METRICS_LOG_GROUP,
    APP_METRICS_NAMESPACE,
    default_max_connections,
)

from .conftest import REPO
from .support import flatten, logical_id, resources


def alarms(template):
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }


def test_the_cloudwatch_observability_addon_runs_on_its_own_pod_identity_role(each_env):
    template = each_env.cluster
    [addon] = [
        a
        for a in resources(template, "AWS::EKS::Addon").values()
        if a["Properties"]["AddonName"] == "amazon-cloudwatch-observability"
    ]
    [association] = addon["Properties"]["PodIdentityAssociations"]
    assert association["ServiceAccount"] == "cloudwatch-agent"
    role = resources(template, "AWS::IAM::Role")[association["RoleArn"]["Fn::GetAtt"][0]]
    assert [flatten(a).rsplit("/", 1)[-1] for a in role["Properties"]["ManagedPolicyArns"]] == [
        "CloudWatchAgentServerPolicy"
    ]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "pods.eks.amazonaws.com"
    }
    # After the nodes, the agent, and its log groups.
    assert logical_id(template, "AWS::EKS::Addon", "Addonekspodidentityagent") in addon["DependsOn"]
    assert any(d.startswith("ObservabilityContainerInsightsApplication") for d in addon["DependsOn"])
    assert any(d.startswith("ObservabilityAppMetrics") for d in addon["DependsOn"])


def addon_agent_config(template) -> dict:
    [addon] = [
        a
        for a in resources(template, "AWS::EKS::Addon").values()
        if a["Properties"]["AddonName"] == "amazon-cloudwatch-observability"
    ]
    return json.loads(addon["Properties"]["ConfigurationValues"])["agent"]["config"]


def test_the_agent_listens_for_the_apps_metrics_and_keeps_container_insights(each_env):
    config = addon_agent_config(each_env.cluster)
    collected = config["logs"]["metrics_collected"]
    # The EMF input (TCP and UDP 25888) the k8s base's METRICS_EMF_ENDPOINT points at.
    assert collected["emf"] == {}
    # The add-on's own default, which a configuration replaces whole.
    assert collected["kubernetes"] == {"enhanced_container_insights": True}
    assert collected["application_signals"] == {}
    assert config["traces"] == {"traces_collected": {"application_signals": {}}}


def test_the_overlays_send_metrics_where_the_stack_reads_and_keeps_them():
    base = (REPO / "deploy/k8s/base/kustomization.yaml").read_text()
    assert "- METRICS_EMF_ENDPOINT=udp://cloudwatch-agent.amazon-cloudwatch:25888\n" in base
    for env in ("staging", "prod"):
        text = (REPO / "deploy/k8s/overlays" / env / "kustomization.yaml").read_text()
        assert f"- METRICS_EMF_NAMESPACE={APP_METRICS_NAMESPACE.format(env=env)}\n" in text
        group = APP_METRICS_LOG_GROUP.format(cluster=f"chairtime-{env}")
        assert f"- METRICS_EMF_LOG_GROUP={group}\n" in text


def test_the_containers_log_groups_exist_with_retention_and_the_logs_key(each_env):
    env = each_env.stacks.settings.env
    groups = {
        g["Properties"]["LogGroupName"]: g["Properties"]
        for g in resources(each_env.cluster, "AWS::Logs::LogGroup").values()
    }
    days = {"staging": 30, "prod": 365}[env.name]
    for name in ("application", "dataplane", "host", "performance", "metrics"):
        group = groups[f"/aws/containerinsights/{env.cluster_name}/{name}"]
        assert group["RetentionInDays"] == days
        assert "LogsKey" in flatten(group["KmsKeyId"])


def test_alarms_cover_the_database_the_table_and_restarting_pods_and_notify_one_encrypted_topic(each_env):
    env = each_env.stacks.settings.env
    template = each_env.cluster
    found = alarms(template)
    prefix = env.cluster_name
    assert set(found) == {
        f"{prefix}-app-5xx-rate",
        f"{prefix}-app-p99-latency",
        f"{prefix}-database-cpu",
        f"{prefix}-database-connections",
        f"{prefix}-database-free-storage",
        f"{prefix}-dynamodb-throttles",
        f"{prefix}-messages-waiting",
        f"{prefix}-pod-restarts",
    }
    topic_id = logical_id(template, "AWS::SNS::Topic", "ObservabilityTopic")
    topic = resources(template, "AWS::SNS::Topic")[topic_id]["Properties"]
    assert topic["TopicName"] == f"{prefix}-alarms"
    assert topic["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("ObservabilityAlarmsKey")
    for alarm in found.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]
    cpu = found[f"{prefix}-database-cpu"]
    assert (cpu["MetricName"], cpu["Namespace"], cpu["Threshold"]) == ("CPUUtilization", "AWS/RDS", 80)
    assert "ImportValue" in flatten(cpu["Dimensions"])  # the data stack's instance
    storage = found[f"{prefix}-database-free-storage"]
    assert storage["ComparisonOperator"] == "LessThanThreshold"
    assert storage["Threshold"] == env.db_storage_gib * 1024**3 // 10
    restarts = found[f"{prefix}-pod-restarts"]
    [query] = restarts["Metrics"]
    assert "FROM SCHEMA(ContainerInsights, ClusterName, Namespace, PodName)" in query["Expression"]
    assert f"Namespace = '{env.namespace}'" in query["Expression"]
    assert f"ClusterName = '{env.cluster_name}'" in query["Expression"]
    throttles = found[f"{prefix}-dynamodb-throttles"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in throttles["Metrics"] if "MetricStat" in m}
    assert names == {"ReadThrottleEvents", "WriteThrottleEvents"}
    assert throttles["Threshold"] == 0


def test_the_5xx_rate_alarm_is_the_apps_5xx_answers_over_all_its_answers_with_a_floor(each_env):
    env = each_env.stacks.settings.env
    alarm = alarms(each_env.cluster)[f"{env.cluster_name}-app-5xx-rate"]
    by_id = {m["Id"]: m for m in alarm["Metrics"]}
    [expression] = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["ReturnData"] is True
    assert expression["Expression"] == "IF(requests >= 50, 100 * FILL(errors, 0) / requests, 0)"
    for name, dimensions in (
        ("requests", [{"Name": "Service", "Value": "web"}]),
        ("errors", [{"Name": "Service", "Value": "web"}, {"Name": "StatusClass", "Value": "5xx"}]),
    ):
        stat = by_id[name]["MetricStat"]
        assert stat["Metric"]["Namespace"] == f"Chairtime/{env.name}"
        assert stat["Metric"]["MetricName"] == "Requests"
        assert sorted(stat["Metric"]["Dimensions"], key=lambda d: d["Name"]) == dimensions
        assert (stat["Stat"], stat["Period"]) == ("Sum", 300)
        assert by_id[name]["ReturnData"] is False
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (5, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_latency_alarm_is_the_apps_p99_over_one_and_a_half_seconds_for_15_minutes(each_env):
    env = each_env.stacks.settings.env
    alarm = alarms(each_env.cluster)[f"{env.cluster_name}-app-p99-latency"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (f"Chairtime/{env.name}", "Latency")
    assert alarm["Dimensions"] == [{"Name": "Service", "Value": "web"}]
    assert (alarm["ExtendedStatistic"], alarm["Period"]) == ("p99", 300)
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (1500, 3)  # milliseconds, as the app sends
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_messages_alarm_is_the_oldest_due_e_mail_over_15_minutes_or_no_worker_reporting(each_env):
    env = each_env.stacks.settings.env
    alarm = alarms(each_env.cluster)[f"{env.cluster_name}-messages-waiting"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (f"Chairtime/{env.name}", "OldestDueMessageAge")
    assert alarm["Dimensions"] == [{"Name": "Service", "Value": "messages"}]
    assert (alarm["Statistic"], alarm["Period"]) == ("Maximum", 300)
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (900, 2)  # seconds, as the worker sends
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "breaching"  # no worker sweeping is no e-mail sent
    # The name and unit the app sends (chairtime/ops/metrics.py).
    source = (REPO / "chairtime" / "ops" / "metrics.py").read_text()
    assert '"OldestDueMessageAge": (oldest_age_seconds, SECONDS)' in source
    assert '{"Service": "messages"}' in source


def test_cloudwatch_may_use_the_alarm_topics_key_for_this_account_only(each_env):
    template = each_env.cluster
    key = resources(template, "AWS::KMS::Key")[
        logical_id(template, "AWS::KMS::Key", "ObservabilityAlarmsKey")
    ]
    [statement] = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "CloudWatchAlarmsPublish"
    ]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


@pytest.mark.parametrize(
    ("engine", "instance", "expected"),
    [("postgres", "t4g.medium", 450), ("postgres", "m7g.large", 901), ("mysql", "t4g.medium", 341)],
)
def test_the_connections_alarm_uses_rds_default_max_connections(engine, instance, expected):
    assert default_max_connections(engine, instance) == expected


def test_every_configured_database_class_has_a_memory_size():
    from chairtime_aws.config import ENVIRONMENTS
    from chairtime_aws.observability import DB_CLASS_MEMORY_GIB

    assert {e.db_instance_type for e in ENVIRONMENTS.values()} <= set(DB_CLASS_MEMORY_GIB)
