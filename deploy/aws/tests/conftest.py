"""Synthesized apps, one per variant, shared by the whole session (a synthesis takes seconds)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from chairtime_aws.stacks import Stacks, build

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

HERE = Path(__file__).resolve().parent
AWS_DIR = HERE.parent
REPO = AWS_DIR.parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
ADMIN_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ChairtimeOperators"


def cdk_json_context() -> dict:
    """The feature flags of cdk.json: the tests synthesize what `cdk deploy` would."""
    return json.loads((AWS_DIR / "cdk.json").read_text())["context"]


def context(**values) -> dict:
    return {
        **cdk_json_context(),
        "account": ACCOUNT,
        "region": REGION,
        # What `cdk` would look up in the account and cache in cdk.context.json.
        f"availability-zones:account={ACCOUNT}:region={REGION}": [f"{REGION}{z}" for z in "abc"],
        "admin_role_arn": ADMIN_ROLE_ARN,
        **values,
    }


@dataclass
class Synthesized:
    stacks: Stacks
    app: cdk.App

    def template(self, stack: cdk.Stack) -> Template:
        return Template.from_stack(stack)

    @property
    def network(self) -> Template:
        return self.template(self.stacks.network)

    @property
    def data(self) -> Template:
        return self.template(self.stacks.data)

    @property
    def cluster(self) -> Template:
        return self.template(self.stacks.cluster)

    @property
    def registry(self) -> Template:
        return self.template(self.stacks.registry)

    @property
    def pipeline(self) -> Template:
        return self.template(self.stacks.pipeline)


def synthesize(tmp_path_factory: pytest.TempPathFactory, **values) -> Synthesized:
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("cdk.out")), context=context(**values))
    stacks = build(app)
    app.synth()
    return Synthesized(stacks, app)


@pytest.fixture(scope="session")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory, env="staging")


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory, env="prod")


@pytest.fixture(scope="session")
def staging_mysql(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory, env="staging", engine="mysql")


@pytest.fixture(params=["staging", "prod"])
def each_env(request: pytest.FixtureRequest) -> Synthesized:
    return request.getfixturevalue(request.param)
