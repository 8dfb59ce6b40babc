"""Customers' e-mail in AWS: a verified SES identity, and the pods' role may send from it
and from nothing else (the message worker's django-ses: SendRawEmail)."""

from __future__ import annotations

import pytest
from chairtime_aws.config import ConfigError, settings_from_context

from .conftest import ACCOUNT, REGION, synthesize
from .support import actions_of, flatten, logical_id, only, resources, statements_of_role
from .test_config import ENV, node_with


def ses_statements(template):
    role = logical_id(template, "AWS::IAM::Role", "AppRole")
    return [s for s in statements_of_role(template, role) if any(a.startswith("ses:") for a in actions_of(s))]


HOSTS = {"staging": "staging.chairtime.example", "prod": "book.chairtime.example"}


def env_of(synthesized) -> str:
    return synthesized.stacks.cluster.node.try_get_context("env")


def test_each_environment_verifies_its_own_domain_with_easy_dkim(each_env):
    identity = only(each_env.cluster, "AWS::SES::EmailIdentity")
    # One identity per account and region: staging and prod must not both make one.
    assert identity["Properties"]["EmailIdentity"] == HOSTS[env_of(each_env)]
    # Easy DKIM (CDK's default for a domain): the outputs give the three records.
    assert identity["Properties"].get("DkimAttributes", {}).get("SigningEnabled", True) is True
    outputs = each_env.cluster.to_json()["Outputs"]
    dkim = [k for k in outputs if k.startswith("SesDkimRecord")]
    assert len(dkim) == 3
    assert "DkimDNSTokenName1" in flatten(outputs[dkim[0]]["Value"])


def test_the_pods_may_send_only_from_the_verified_identity(each_env):
    [statement] = ses_statements(each_env.cluster)
    assert statement["Effect"] == "Allow"
    assert actions_of(statement) == {"ses:SendEmail", "ses:SendRawEmail"}
    resource = flatten(statement["Resource"])
    assert resource.endswith(f":ses:{REGION}:{ACCOUNT}:identity/{HOSTS[env_of(each_env)]}")
    assert "*" not in resource
    # No other SES right anywhere in the cluster stack (no GetSendQuota, no identity admin).
    others = [
        a
        for policy in resources(each_env.cluster, "AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        for a in actions_of(s)
        if a.startswith("ses:") and s is not statement
    ]
    assert sorted(others) == ["ses:SendEmail", "ses:SendRawEmail"]


def test_an_address_identity_is_verified_by_mail_and_granted_alone(tmp_path_factory):
    synthesized = synthesize(
        tmp_path_factory, env="staging", staging_ses_identity="Bookings@Salon.Example.com"
    )
    template = synthesized.cluster
    assert (
        only(template, "AWS::SES::EmailIdentity")["Properties"]["EmailIdentity"]
        == "bookings@salon.example.com"
    )
    [statement] = ses_statements(template)
    assert flatten(statement["Resource"]).endswith(":identity/bookings@salon.example.com")
    assert not [k for k in template.to_json()["Outputs"] if k.startswith("SesDkimRecord")]


@pytest.mark.parametrize("value", ["not a domain", "a@b@c.example", "@salon.example.com", "localhost"])
def test_it_refuses_an_identity_that_is_neither_a_domain_nor_an_address(value):
    with pytest.raises(ConfigError, match="staging_ses_identity"):
        settings_from_context(node_with(env="staging", staging_ses_identity=value), ENV)


def test_each_environment_reads_its_own_identity():
    context = {"staging_ses_identity": "staging.salon.example.com", "prod_ses_identity": "salon.example.com"}
    assert (
        settings_from_context(node_with(env="staging", **context), ENV).ses_identity
        == "staging.salon.example.com"
    )
    assert settings_from_context(node_with(env="prod", **context), ENV).ses_identity == "salon.example.com"


def test_the_overlays_send_from_their_environments_default_identity():
    from .conftest import REPO

    for overlay, host in HOSTS.items():
        text = (REPO / "deploy/k8s/overlays" / overlay / "kustomization.yaml").read_text()
        assert f"DEFAULT_FROM_EMAIL=Chairtime <bookings@{host}> # PLACEHOLDER" in text
    base = (REPO / "deploy/k8s/base/kustomization.yaml").read_text()
    assert "- EMAIL_BACKEND_KIND=ses" in base
