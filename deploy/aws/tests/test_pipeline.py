"""The release pipeline and its CodeBuild projects."""

import re
from pathlib import Path

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_ecr as ecr
from chairtime_aws.pipeline import PipelineStack

from .conftest import context
from .support import actions_of, flatten, logical_id, only, resources, statements_of_role

STAGES = ["Source", "Test", "Image", "DeployStaging", "ApproveProd", "DeployProd"]


def pipeline(template):
    return only(template, "AWS::CodePipeline::Pipeline")["Properties"]


def projects(template):
    """project name -> properties"""
    return {
        p["Properties"]["Name"]: p["Properties"]
        for p in resources(template, "AWS::CodeBuild::Project").values()
    }


def project_statements(template, project_name):
    [project_id] = [
        k
        for k, p in resources(template, "AWS::CodeBuild::Project").items()
        if p["Properties"]["Name"] == project_name
    ]
    role_id = resources(template, "AWS::CodeBuild::Project")[project_id]["Properties"]["ServiceRole"][
        "Fn::GetAtt"
    ][0]
    return statements_of_role(template, role_id)


def all_actions(template, project_name):
    return set().union(*(actions_of(s) for s in project_statements(template, project_name)))


def test_it_is_a_v2_pipeline_where_newer_commits_supersede_waiting_ones(staging):
    props = pipeline(staging.pipeline)
    assert props["PipelineType"] == "V2"
    assert props["ExecutionMode"] == "SUPERSEDED"
    assert props["Name"] == "chairtime"


def test_stages_run_source_test_image_staging_approval_prod(staging):
    assert [s["Name"] for s in pipeline(staging.pipeline)["Stages"]] == STAGES


def test_the_approval_can_be_left_out(tmp_path):
    app = cdk.App(outdir=str(tmp_path), context=context(env="staging"))
    env = cdk.Environment(account="123456789012", region="us-east-1")
    registry = cdk.Stack(app, "registry", env=env)
    stack = PipelineStack(
        app,
        "pipeline",
        repository=ecr.Repository(registry, "Repo"),
        prod_approval=False,
        env=env,
    )
    template = cdk.assertions.Template.from_stack(stack)
    assert [s["Name"] for s in pipeline(template)["Stages"]] == [
        "Source",
        "Test",
        "Image",
        "DeployStaging",
        "DeployProd",
    ]


def test_source_is_a_codestar_connection_given_as_parameters(staging):
    [source] = pipeline(staging.pipeline)["Stages"][0]["Actions"]
    assert source["ActionTypeId"] == {
        "Category": "Source",
        "Owner": "AWS",
        "Provider": "CodeStarSourceConnection",
        "Version": "1",
    }
    config = source["Configuration"]
    assert config["ConnectionArn"] == {"Ref": "ConnectionArn"}
    assert config["FullRepositoryId"] == {
        "Fn::Join": ["", [{"Ref": "RepositoryOwner"}, "/", {"Ref": "RepositoryName"}]]
    }
    assert config["BranchName"] == {"Ref": "Branch"}
    parameters = staging.pipeline.to_json()["Parameters"]
    assert parameters["Branch"]["Default"] == "main"
    assert "Default" not in parameters["ConnectionArn"]
    assert source["Namespace"] == "Source"
    role_id = source["RoleArn"]["Fn::GetAtt"][0]
    uses = [
        s for s in statements_of_role(staging.pipeline, role_id) if "UseConnection" in flatten(s["Action"])
    ]
    assert {(a, flatten(s["Resource"])) for s in uses for a in actions_of(s)} == {
        ("codestar-connections:UseConnection", "{Ref:ConnectionArn}"),
        ("codeconnections:UseConnection", "{Ref:ConnectionArn}"),
    }


def test_the_image_ref_flows_from_the_image_stage_to_both_deploys(staging):
    stages = {s["Name"]: s for s in pipeline(staging.pipeline)["Stages"]}
    [image] = stages["Image"]["Actions"]
    assert image["Namespace"] == "Image"
    assert (
        '"name":"COMMIT_ID","type":"PLAINTEXT","value":"#{Source.CommitId}"'
        in image["Configuration"]["EnvironmentVariables"]
    )
    for name in ("DeployStaging", "DeployProd"):
        [deploy] = stages[name]["Actions"]
        assert (
            deploy["Configuration"]["EnvironmentVariables"]
            == '[{"name":"IMAGE_REF","type":"PLAINTEXT","value":"#{Image.IMAGE_REF}"}]'
        )


def test_a_failed_deploy_rolls_its_stage_back(staging):
    on_failure = {s["Name"]: s.get("OnFailure") for s in pipeline(staging.pipeline)["Stages"]}
    assert on_failure == {
        "Source": None, "Test": None, "Image": None, "ApproveProd": None,
        "DeployStaging": {"Result": "ROLLBACK"}, "DeployProd": {"Result": "ROLLBACK"},
    }  # fmt: skip


def test_projects_use_the_repos_buildspecs(staging):
    specs = {name: p["Source"]["BuildSpec"] for name, p in projects(staging.pipeline).items()}
    assert specs == {
        "chairtime-test": "deploy/buildspecs/test.yml",
        "chairtime-image": "deploy/buildspecs/image.yml",
        "chairtime-deploy-staging": "deploy/buildspecs/deploy.yml",
        "chairtime-deploy-prod": "deploy/buildspecs/deploy.yml",
    }


def test_only_the_image_project_is_privileged(staging):
    privileged = {name: p["Environment"]["PrivilegedMode"] for name, p in projects(staging.pipeline).items()}
    assert privileged == {
        "chairtime-test": False,
        "chairtime-image": True,
        "chairtime-deploy-staging": False,
        "chairtime-deploy-prod": False,
    }


def deploy_variables(template, env):
    props = projects(template)[f"chairtime-deploy-{env}"]
    return {v["Name"]: v["Value"] for v in props["Environment"]["EnvironmentVariables"]}


def test_deploy_projects_know_their_overlay_cluster_and_public_url_and_run_one_at_a_time(staging):
    for env in ("staging", "prod"):
        assert deploy_variables(staging.pipeline, env) == {
            "OVERLAY": env,
            "CLUSTER_NAME": f"chairtime-{env}",
            # the smoke test of deploy/buildspecs/deploy.yml, through the ALB's own name
            # from the Ingress's status, for the Ingress's host: no DNS needed
            "SMOKE_URL": "https://{ingress}",
            # prod only: the deploy tags the image prod-<tag>, which the lifecycle keeps
            **({"PROMOTE_TAG_PREFIX": "prod-"} if env == "prod" else {}),
        }
        assert projects(staging.pipeline)[f"chairtime-deploy-{env}"]["ConcurrentBuildLimit"] == 1


def test_the_smoke_urls_placeholder_is_the_one_chairtimectl_replaces(staging):
    # chairtimectl (another virtualenv's code) replaces it with the ALB's address.
    smoke = (Path(__file__).resolve().parents[3] / "deploy/chairtimectl/smoke.py").read_text()
    placeholder = re.findall(r'^INGRESS_PLACEHOLDER = "([^"]+)"$', smoke, re.MULTILINE)
    assert placeholder == ["{ingress}"]
    for env in ("staging", "prod"):
        assert deploy_variables(staging.pipeline, env)["SMOKE_URL"] == f"https://{placeholder[0]}"


def test_builds_are_cached_logged_with_retention_and_encrypted(staging):
    template = staging.pipeline
    caches = {name: p["Cache"] for name, p in projects(template).items()}
    # No project caches Docker layers: no build runs dockerd (the image is built with
    # buildah, whose store the DOCKER_LAYER mode does not keep).
    for cache in caches.values():
        assert cache == {"Type": "LOCAL", "Modes": ["LOCAL_SOURCE_CACHE", "LOCAL_CUSTOM_CACHE"]}
    group_id = logical_id(template, "AWS::Logs::LogGroup", "BuildLogs")
    assert only(template, "AWS::Logs::LogGroup")["Properties"]["RetentionInDays"] == 90
    for name, props in projects(template).items():
        logs = props["LogsConfig"]["CloudWatchLogs"]
        assert (logs["Status"], logs["GroupName"], logs["StreamName"]) == ("ENABLED", {"Ref": group_id}, name)
        assert props["EncryptionKey"]["Fn::GetAtt"][0].startswith("PipelineKey")


def test_the_custom_caches_are_what_the_buildspecs_use(staging):
    """CUSTOM keeps what each buildspec lists under cache: paths. The image stage keeps
    pip's and uv's caches (its install phase) and not buildah's store: see docs/container.md."""
    buildspecs = Path(__file__).resolve().parents[3] / "deploy" / "buildspecs"
    image = yaml.safe_load((buildspecs / "image.yml").read_text())
    assert image["cache"]["paths"] == ["/root/.cache/pip/**/*", "/root/.cache/uv/**/*"]
    assert "/var/lib/containers" not in (buildspecs / "image.yml").read_text().split("cache:")[-1]
    install = image["phases"]["install"]["commands"]
    assert install.index("scripts/container-storage") > install.index("scripts/system-deps container")


def test_the_test_project_may_only_write_its_two_report_groups(staging):
    template = staging.pipeline
    groups = {
        g["Properties"]["Name"]: g["Properties"]["Type"]
        for g in resources(template, "AWS::CodeBuild::ReportGroup").values()
    }
    assert groups == {"chairtime-test-junit": "TEST", "chairtime-test-coverage": "CODE_COVERAGE"}
    reports = [
        s
        for s in project_statements(template, "chairtime-test")
        if any(a.startswith("codebuild:") for a in actions_of(s))
    ]
    assert {flatten(s["Resource"]) for s in reports} == {
        f"{{Fn::GetAtt:{logical_id(template, 'AWS::CodeBuild::ReportGroup', name)},Arn}}"
        for name in ("ReportsJunit", "ReportsCoverage")
    }
    assert "codebuild:CreateReportGroup" not in all_actions(template, "chairtime-test")
    assert not {a for a in all_actions(template, "chairtime-test") if a.startswith(("ecr:", "eks:"))}


def test_the_image_project_may_push_to_its_repository_only(staging):
    statements = project_statements(staging.pipeline, "chairtime-image")
    ecr_statements = [s for s in statements if any(a.startswith("ecr:") for a in actions_of(s))]
    for statement in ecr_statements:
        if actions_of(statement) == {"ecr:GetAuthorizationToken"}:
            assert statement["Resource"] == "*"  # the action has no resource-level permissions
        else:
            assert "chairtime-registry:ExportsOutputFnGetAttRepository" in flatten(statement["Resource"])
    pushed = set().union(*(actions_of(s) for s in ecr_statements))
    assert {
        "ecr:PutImage",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
    } <= pushed
    assert {"ecr:GetAuthorizationToken", "ecr:DescribeImageScanFindings", "ecr:StartImageScan"} <= pushed
    assert not {
        a for a in all_actions(staging.pipeline, "chairtime-image") if a.startswith(("eks:", "codebuild:"))
    }


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_each_deploy_project_may_describe_only_its_own_cluster(staging, env):
    statements = project_statements(staging.pipeline, f"chairtime-deploy-{env}")
    eks = [s for s in statements if any(a.startswith("eks:") for a in actions_of(s))]
    assert len(eks) == 1
    assert actions_of(eks[0]) == {"eks:DescribeCluster"}
    assert flatten(eks[0]["Resource"]) == f"arn:aws:eks:us-east-1:123456789012:cluster/chairtime-{env}"
    assert not {
        a for a in all_actions(staging.pipeline, f"chairtime-deploy-{env}") if a.startswith("codebuild:")
    }


def test_only_the_prod_deploy_may_tag_images_and_only_in_the_repository(staging):
    assert not {a for a in all_actions(staging.pipeline, "chairtime-deploy-staging") if a.startswith("ecr:")}
    statements = project_statements(staging.pipeline, "chairtime-deploy-prod")
    ecr_statements = [s for s in statements if any(a.startswith("ecr:") for a in actions_of(s))]
    # scripts/image-promote: BatchGetImage (the manifest by digest), PutImage (one more tag)
    assert [actions_of(s) for s in ecr_statements] == [{"ecr:BatchGetImage", "ecr:PutImage"}]
    assert "chairtime-registry:ExportsOutputFnGetAttRepository" in flatten(ecr_statements[0]["Resource"])


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_each_deploy_role_may_edit_only_its_namespace_in_its_cluster(staging, env):
    template = staging.pipeline
    entry = resources(template, "AWS::EKS::AccessEntry")[
        logical_id(template, "AWS::EKS::AccessEntry", f"Deploy{env.title()}")
    ]
    props = entry["Properties"]
    role_id = logical_id(template, "AWS::IAM::Role", f"Deploy{env.title()}ProjectRole")
    assert props["ClusterName"] == f"chairtime-{env}"
    assert props["PrincipalArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert props["KubernetesGroups"] == ["chairtime-deployers"]
    [policy] = props["AccessPolicies"]
    assert flatten(policy["PolicyArn"]).endswith(":eks::aws:cluster-access-policy/AmazonEKSEditPolicy")
    assert policy["AccessScope"] == {"Type": "namespace", "Namespaces": [f"chairtime-{env}"]}


def test_the_artifact_bucket_is_encrypted_private_and_tls_only(staging):
    template = staging.pipeline
    bucket = only(template, "AWS::S3::Bucket")["Properties"]
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "PipelineKey" in flatten(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    policy = only(template, "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy
    )
    assert pipeline(template)["ArtifactStore"]["Location"] == {
        "Ref": logical_id(template, "AWS::S3::Bucket", "Artifacts")
    }


def test_the_pipeline_is_the_same_whichever_environment_is_synthesized(staging, prod):
    assert staging.pipeline.to_json() == prod.pipeline.to_json()
