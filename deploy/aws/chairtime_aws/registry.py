"""The image repository, shared by the environments: one image is built and promoted."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from .config import PROJECT

# Releases a rollback can go back to (`bin/chairtimectl rollback --to-revision N`).
KEEP_IMAGES = 50
UNTAGGED_DAYS = 3
# Images that reached production: the prod deploy adds the tag `prod-<commit tag>` to
# the image before it deploys it (scripts/image-promote, deploy/buildspecs/deploy.yml).
# A lifecycle rule can only expire, so "keep" is a count the repository never reaches:
# at the 60 releases a month docs/aws.md budgets, 9999 prod releases last 13 years.
PROD_TAG_PREFIX = "prod-"
KEEP_PROD_IMAGES = 9999


class RegistryStack(cdk.Stack):
    """ECR repository ``chairtime``: immutable tags, scanned on push, KMS-encrypted.

    Tags are commit ids (deploy/k8s: ``<repo>:<commit>@sha256:<digest>``); immutable
    tags mean a tag always names the image that was tested. Every commit pushes one,
    but only approved ones reach prod, so "the newest 50" alone could expire the image
    prod runs: an image tagged ``prod-...`` (every image prod ran) matches the first
    rule, which never expires it in practice, and ECR never lets a lower-priority rule
    expire an image a higher-priority rule selects. Untagged images (layers of failed
    pushes) go after a few days; of the rest, the newest ``KEEP_IMAGES`` stay.
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.repository = ecr.Repository(
            self,
            "Repository",
            repository_name=PROJECT,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            image_scan_on_push=True,
            # The AWS managed key (aws/ecr): pulling nodes need no KMS permission.
            encryption=ecr.RepositoryEncryption.KMS,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    rule_priority=1,
                    description=f"images that ran in prod ({PROD_TAG_PREFIX}*): kept",
                    tag_status=ecr.TagStatus.TAGGED,
                    tag_prefix_list=[PROD_TAG_PREFIX],
                    max_image_count=KEEP_PROD_IMAGES,
                ),
                ecr.LifecycleRule(
                    rule_priority=2,
                    description=f"untagged images after {UNTAGGED_DAYS} days",
                    tag_status=ecr.TagStatus.UNTAGGED,
                    max_image_age=cdk.Duration.days(UNTAGGED_DAYS),
                ),
                ecr.LifecycleRule(
                    rule_priority=3,
                    description=f"keep the newest {KEEP_IMAGES} images",
                    tag_status=ecr.TagStatus.ANY,
                    max_image_count=KEEP_IMAGES,
                ),
            ],
            # Prod runs images from here: never deleted with the stack.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cdk.CfnOutput(
            self,
            "RepositoryUri",
            value=self.repository.repository_uri,
            description="images.newName in both overlays",
        )
