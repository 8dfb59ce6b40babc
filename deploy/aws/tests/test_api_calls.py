"""Every AWS API call the scripts and the app make is granted to the role that runs it, and
nothing more of those services.

The calls are found by reading the source (ast): boto3 clients are whatever
``<something>.client("<service>")`` returns (assigned to a name, passed as an argument,
or returned by a helper), and a call is ``<client>.<method>(...)``,
``<client>.get_waiter("<name>")`` or a dispatcher's ``getattr(<client>, operation)``
called with a literal operation. Method names map to IAM actions the way botocore names
operations (``describe_image_scan_findings`` -> ``ecr:DescribeImageScanFindings``).
What no boto3 call in our source shows (the registry protocol behind skopeo, RDS IAM
authentication, the CSI driver's secret reads) is declared below, with the reason.

Compared per role, for the services that role's code touches: CodeBuild's own plumbing
(logs, artifacts, KMS for them) is CDK's and is not what the scripts call.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import pytest

from .conftest import REPO
from .support import actions_of, logical_id, resources, statements_of_role

# Operations that need no IAM permission (AWS STS documentation: GetCallerIdentity).
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
# boto3 client methods that are not API operations.
NOT_OPERATIONS = {"get_paginator", "can_paginate", "close", "generate_presigned_url"}
# Waiters poll one operation.
WAITERS = {("dynamodb", "table_exists"): "DescribeTable"}
# IAM prefixes that differ from the boto3 service name.
IAM_PREFIX: dict[str, str] = {}

# `skopeo copy` (push) and `skopeo inspect --raw` speak the Docker registry protocol,
# which ECR authorizes as these actions; CDK's Repository.grant_pull_push grants them.
REGISTRY_PROTOCOL = {
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
}
# The pods' role, beyond the announcements store's own calls.
APP_OUTSIDE_OUR_CALLS = {
    # DATABASE_IAM_AUTH (chairtime/settings.py): django-iam-dbauth signs a token locally
    # (rds.generate_db_auth_token, no API call); RDS checks rds-db:connect.
    "rds-db:connect",
    # The Secrets Store CSI driver's AWS provider reads the app secret with this role.
    "secretsmanager:GetSecretValue",
    "secretsmanager:DescribeSecret",
    # SES's SendEmail (API v1 and v2's name) beside SendRawEmail: the grant names both
    # so that a switch to USE_SES_V2 (whose SendEmail also carries raw messages) needs
    # no IAM change; both are limited to the verified identity.
    "ses:SendEmail",
    # The data key, used by DynamoDB and Secrets Manager on the pods' behalf (kms:ViaService).
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
}
# The store's table set-up (`manage.py create_announcements_table`, `make run`) does not
# run in AWS: the data stack makes the table (docs/aws.md).
STORE_SETUP_ONLY = {"create_table", "_enable_ttl"}


# Where each source that makes boto3 clients runs, so that no AWS caller goes unchecked.
RUN_BY = {
    "scripts/image-publish": "the image project (Image stage)",
    "scripts/image-promote": "the prod deploy project",
    "scripts/kubeconfig": "both deploy projects",
    "chairtime/announcements/store.py": "the pods (AppRole)",
    # Replays the pipeline against moto and local stand-ins; never runs in AWS.
    "deploy/pipeline-local/replay.py": None,
}


def iam_action(service: str, method: str) -> str:
    return f"{IAM_PREFIX.get(service, service)}:" + "".join(p.title() for p in method.split("_"))


@dataclass
class Calls:
    """IAM actions by the function (name) they are made in."""

    by_function: dict[str, set[str]] = field(default_factory=dict)

    def add(self, function: str, action: str) -> None:
        self.by_function.setdefault(function, set()).add(action)

    def actions(self, *, leave_out: set[str] = frozenset()) -> set[str]:
        found = set()
        for function, actions in self.by_function.items():
            if function not in leave_out:
                found |= actions
        return found


def _service_of_client_call(node: ast.AST) -> str | None:
    """``boto3.client("ecr")`` / ``session.client("sts", ...)`` -> "ecr" / "sts"."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "client"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def _name(node: ast.AST) -> str | None:
    """``x`` -> x, ``self.x`` -> x, ``f(...)`` / ``self.f(...)`` -> None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _functions(tree: ast.AST) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def boto3_calls(source: str) -> Calls:
    tree = ast.parse(source)
    functions = _functions(tree)
    by_name = {f.name: f for f in functions}
    clients: dict[str, str] = {}  # variable / attribute / parameter name -> service
    returners: dict[str, str] = {}  # function name -> the service of the client it returns
    dispatchers: dict[str, str] = {}  # function name -> service, for getattr(client, op)(...)

    def service_of(node: ast.AST) -> str | None:
        direct = _service_of_client_call(node)
        if direct:
            return direct
        if isinstance(node, ast.Call):
            return returners.get(_name(node.func) or "")
        return clients.get(_name(node) or "")

    # Clients flow through assignments, arguments and return values: iterate to a fixpoint.
    for _ in range(5):
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                service = service_of(node.value)
                for target in node.targets:
                    if service and _name(target):
                        clients[_name(target)] = service
            elif isinstance(node, ast.Call) and _name(node.func) in by_name:
                params = [a.arg for a in by_name[_name(node.func)].args.args]
                offset = 1 if params[:1] == ["self"] and isinstance(node.func, ast.Attribute) else 0
                for index, arg in enumerate(node.args):
                    service = service_of(arg)
                    if service and index + offset < len(params):
                        clients[params[index + offset]] = service
        for function in functions:
            for node in ast.walk(function):
                if isinstance(node, ast.Return) and node.value is not None and service_of(node.value):
                    returners[function.name] = service_of(node.value)
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Call)
                    and isinstance(node.func.func, ast.Name)
                    and node.func.func.id == "getattr"
                    and service_of(node.func.args[0])
                ):
                    dispatchers[function.name] = service_of(node.func.args[0])

    calls = Calls()
    for function in functions:
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            first = node.args[0] if node.args else None
            is_text = isinstance(first, ast.Constant) and isinstance(first.value, str)
            literal = first.value if is_text else None
            if isinstance(func, ast.Attribute) and (service := service_of(func.value)):
                if func.attr == "get_waiter" and literal:
                    calls.add(function.name, f"{service}:{WAITERS[(service, literal)]}")
                elif func.attr not in NOT_OPERATIONS:
                    calls.add(function.name, iam_action(service, func.attr))
            elif _name(func) in dispatchers and literal:
                calls.add(function.name, iam_action(dispatchers[_name(func)], literal))
    return calls


def calls_of(path: str) -> Calls:
    return boto3_calls((REPO / path).read_text())


# --- the reader itself -----------------------------------------------------------------------


def test_the_reader_finds_direct_passed_returned_waited_and_dispatched_calls():
    calls = boto3_calls(
        """
import boto3

def scan(ecr, name):
    ecr.start_image_scan(repositoryName=name)
    ecr.exceptions.ScanNotFoundException  # not a call

def main():
    ecr = boto3.client("ecr")
    scan(ecr, "x")
    boto3.session.Session().client("sts").get_caller_identity()

class Store:
    def _client(self):
        client = self._session.client("dynamodb")
        return client

    def _call(self, operation, **params):
        return getattr(self._client(), operation)(**params)

    def get(self):
        return self._call("get_item", Key={})

    def wait(self):
        self._client().get_waiter("table_exists").wait(TableName="t")
"""
    )
    assert calls.by_function == {
        "scan": {"ecr:StartImageScan"},
        "main": {"sts:GetCallerIdentity"},
        "get": {"dynamodb:GetItem"},
        "wait": {"dynamodb:DescribeTable"},
    }


def test_every_source_that_makes_aws_clients_is_checked_against_a_role():
    sources = [
        *(REPO / "scripts").iterdir(),
        *(REPO / "chairtime").rglob("*.py"),
        *(REPO / "deploy").rglob("*.py"),
    ]
    callers = {
        str(p.relative_to(REPO))
        for p in sources
        if p.is_file()
        and "tests" not in p.parts
        and "__pycache__" not in p.parts
        and re.search(r"\.client\(\s*[\"']", p.read_text(errors="replace"))
    }
    assert callers == set(RUN_BY)


# --- each role against its code ----------------------------------------------------------------


def codebuild_role_statements(template, project_name):
    projects = resources(template, "AWS::CodeBuild::Project").values()
    [project] = [p for p in projects if p["Properties"]["Name"] == project_name]
    return statements_of_role(template, project["Properties"]["ServiceRole"]["Fn::GetAtt"][0])


def granted(statements, prefixes) -> set[str]:
    actions = set().union(*(actions_of(s) for s in statements)) if statements else set()
    return {a for a in actions if a.split(":")[0] in prefixes}


def prefixes_of(actions) -> set[str]:
    return {a.split(":")[0] for a in actions}


def assert_exactly(role: str, needed: set[str], statements) -> None:
    needed = needed - NEEDS_NO_PERMISSION
    given = granted(statements, prefixes_of(needed))
    assert needed - given == set(), f"{role} calls what it may not"
    assert given - needed == set(), f"{role} may do more than it calls"


def test_the_image_project_may_call_exactly_what_image_publish_and_its_pushes_do(staging):
    needed = calls_of("scripts/image-publish").actions() | REGISTRY_PROTOCOL
    # the scan is started when the repository did not start one on push
    assert "ecr:StartImageScan" in needed
    assert_exactly("chairtime-image", needed, codebuild_role_statements(staging.pipeline, "chairtime-image"))


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_each_deploy_project_may_call_exactly_what_its_scripts_do(staging, env):
    needed = calls_of("scripts/kubeconfig").actions()
    if env == "prod":  # deploy/buildspecs/deploy.yml, with PROMOTE_TAG_PREFIX
        needed |= calls_of("scripts/image-promote").actions()
    assert needed >= {"eks:DescribeCluster"}
    statements = codebuild_role_statements(staging.pipeline, f"chairtime-deploy-{env}")
    # The prefixes of both deploys, so that staging shows it has no ECR rights at all.
    prefixes = {"eks", "ecr", "sts"}
    given = granted(statements, prefixes)
    assert given == needed - NEEDS_NO_PERMISSION, f"chairtime-deploy-{env}"


def email_backend_calls() -> set[str]:
    """What the pods' e-mail backend (django-ses, EMAIL_BACKEND_KIND=ses in deploy/k8s/base)
    calls, read from its source as installed from requirements/base.txt and from our
    settings: its client is made from a conditional service name ("sesv2" if USE_SES_V2
    else "ses") that the reader cannot follow, so its calls on ``self.connection`` are
    mapped here, for the settings chairtime/settings.py gives it."""
    source = _django_ses_source()
    settings = (REPO / "chairtime/settings.py").read_text()
    # Our settings: API v1 (SendRawEmail, the .ics needs a raw message), no auto-throttle.
    assert "USE_SES_V2 = False" in settings
    assert "AWS_SES_AUTO_THROTTLE = None" in settings
    tree = ast.parse(source)
    [send] = [f for f in _functions(tree) if f.name == "send_messages"]
    methods = {
        node.func.attr
        for node in ast.walk(send)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "connection"
    }
    # v2's send_email and v1's send_raw_email, chosen by USE_SES_V2; the throttle's quota
    # calls live in _update_throttling, which AWS_SES_AUTO_THROTTLE = None never calls.
    assert methods == {"send_email", "send_raw_email"}, methods
    assert "self._update_throttling()" in ast.unparse(send)
    return {iam_action("ses", "send_raw_email")}


def _django_ses_source() -> str:
    """django-ses's backend as pinned in requirements/base.txt (the app's .venv)."""
    pins = (REPO / "requirements/base.txt").read_text()
    assert re.search(r"^django-ses==4\.8\.2$", pins, re.M), (
        "re-check email_backend_calls for the new django-ses"
    )
    found = sorted((REPO / ".venv").glob("lib/python3*/site-packages/django_ses/__init__.py"))
    if not found:
        pytest.skip("django-ses is not installed in .venv (make install)")
    return found[0].read_text()


def test_the_pods_may_call_exactly_what_the_app_does(each_env):
    needed = calls_of("chairtime/announcements/store.py").actions(leave_out=STORE_SETUP_ONLY)
    assert needed == {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:DescribeTable",
    }
    # nothing else in the app talks to AWS through boto3
    others = [
        p
        for p in (REPO / "chairtime").rglob("*.py")
        if "tests" not in p.parts and p.name != "store.py" and re.search(r"\.client\(\s*[\"']", p.read_text())
    ]
    assert others == []
    # The message worker's e-mail through SES's API: SendRawEmail (docs/aws.md, "E-mail").
    email = email_backend_calls()
    assert email == {"ses:SendRawEmail"}
    template = each_env.cluster
    statements = statements_of_role(template, logical_id(template, "AWS::IAM::Role", "AppRole"))
    assert_exactly("AppRole", needed | email | APP_OUTSIDE_OUR_CALLS, statements)
