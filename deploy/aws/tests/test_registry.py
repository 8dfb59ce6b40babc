"""The ECR repository."""

import json

from .support import only


def test_tags_are_immutable_and_images_scanned_on_push(staging):
    props = only(staging.registry, "AWS::ECR::Repository")["Properties"]
    assert props["RepositoryName"] == "chairtime"
    assert props["ImageTagMutability"] == "IMMUTABLE"
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert props["EncryptionConfiguration"] == {"EncryptionType": "KMS"}


def test_untagged_images_expire_and_the_newest_fifty_stay(staging):
    props = only(staging.registry, "AWS::ECR::Repository")["Properties"]
    rules = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert [(r["rulePriority"], r["selection"], r["action"]) for r in rules] == [
        (
            1,
            {"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 3, "countUnit": "days"},
            {"type": "expire"},
        ),
        (2, {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50}, {"type": "expire"}),
    ]


def test_the_repository_outlives_its_stack(staging):
    resource = only(staging.registry, "AWS::ECR::Repository")
    assert resource["DeletionPolicy"] == "Retain"
    assert staging.stacks.registry.termination_protection is True


def test_the_registry_is_the_same_whichever_environment_is_synthesized(staging, prod):
    assert staging.registry.to_json() == prod.registry.to_json()
