"""RDS, the announcements table, Redis and the app secret."""

import json
import re
from pathlib import Path

import pytest

from .support import flatten, only, resources


def database(template):
    return only(template, "AWS::RDS::DBInstance")


def test_the_database_is_encrypted_with_the_data_key_and_has_iam_auth(each_env):
    props = database(each_env.data)["Properties"]
    assert props["StorageEncrypted"] is True
    assert props["KmsKeyId"] == {"Fn::GetAtt": [props["KmsKeyId"]["Fn::GetAtt"][0], "Arn"]}
    assert props["KmsKeyId"]["Fn::GetAtt"][0].startswith("DataKey")
    assert props["EnableIAMDatabaseAuthentication"] is True
    assert props["PubliclyAccessible"] is False
    assert props["DBName"] == "chairtime"
    assert props["Engine"] == "postgres"
    assert props["Port"] == "5432"


def test_the_master_password_is_generated_and_kept_by_rds_in_secrets_manager(each_env):
    props = database(each_env.data)["Properties"]
    assert props["ManageMasterUserPassword"] is True
    assert props["MasterUsername"] == "chairtime_admin"
    assert "MasterUserPassword" not in props
    assert props["MasterUserSecret"]["KmsKeyId"]["Fn::GetAtt"][0].startswith("DataKey")


def test_staging_is_single_az_unprotected_and_deleted_with_its_stack(staging):
    resource = database(staging.data)
    props = resource["Properties"]
    assert props["MultiAZ"] is False
    assert props["DeletionProtection"] is False
    assert props["BackupRetentionPeriod"] == 7
    assert props["DeleteAutomatedBackups"] is True
    assert resource["DeletionPolicy"] == "Delete"
    assert props["DBInstanceClass"] == "db.t4g.medium"


def test_prod_is_multi_az_protected_and_snapshotted_on_deletion(prod):
    resource = database(prod.data)
    props = resource["Properties"]
    assert props["MultiAZ"] is True
    assert props["DeletionProtection"] is True
    assert props["BackupRetentionPeriod"] == 30
    assert props["DeleteAutomatedBackups"] is False
    assert resource["DeletionPolicy"] == "Snapshot"
    assert resource["UpdateReplacePolicy"] == "Snapshot"


def test_the_database_lives_in_the_isolated_subnets(each_env):
    group = only(each_env.data, "AWS::RDS::DBSubnetGroup")["Properties"]
    assert group["SubnetIds"]
    assert all("Vpcdatabase" in flatten(subnet) for subnet in group["SubnetIds"])


def test_the_database_and_redis_admit_nobody_until_the_cluster_stack_says_so(each_env):
    groups = resources(each_env.data, "AWS::EC2::SecurityGroup")
    assert len(groups) == 2
    for group in groups.values():
        assert "SecurityGroupIngress" not in group["Properties"]
        # No egress either: CDK's placeholder rule, which matches no traffic.
        [egress] = group["Properties"]["SecurityGroupEgress"]
        assert (egress["CidrIp"], egress["Description"]) == ("255.255.255.255/32", "Disallow all traffic")
    assert not resources(each_env.data, "AWS::EC2::SecurityGroupIngress")


def test_every_connection_to_postgres_must_use_tls(staging):
    params = only(staging.data, "AWS::RDS::DBParameterGroup")["Properties"]
    assert params["Parameters"] == {"rds.force_ssl": "1"}
    assert database(staging.data)["Properties"]["EnableCloudwatchLogsExports"] == ["postgresql", "upgrade"]


def test_rds_runs_the_postgresql_major_version_the_tests_run_on(each_env):
    """The tests (`make test`, the pipeline's Test stage) run on the server that
    scripts/ensure-databases accepts, POSTGRES_MAJOR and no other; RDS must run it too."""
    ensure = (Path(__file__).resolve().parents[3] / "scripts" / "ensure-databases").read_text()
    [major] = re.findall(r"^POSTGRES_MAJOR=(\d+)$", ensure, re.MULTILINE)
    props = database(each_env.data)["Properties"]
    assert props["EngineVersion"].split(".")[0] == major
    family = only(each_env.data, "AWS::RDS::DBParameterGroup")["Properties"]["Family"]
    assert family == f"postgres{major}"


def test_mysql_is_selectable_with_the_same_protections(staging_mysql):
    props = database(staging_mysql.data)["Properties"]
    assert props["Engine"] == "mysql"
    assert props["EngineVersion"].startswith("8.4.")
    assert props["Port"] == "3306"
    assert props["EnableIAMDatabaseAuthentication"] is True
    assert props["StorageEncrypted"] is True
    assert props["EnableCloudwatchLogsExports"] == ["error", "slowquery"]
    params = only(staging_mysql.data, "AWS::RDS::DBParameterGroup")["Properties"]["Parameters"]
    assert params["require_secure_transport"] == "ON"
    url = staging_mysql.data.find_outputs("DatabaseUrl")["DatabaseUrl"]["Value"]
    assert flatten(url).startswith("mysql://chairtime_app@")
    assert flatten(url).endswith(":3306/chairtime")


def test_database_logs_go_to_log_groups_with_retention_and_the_logs_key(each_env):
    groups = {
        g["Properties"]["LogGroupName"]: g["Properties"]
        for g in resources(each_env.data, "AWS::Logs::LogGroup").values()
    }
    env = each_env.stacks.settings.env.name
    assert set(groups) == {
        f"/aws/rds/instance/chairtime-{env}/postgresql",
        f"/aws/rds/instance/chairtime-{env}/upgrade",
    }
    for group in groups.values():
        assert group["RetentionInDays"] == (30 if env == "staging" else 365)
        assert "LogsKey" in flatten(group["KmsKeyId"])


def test_the_database_url_output_names_the_iam_user_and_no_password(each_env):
    url = flatten(each_env.data.find_outputs("DatabaseUrl")["DatabaseUrl"]["Value"])
    assert url.startswith("postgres://chairtime_app@{Fn::GetAtt:Database")
    assert url.endswith(":5432/chairtime")
    assert ":" not in url.removeprefix("postgres://").split("@")[0]


@pytest.mark.parametrize(
    ("env", "deletion", "protected"), [("staging", "Delete", False), ("prod", "Retain", True)]
)
def test_the_announcements_table_matches_the_apps_design(request, env, deletion, protected):
    resource = only(request.getfixturevalue(env).data, "AWS::DynamoDB::Table")
    props = resource["Properties"]
    assert props["TableName"] == f"chairtime-{env}-announcements"
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert "GlobalSecondaryIndexes" not in props
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    assert props["SSESpecification"]["KMSMasterKeyId"]["Fn::GetAtt"][0].startswith("DataKey")
    assert resource["DeletionPolicy"] == deletion
    assert props["DeletionProtectionEnabled"] is protected


@pytest.mark.parametrize(("env", "nodes", "failover"), [("staging", 1, False), ("prod", 2, True)])
def test_redis_requires_tls_is_encrypted_at_rest_and_fails_over_in_prod(request, env, nodes, failover):
    props = only(request.getfixturevalue(env).data, "AWS::ElastiCache::ReplicationGroup")["Properties"]
    assert props["Engine"] == "valkey"
    assert props["TransitEncryptionEnabled"] is True
    assert props["TransitEncryptionMode"] == "required"
    assert props["AtRestEncryptionEnabled"] is True
    assert "DataKey" in flatten(props["KmsKeyId"])
    assert props["NumCacheClusters"] == nodes
    assert props["AutomaticFailoverEnabled"] is failover
    assert props["MultiAZEnabled"] is failover
    subnets = only(request.getfixturevalue(env).data, "AWS::ElastiCache::SubnetGroup")["Properties"][
        "SubnetIds"
    ]
    assert all("Vpcdatabase" in flatten(subnet) for subnet in subnets)


def secret_resource(template, prefix: str) -> dict:
    secrets = resources(template, "AWS::SecretsManager::Secret")
    [found] = [resource for logical_id, resource in secrets.items() if logical_id.startswith(prefix)]
    return found


def test_the_data_stack_has_exactly_the_app_secret_and_the_redis_auth_secret(each_env):
    found = sorted(resources(each_env.data, "AWS::SecretsManager::Secret"))
    assert [re.sub(r"[0-9A-F]{8}$", "", k) for k in found] == ["AppSecret", "RedisAuthSecret"]


def test_the_app_secret_has_a_generated_secret_key_and_the_redis_url(each_env):
    env = each_env.stacks.settings.env.name
    secret = secret_resource(each_env.data, "AppSecret")
    props = secret["Properties"]
    assert props["Name"] == f"chairtime/{env}/app"
    assert "DataKey" in flatten(props["KmsKeyId"])
    generate = props["GenerateSecretString"]
    assert generate["GenerateStringKey"] == "secret_key"
    assert generate["PasswordLength"] == 64
    template = flatten(generate["SecretStringTemplate"])
    assert template.startswith('{"redis_url":"rediss://{Fn::GetAtt:Redis,PrimaryEndPoint.Address}:6379/0"')
    assert secret["DeletionPolicy"] == ("Retain" if env == "prod" else "Delete")


def test_the_data_key_rotates_and_prod_keeps_it(each_env):
    key = only(each_env.data, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == ("Retain" if each_env.stacks.settings.env.protect else "Delete")


def test_the_secret_template_is_valid_json_once_resolved(staging):
    generate = secret_resource(staging.data, "AppSecret")["Properties"]["GenerateSecretString"]
    resolved = flatten(generate["SecretStringTemplate"]).replace(
        "{Fn::GetAtt:Redis,PrimaryEndPoint.Address}", "master.redis.example"
    )
    assert json.loads(resolved) == {"redis_url": "rediss://master.redis.example:6379/0"}


def test_redis_requires_a_generated_auth_token_that_elasticache_accepts(each_env):
    env = each_env.stacks.settings.env.name
    token_secret = secret_resource(each_env.data, "RedisAuthSecret")
    props = token_secret["Properties"]
    assert props["Name"] == f"chairtime/{env}/redis-auth"
    assert "DataKey" in flatten(props["KmsKeyId"])
    generate = props["GenerateSecretString"]
    # ElastiCache: 16-128 printable characters, punctuation only from !&#$^<>-;
    # letters and digits only keeps it out of every quoting problem.
    assert generate["GenerateStringKey"] == "token"
    assert generate["PasswordLength"] == 64
    assert generate["ExcludePunctuation"] is True
    assert json.loads(generate["SecretStringTemplate"]) == {}
    assert token_secret["DeletionPolicy"] == ("Retain" if env == "prod" else "Delete")

    redis = only(each_env.data, "AWS::ElastiCache::ReplicationGroup")["Properties"]
    # A dynamic reference: CloudFormation resolves it at deploy time, the token is
    # never in the template. AUTH needs transit encryption, which stays required.
    token_secret_id = next(
        k for k in resources(each_env.data, "AWS::SecretsManager::Secret") if k.startswith("RedisAuthSecret")
    )
    assert flatten(redis["AuthToken"]) == (
        f"{{{{resolve:secretsmanager:{{Ref:{token_secret_id}}}:SecretString:token::}}}}"
    )
    assert redis["TransitEncryptionEnabled"] is True
    assert redis["TransitEncryptionMode"] == "required"
    # The URL in the app secret stays without credentials.
    app_generate = secret_resource(each_env.data, "AppSecret")["Properties"]["GenerateSecretString"]
    url = flatten(app_generate["SecretStringTemplate"])
    assert "@" not in url
