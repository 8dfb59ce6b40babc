"""The ECR repository."""

import importlib.machinery
import importlib.util
import json

from chairtime_aws.pipeline import PROMOTING_ENVIRONMENTS
from chairtime_aws.registry import PROD_TAG_PREFIX

from .conftest import REPO
from .support import only


def load_script(name):
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(REPO / "scripts" / name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_tags_are_immutable_and_images_scanned_on_push(staging):
    props = only(staging.registry, "AWS::ECR::Repository")["Properties"]
    assert props["RepositoryName"] == "chairtime"
    assert props["ImageTagMutability"] == "IMMUTABLE"
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert props["EncryptionConfiguration"] == {"EncryptionType": "KMS"}


def lifecycle_rules(template):
    props = only(template, "AWS::ECR::Repository")["Properties"]
    return json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]


def test_images_that_ran_in_prod_are_kept_untagged_ones_expire_and_the_newest_fifty_stay(staging):
    assert [(r["rulePriority"], r["selection"], r["action"]) for r in lifecycle_rules(staging.registry)] == [
        (
            1,
            {
                "tagStatus": "tagged",
                "tagPrefixList": [PROD_TAG_PREFIX],
                "countType": "imageCountMoreThan",
                "countNumber": 9999,
            },
            {"type": "expire"},
        ),
        (
            2,
            {"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 3, "countUnit": "days"},
            {"type": "expire"},
        ),
        (3, {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50}, {"type": "expire"}),
    ]


def test_the_prod_rule_is_evaluated_before_every_rule_that_could_expire_a_prod_image(staging):
    """ECR applies rules from the lowest priority number; an image a rule selects cannot
    be expired by a later rule. So the prod tag's rule must come before the "any" rule,
    and keep more images than prod will ever release."""
    rules = sorted(lifecycle_rules(staging.registry), key=lambda r: r["rulePriority"])
    [prod] = [r for r in rules if r["selection"].get("tagPrefixList") == [PROD_TAG_PREFIX]]
    later = rules[rules.index(prod) + 1 :]
    assert any(r["selection"]["tagStatus"] == "any" for r in later)
    assert not any(r["selection"]["tagStatus"] == "any" for r in rules[: rules.index(prod)])
    # 60 releases a month (docs/aws.md's cost estimate) for ten years
    assert prod["selection"]["countNumber"] >= 60 * 12 * 10


def test_the_prod_deploy_promotes_with_the_prefix_the_lifecycle_keeps():
    assert PROMOTING_ENVIRONMENTS == {"prod": PROD_TAG_PREFIX}
    promoted = load_script("image-promote").promoted_tag(PROD_TAG_PREFIX, "3f2a9c1b7d0e")
    assert promoted.startswith(PROD_TAG_PREFIX)


def test_the_repository_outlives_its_stack(staging):
    resource = only(staging.registry, "AWS::ECR::Repository")
    assert resource["DeletionPolicy"] == "Retain"
    assert staging.stacks.registry.termination_protection is True


def test_the_registry_is_the_same_whichever_environment_is_synthesized(staging, prod):
    assert staging.registry.to_json() == prod.registry.to_json()
