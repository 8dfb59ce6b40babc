"""Context handling and the names other parts of the repository rely on."""

import re

import aws_cdk as cdk
import pytest
from chairtime_aws.config import ENVIRONMENTS, ConfigError, settings_from_context

from .conftest import REPO

ENV = {"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"}


def node_with(**context):
    return cdk.App(context=context).node


def test_it_refuses_a_missing_or_unknown_environment():
    with pytest.raises(ConfigError, match="-c env=staging or -c env=prod"):
        settings_from_context(node_with(), ENV)
    with pytest.raises(ConfigError, match="got 'dev'"):
        settings_from_context(node_with(env="dev"), ENV)


def test_it_refuses_an_unknown_engine():
    with pytest.raises(ConfigError, match="postgres or mysql"):
        settings_from_context(node_with(env="staging", engine="oracle"), ENV)


def test_it_needs_an_account_and_region_from_the_cli_or_the_context():
    with pytest.raises(ConfigError, match="CDK_DEFAULT_ACCOUNT"):
        settings_from_context(node_with(env="staging"), {})
    settings = settings_from_context(node_with(env="prod"), ENV)
    assert (settings.account, settings.region) == ("123456789012", "eu-west-1")
    settings = settings_from_context(node_with(env="prod", account="210987654321", region="us-west-2"), ENV)
    assert (settings.account, settings.region) == ("210987654321", "us-west-2")


def test_defaults_are_postgres_and_an_approval_before_prod():
    settings = settings_from_context(node_with(env="staging"), ENV)
    assert settings.engine == "postgres"
    assert settings.db_port == 5432
    assert settings.prod_approval is True
    assert settings.admin_role_arn is None
    assert settings.api_allowed_cidrs == ()


def test_context_strings_are_parsed_like_the_cli_passes_them():
    settings = settings_from_context(
        node_with(env="staging", prod_approval="false", api_allowed_cidrs="203.0.113.0/24, 198.51.100.7/32"),
        ENV,
    )
    assert settings.prod_approval is False
    assert settings.api_allowed_cidrs == ("203.0.113.0/24", "198.51.100.7/32")
    with pytest.raises(ConfigError, match="true or false"):
        settings_from_context(node_with(env="staging", prod_approval="maybe"), ENV)
    with pytest.raises(ConfigError, match="IAM role ARN"):
        settings_from_context(node_with(env="staging", admin_role_arn="Admin"), ENV)


def test_the_retired_host_context_values_are_refused_not_ignored():
    # The host lives in the overlay's Ingress now; the smoke test reads it from there.
    for name in ("staging_host", "prod_host"):
        with pytest.raises(ConfigError, match=f"-c {name} is no longer used: .*Ingress"):
            settings_from_context(node_with(env="prod", **{name: "book.salon.example.org"}), ENV)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_names_match_what_the_overlays_expect(env):
    config = ENVIRONMENTS[env]
    overlay = (REPO / "deploy/k8s/overlays" / env / "kustomization.yaml").read_text()
    assert re.findall(r"^namespace: (\S+)", overlay, re.MULTILINE) == [config.namespace]
    assert re.findall(r"ANNOUNCEMENTS_TABLE=([\w.-]+)", overlay) == [config.table_name]
    secret_names = [config.app_secret_name, config.redis_auth_secret_name]
    assert re.findall(r'objectName: "([^"]+)"', overlay) == secret_names
    # The NetworkPolicies' CIDRs (the web pods' in and out, the worker's out) are this
    # environment's VPC.
    assert re.findall(r"ipBlock/cidr\s+value: ([\d./]+)", overlay) == [config.vpc_cidr] * 3
    # The Ingress host (a placeholder until step 7 of docs/aws.md).
    assert re.findall(r"rules/0/host\s+value: (\S+)", overlay) == [config.default_host]


def test_the_table_design_is_the_one_the_app_uses():
    store = (REPO / "chairtime/announcements/store.py").read_text()
    assert 'TTL_ATTRIBUTE = "expires_at"' in store
    assert '{"AttributeName": "pk", "KeyType": "HASH"}' in store
    assert '{"AttributeName": "sk", "KeyType": "RANGE"}' in store
