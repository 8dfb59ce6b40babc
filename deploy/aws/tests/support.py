"""Small readers for synthesized templates."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of a type."""
    return {k: v for k, v in template.to_json()["Resources"].items() if v["Type"] == resource_type}


def only(template: Template, resource_type: str) -> dict[str, Any]:
    """The one resource of a type (fails if there are none or several)."""
    found = resources(template, resource_type)
    assert len(found) == 1, f"{len(found)} resources of type {resource_type}: {sorted(found)}"
    return next(iter(found.values()))


def logical_id(template: Template, resource_type: str, prefix: str) -> str:
    """The logical id of the one resource of a type whose id starts with prefix."""
    found = [k for k in resources(template, resource_type) if k.startswith(prefix)]
    assert len(found) == 1, f"{resource_type} {prefix}*: {found}"
    return found[0]


def statements_of_role(template: Template, role_id: str) -> list[dict[str, Any]]:
    """Every statement of every inline policy attached to a role of this template."""
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def flatten(value: Any) -> str:
    """A token-ish value (Fn::Join, Ref, ImportValue, ...) as one string, to look for names in.

    ``{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":eks"]]}`` -> ``arn:{Ref:AWS::Partition}:eks``
    """
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(flatten(v) for v in value)
    if isinstance(value, dict):
        if set(value) == {"Fn::Join"}:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(flatten(p) for p in parts)
        return "".join(f"{{{k}:{flatten(v)}}}" for k, v in value.items())
    return str(value)
