"""Container Insights, the containers' logs with retention, and the alarms (observability.py)."""

import pytest
from chairtime_aws.observability import default_max_connections

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


def test_the_containers_log_groups_exist_with_retention_and_the_logs_key(each_env):
    env = each_env.stacks.settings.env
    groups = {
        g["Properties"]["LogGroupName"]: g["Properties"]
        for g in resources(each_env.cluster, "AWS::Logs::LogGroup").values()
    }
    days = {"staging": 30, "prod": 365}[env.name]
    for name in ("application", "dataplane", "host", "performance"):
        group = groups[f"/aws/containerinsights/{env.cluster_name}/{name}"]
        assert group["RetentionInDays"] == days
        assert "LogsKey" in flatten(group["KmsKeyId"])


def test_alarms_cover_the_database_the_table_and_restarting_pods_and_notify_one_encrypted_topic(each_env):
    env = each_env.stacks.settings.env
    template = each_env.cluster
    found = alarms(template)
    prefix = env.cluster_name
    assert set(found) == {
        f"{prefix}-database-cpu",
        f"{prefix}-database-connections",
        f"{prefix}-database-free-storage",
        f"{prefix}-dynamodb-throttles",
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
