"""How long a healthy rollout may take: the deadline `deploy` and `rollback` wait for.

A fixed deadline (300 s) was too short once the AWS Load Balancer Controller's
readiness gates are on (the namespace label ``elbv2.k8s.aws/pod-readiness-gate-inject``):
a new pod only counts as ready once the ALB has registered it and seen it pass its
health check ``healthy-threshold-count`` times in a row. With ``maxUnavailable: 0``
the Deployment replaces the pods in waves of ``maxSurge`` pods, each wave waiting for
the previous one, so the time grows with the replica count: four or more prod pods
overran 300 s and a healthy release was rolled back.

The deadline is derived here from what the manifests say (replicas, the rolling
update's surge, probes, minReadySeconds, the Ingress's health-check annotations) plus
two allowances for what no manifest states (scheduling and image pull; the
controller's registration of a target). Pure functions of the objects, tested on
the arithmetic (tests/test_deadline.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

READINESS_GATE_LABEL = "elbv2.k8s.aws/pod-readiness-gate-inject"
ALB_ANNOTATION = "alb.ingress.kubernetes.io/"
# The AWS Load Balancer Controller's defaults when an annotation is absent
# (kubernetes-sigs.github.io/aws-load-balancer-controller, Ingress annotations).
ALB_DEFAULTS = {"healthcheck-interval-seconds": 15, "healthy-threshold-count": 2}
# Allowances for what no manifest bounds. Scheduling, pulling the image (ECR through
# the VPC endpoint) and starting the container. Then the controller noticing the new
# endpoint and calling RegisterTargets before the ALB's first health check.
POD_START_ALLOWANCE = 30
TARGET_REGISTRATION_ALLOWANCE = 30
# Room for the controller's own steps between waves (old pods scaled down, the next
# ReplicaSet scale-up) and for the wait loop's polling.
MARGIN = 30
# Never below the old fixed deadline: a small release was not too slow with it.
FLOOR = 300


@dataclass(frozen=True)
class Deadline:
    seconds: int
    replicas: int
    per_wave: int  # how many pods are replaced at once
    waves: int
    wave_seconds: int  # the longest one wave of healthy pods may take
    gated: bool  # the ALB's readiness gate applies

    def explain(self) -> str:
        gate = "with the ALB readiness gate" if self.gated else "no load balancer readiness gate"
        return (
            f"{self.seconds} s: {self.replicas} pods in {self.waves} wave(s) of {self.per_wave}, "
            f"up to {self.wave_seconds} s each ({gate}) + {MARGIN} s"
        )


def _scaled(value: int | str | None, replicas: int, *, round_up: bool, default: str) -> int:
    """maxSurge / maxUnavailable as a pod count: percentages of the replica count,
    surge rounded up and unavailability rounded down, as the Deployment controller does."""
    value = default if value is None else value
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        exact = int(text[:-1]) * replicas / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(text)


def _probe_seconds(probe: dict | None, *, attempts: str) -> int:
    """The longest a probe takes to first succeed while it is still allowed to:
    initialDelaySeconds + periodSeconds x (failureThreshold or successThreshold)."""
    if not probe:
        return 0
    defaults = {"failureThreshold": 3, "successThreshold": 1}
    return probe.get("initialDelaySeconds", 0) + probe.get("periodSeconds", 10) * probe.get(
        attempts, defaults[attempts]
    )


def alb_health_check_seconds(ingresses: Iterable[dict]) -> int:
    """interval x healthy threshold: how long a healthy, registered target takes to be
    called healthy (the slowest Ingress in front of the pods)."""
    slowest = 0
    for ingress in ingresses:
        annotations = ingress.get("metadata", {}).get("annotations", {}) or {}
        settings = {
            key: int(annotations.get(ALB_ANNOTATION + key, default)) for key, default in ALB_DEFAULTS.items()
        }
        slowest = max(slowest, settings["healthcheck-interval-seconds"] * settings["healthy-threshold-count"])
    return slowest


def readiness_gated(objects: Iterable[dict], namespace: str) -> bool:
    """The controller injects its readiness gate into the pods of a namespace so labelled."""
    for obj in objects:
        if obj.get("kind") == "Namespace" and obj["metadata"].get("name") == namespace:
            return obj["metadata"].get("labels", {}).get(READINESS_GATE_LABEL) == "enabled"
    return False


def rollout_deadline(
    deployment: dict, objects: Iterable[dict], *, replicas: int | None = None, load_balanced: bool = True
) -> Deadline:
    """The deadline of a rollout of ``deployment`` (the live or rendered object), the
    Ingresses and the Namespace being among ``objects`` (the rendered overlay).

    ``replicas``: the pods the rollout replaces; by default the Deployment's
    spec.replicas (after `kubectl apply` the live one holds the autoscaler's count),
    and at least the autoscaler's minReplicas (a first release starts at 1 pod, which
    the autoscaler raises while the rollout runs).
    ``load_balanced``: whether the ALB sends to these pods (the web pods); the message
    worker's pods have no Service, so no readiness gate is injected into them.
    """
    objects = list(objects)
    spec = deployment.get("spec", {})
    count = replicas if replicas is not None else spec.get("replicas", 1)
    name = deployment.get("metadata", {}).get("name")
    for hpa in objects:
        target = hpa.get("spec", {}).get("scaleTargetRef", {})
        if hpa.get("kind") == "HorizontalPodAutoscaler" and target.get("name") == name:
            count = max(count, hpa["spec"].get("minReplicas", 1))
    count = max(count, 1)
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge"), count, round_up=True, default="25%")
    unavailable = _scaled(rolling.get("maxUnavailable"), count, round_up=False, default="25%")
    # Both 0 is refused by the API server; 1 keeps the arithmetic defined regardless.
    per_wave = max(surge + unavailable, 1)
    waves = math.ceil(count / per_wave)

    pod_spec = spec.get("template", {}).get("spec", {})
    containers = pod_spec.get("containers", [])
    # The containers start together; the slowest one decides.
    container_seconds = max(
        (
            _probe_seconds(c.get("startupProbe"), attempts="failureThreshold")
            + _probe_seconds(c.get("readinessProbe"), attempts="successThreshold")
            for c in containers
        ),
        default=0,
    )
    namespace = deployment.get("metadata", {}).get("namespace", "")
    gated = load_balanced and readiness_gated(objects, namespace)
    load_balancer = 0
    if gated:
        ingresses = [o for o in objects if o.get("kind") == "Ingress"]
        load_balancer = TARGET_REGISTRATION_ALLOWANCE + alb_health_check_seconds(ingresses)
    wave_seconds = POD_START_ALLOWANCE + container_seconds + load_balancer + spec.get("minReadySeconds", 0)
    seconds = max(FLOOR, waves * wave_seconds + MARGIN)
    return Deadline(seconds, count, per_wave, waves, wave_seconds, gated)
