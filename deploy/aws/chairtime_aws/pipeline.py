"""The release pipeline: Source -> Test -> Image -> Deploy staging -> (approve) -> Deploy prod."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .config import DEPLOYERS_GROUP, ENVIRONMENTS, PROJECT, EnvironmentConfig, export_name
from .registry import PROD_TAG_PREFIX

# The buildspecs, read from the source at build time (deploy/buildspecs/).
BUILDSPEC_TEST = "deploy/buildspecs/test.yml"
BUILDSPEC_IMAGE = "deploy/buildspecs/image.yml"
BUILDSPEC_DEPLOY = "deploy/buildspecs/deploy.yml"
# The image buildspec exports IMAGE_REF (<repo>:<commit>@sha256:<digest>) in this namespace.
IMAGE_NAMESPACE = "Image"
SOURCE_NAMESPACE = "Source"
# Report groups of the test project. CodeBuild maps a buildspec `reports:` entry named
# `junit` / `coverage` to the report group `<project name>-junit` / `-coverage`.
TEST_PROJECT = f"{PROJECT}-test"
REPORT_GROUPS = {"junit": codebuild.ReportGroupType.TEST, "coverage": codebuild.ReportGroupType.CODE_COVERAGE}
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
# Deploy to staging, then prod.
DEPLOY_ENVIRONMENTS = ("staging", "prod")
# The environments whose deploy adds a tag to the image it releases, so that the
# repository's lifecycle keeps it (registry.py): prod, the one that only runs approved
# images. The deploy buildspec tags when PROMOTE_TAG_PREFIX is set.
PROMOTING_ENVIRONMENTS = {"prod": PROD_TAG_PREFIX}


class PipelineStack(cdk.Stack):
    """CodePipeline V2 (SUPERSEDED) and one CodeBuild project per kind of step.

    Each project has its own role with only what its step needs: the test project may
    write its reports; the image project may push to the one repository and read its
    scan findings; each deploy project may describe its own cluster, and is let into
    that cluster by an access entry made here (AmazonEKSEditPolicy on the app's
    namespace plus the ``chairtime-deployers`` group, whose RBAC the cluster stack
    makes). The clusters must exist before this stack is deployed.

    Where the code comes from is given at deploy time as CloudFormation parameters
    (ConnectionArn, RepositoryOwner, RepositoryName, Branch), not stored in the repo.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: ecr.IRepository,
        prod_approval: bool,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        connection_arn = cdk.CfnParameter(
            self,
            "ConnectionArn",
            description="ARN of the CodeStar (CodeConnections) connection to the Git host, status AVAILABLE",
            allowed_pattern=r"arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]+",
        )
        owner = cdk.CfnParameter(
            self, "RepositoryOwner", description="Owner (user or organisation) of the repository"
        )
        name = cdk.CfnParameter(self, "RepositoryName", description="Name of the repository")
        branch = cdk.CfnParameter(self, "Branch", default="main", description="Branch that releases")

        key = kms.Key(
            self,
            "PipelineKey",
            alias=f"alias/{PROJECT}-pipeline",
            description="Chairtime pipeline: artifacts, build logs, build outputs",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com"))
        artifacts = s3.Bucket(
            self,
            "Artifacts",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=cdk.Duration.days(30),
                    noncurrent_version_expiration=cdk.Duration.days(7),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        build_logs = logs.LogGroup(
            self,
            "BuildLogs",
            log_group_name=f"/{PROJECT}/pipeline/codebuild",
            retention=LOG_RETENTION,
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

        def project(
            construct_id: str,
            *,
            project_name: str,
            buildspec: str,
            cache: codebuild.Cache,
            compute: codebuild.ComputeType = codebuild.ComputeType.SMALL,
            privileged: bool = False,
            environment_variables: dict[str, str] | None = None,
            timeout_minutes: int = 30,
            concurrent_build_limit: int | None = None,
            vpc: ec2.IVpc | None = None,
            subnets: ec2.SubnetSelection | None = None,
            security_groups: list[ec2.ISecurityGroup] | None = None,
        ) -> codebuild.PipelineProject:
            return codebuild.PipelineProject(
                self,
                construct_id,
                project_name=project_name,
                build_spec=codebuild.BuildSpec.from_source_filename(buildspec),
                environment=codebuild.BuildEnvironment(
                    build_image=BUILD_IMAGE, compute_type=compute, privileged=privileged
                ),
                environment_variables={
                    k: codebuild.BuildEnvironmentVariable(value=v)
                    for k, v in (environment_variables or {}).items()
                },
                cache=cache,
                encryption_key=key,
                logging=codebuild.LoggingOptions(
                    cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=build_logs, prefix=project_name)
                ),
                timeout=cdk.Duration.minutes(timeout_minutes),
                concurrent_build_limit=concurrent_build_limit,
                # Report permissions are granted below, on the two report groups only.
                grant_report_group_permissions=False,
                vpc=vpc,
                subnet_selection=subnets,
                security_groups=security_groups,
            )

        # --- Test: the README's test command; JUnit and Cobertura reports ---------------
        test = project(
            "TestProject",
            project_name=TEST_PROJECT,
            buildspec=BUILDSPEC_TEST,
            compute=codebuild.ComputeType.MEDIUM,
            cache=codebuild.Cache.local(codebuild.LocalCacheMode.SOURCE, codebuild.LocalCacheMode.CUSTOM),
            timeout_minutes=45,
        )
        for report, report_type in REPORT_GROUPS.items():
            group = codebuild.ReportGroup(
                self,
                f"Reports{report.title()}",
                report_group_name=f"{TEST_PROJECT}-{report}",
                type=report_type,
                delete_reports=True,
                removal_policy=cdk.RemovalPolicy.DESTROY,
            )
            group.grant_write(test)

        # --- Image: build, push <repo>:<commit>, export IMAGE_REF -----------------------
        image = project(
            "ImageProject",
            project_name=f"{PROJECT}-image",
            buildspec=BUILDSPEC_IMAGE,
            compute=codebuild.ComputeType.MEDIUM,
            # Builds images with buildah, whose mounts (fuse-overlayfs, chroot isolation)
            # need a privileged container: the only privileged project.
            privileged=True,
            # No DOCKER_LAYER mode: it keeps dockerd's layers, and no dockerd runs here.
            # buildah's own store is not cached either (docs/container.md): CUSTOM keeps
            # pip's cache for the install phase (deploy/buildspecs/image.yml).
            cache=codebuild.Cache.local(codebuild.LocalCacheMode.SOURCE, codebuild.LocalCacheMode.CUSTOM),
            environment_variables={"IMAGE_REPOSITORY": repository.repository_uri},
        )
        # The registry protocol behind skopeo's push and inspect (and the login token).
        repository.grant_pull_push(image)
        # What scripts/image-publish asks ECR's API itself (tests/test_api_calls.py
        # compares the two): find an image by tag, wait for its scan, start one when
        # the repository has none (no scan on push), read its findings.
        image.add_to_role_policy(
            iam.PolicyStatement(
                sid="ScanResults",
                actions=["ecr:DescribeImages", "ecr:DescribeImageScanFindings", "ecr:StartImageScan"],
                resources=[repository.repository_arn],
            )
        )

        # --- Deploy: one project per environment, each let into its own cluster only ----
        deploys = {
            env_name: self._deploy_project(ENVIRONMENTS[env_name], project, repository)
            for env_name in DEPLOY_ENVIRONMENTS
        }

        source_output = codepipeline.Artifact("Source")
        # CDK grants the source action codestar-connections:UseConnection; connections
        # made through the newer CodeConnections API have codeconnections ARNs, whose
        # policies use that prefix. Both, on this one connection.
        source_role = iam.Role(self, "SourceActionRole", assumed_by=iam.AccountPrincipal(self.account))
        source_role.add_to_policy(
            iam.PolicyStatement(
                sid="UseConnection",
                actions=["codestar-connections:UseConnection", "codeconnections:UseConnection"],
                resources=[connection_arn.value_as_string],
            )
        )
        source = actions.CodeStarConnectionsSourceAction(
            action_name="Checkout",
            connection_arn=connection_arn.value_as_string,
            owner=owner.value_as_string,
            repo=name.value_as_string,
            branch=branch.value_as_string,
            output=source_output,
            trigger_on_push=True,
            variables_namespace=SOURCE_NAMESPACE,
            role=source_role,
        )
        build_image = actions.CodeBuildAction(
            action_name="BuildAndPush",
            project=image,
            input=source_output,
            variables_namespace=IMAGE_NAMESPACE,
            environment_variables={
                "COMMIT_ID": codebuild.BuildEnvironmentVariable(value=source.variables.commit_id)
            },
        )

        def deploy_stage(env_name: str) -> codepipeline.StageProps:
            return codepipeline.StageProps(
                stage_name=f"Deploy{env_name.title()}",
                actions=[
                    actions.CodeBuildAction(
                        action_name=f"Deploy{env_name.title()}",
                        project=deploys[env_name],
                        input=source_output,
                        environment_variables={
                            "IMAGE_REF": codebuild.BuildEnvironmentVariable(
                                value=build_image.variable("IMAGE_REF")
                            )
                        },
                    )
                ],
                # A failed deploy re-runs the stage with the last successful execution's
                # source and image (the previous release).
                on_failure=codepipeline.FailureConditions(result=codepipeline.Result.ROLLBACK),
            )

        stages = [
            codepipeline.StageProps(stage_name="Source", actions=[source]),
            codepipeline.StageProps(
                stage_name="Test",
                actions=[actions.CodeBuildAction(action_name="Test", project=test, input=source_output)],
            ),
            codepipeline.StageProps(stage_name="Image", actions=[build_image]),
            deploy_stage("staging"),
        ]
        if prod_approval:
            stages.append(
                codepipeline.StageProps(
                    stage_name="ApproveProd",
                    actions=[
                        actions.ManualApprovalAction(
                            action_name="Approve",
                            additional_information="Staging runs this release. Promote its image to prod?",
                        )
                    ],
                )
            )
        stages.append(deploy_stage("prod"))

        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=PROJECT,
            pipeline_type=codepipeline.PipelineType.V2,
            # A newer commit replaces a waiting older one; a release in a stage finishes first.
            execution_mode=codepipeline.ExecutionMode.SUPERSEDED,
            artifact_bucket=artifacts,
            restart_execution_on_update=False,
            stages=stages,
        )

        cdk.CfnOutput(self, "PipelineName", value=self.pipeline.pipeline_name)
        cdk.CfnOutput(self, "ArtifactBucketName", value=artifacts.bucket_name)

    def _deploy_project(
        self,
        env: EnvironmentConfig,
        project: Callable[..., codebuild.PipelineProject],
        repository: ecr.IRepository,
    ) -> codebuild.PipelineProject:
        promote_prefix = PROMOTING_ENVIRONMENTS.get(env.name)
        # In the environment's VPC: its cluster's API endpoint is private
        # (cluster.py, _add_deployers_network exports where to run).
        title = env.name.title()
        subnet_ids = cdk.Fn.split(
            ",", cdk.Fn.import_value(export_name(env.name, "private-subnets")), env.max_azs
        )
        route_tables = cdk.Fn.split(
            ",", cdk.Fn.import_value(export_name(env.name, "private-route-tables")), env.max_azs
        )
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            f"{title}Vpc",
            vpc_id=cdk.Fn.import_value(export_name(env.name, "vpc-id")),
            availability_zones=[cdk.Fn.select(i, cdk.Fn.get_azs()) for i in range(env.max_azs)],
            private_subnet_ids=[cdk.Fn.select(i, subnet_ids) for i in range(env.max_azs)],
            private_subnet_route_table_ids=[cdk.Fn.select(i, route_tables) for i in range(env.max_azs)],
        )
        deployers = ec2.SecurityGroup.from_security_group_id(
            self,
            f"{title}DeployersSecurityGroup",
            cdk.Fn.import_value(export_name(env.name, "deployers-sg")),
            mutable=False,
        )
        deploy = project(
            f"Deploy{env.name.title()}Project",
            project_name=f"{PROJECT}-deploy-{env.name}",
            buildspec=BUILDSPEC_DEPLOY,
            cache=codebuild.Cache.local(codebuild.LocalCacheMode.SOURCE, codebuild.LocalCacheMode.CUSTOM),
            # SMOKE_URL: the release's smoke test goes to the ALB's own name, read from
            # the Ingress's status (`{ingress}`), asking for the Ingress's public host
            # (Host header, TLS name and certificate): no DNS needed, so the first
            # release, which creates the ALB, passes before anyone points DNS at it
            # (chairtimectl/smoke.py, deploy/buildspecs/deploy.yml).
            environment_variables={
                "OVERLAY": env.overlay,
                "CLUSTER_NAME": env.cluster_name,
                "SMOKE_URL": "https://{ingress}",
                **({"PROMOTE_TAG_PREFIX": promote_prefix} if promote_prefix else {}),
            },
            # One release at a time per environment.
            concurrent_build_limit=1,
            vpc=vpc,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            security_groups=[deployers],
        )
        # `aws eks update-kubeconfig` needs DescribeCluster; the token itself needs no
        # IAM permission. What the role may do inside is the access entry's business.
        deploy.add_to_role_policy(
            iam.PolicyStatement(
                sid="DescribeOwnCluster",
                actions=["eks:DescribeCluster"],
                resources=[
                    self.format_arn(service="eks", resource="cluster", resource_name=env.cluster_name)
                ],
            )
        )
        if promote_prefix:
            # scripts/image-promote: read the release's manifest by digest and put it
            # back under one more tag (the image itself is not copied).
            deploy.add_to_role_policy(
                iam.PolicyStatement(
                    sid="PromoteReleasedImage",
                    actions=["ecr:BatchGetImage", "ecr:PutImage"],
                    resources=[repository.repository_arn],
                )
            )
        role = deploy.role
        if role is None:  # PipelineProject always makes one; this satisfies the type checker
            raise TypeError("the deploy project has no role")
        eks.CfnAccessEntry(
            self,
            f"Deploy{env.name.title()}AccessEntry",
            cluster_name=env.cluster_name,
            principal_arn=role.role_arn,
            type="STANDARD",
            kubernetes_groups=[DEPLOYERS_GROUP],
            access_policies=[
                eks.CfnAccessEntry.AccessPolicyProperty(
                    policy_arn=f"arn:{self.partition}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
                    access_scope=eks.CfnAccessEntry.AccessScopeProperty(
                        type="namespace", namespaces=[env.namespace]
                    ),
                )
            ],
        )
        return deploy
