"""Taking an environment's load balancer down, in the only order that works.

Prod's Ingress asks the AWS Load Balancer Controller for an ALB with
``deletion_protection.enabled=true`` (deploy/k8s/overlays/prod). Deleting that
Ingress as it is hangs: the controller cannot delete a protected ALB, so it keeps
the Ingress's finalizer and retries forever, and the VPC (cdk destroy) cannot go
either. The order: annotate the Ingress with the protection off, wait until the
controller has reconciled that (the ALB's attribute is then off), delete the
Ingress, wait until the controller has deleted the ALB and released the finalizer.

Pure functions here (tests/test_teardown.py); `chairtimectl delete-ingress` runs them.
"""

from __future__ import annotations

from collections.abc import Iterable

from chairtimectl.report import events_for

ATTRIBUTES = "alb.ingress.kubernetes.io/load-balancer-attributes"
PROTECTION = "deletion_protection.enabled"
# The controller's event after a successful reconcile of an Ingress (its group).
RECONCILED = "SuccessfullyReconciled"


def protection_off(attributes: str) -> str:
    """The load-balancer-attributes annotation with deletion protection off (added
    when absent: the ALB keeps whatever an earlier annotation set otherwise)."""
    pairs = [p.strip() for p in attributes.split(",") if p.strip()]
    kept = [p for p in pairs if p.split("=", 1)[0].strip() != PROTECTION]
    return ",".join([*kept, f"{PROTECTION}=false"])


def is_protected(attributes: str) -> bool:
    for pair in attributes.split(","):
        key, _, value = pair.partition("=")
        if key.strip() == PROTECTION:
            return value.strip().lower() == "true"
    return False


def reconcile_mark(events: Iterable[dict], ingress: str) -> tuple[str, int]:
    """The controller's latest successful reconcile of ``ingress``: (its time, its count),
    both the API server's (the events of one reason are aggregated: count goes up)."""
    marks = [
        (event.get("lastTimestamp") or event.get("eventTime") or "", event.get("count") or 1)
        for event in events_for(events, "Ingress", ingress)
        if event.get("reason") == RECONCILED
    ]
    return max(marks, default=("", 0))


def reconciled_after(events: Iterable[dict], ingress: str, mark: tuple[str, int]) -> bool:
    """A successful reconcile later than ``mark`` (taken before the change)."""
    return reconcile_mark(events, ingress) > mark
