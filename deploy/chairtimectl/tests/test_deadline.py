"""The rollout deadline: derived from replicas, surge, probes and the ALB's health checks."""

from __future__ import annotations

import pytest

from chairtimectl.deadline import (
    FLOOR,
    MARGIN,
    POD_START_ALLOWANCE,
    TARGET_REGISTRATION_ALLOWANCE,
    alb_health_check_seconds,
    rollout_deadline,
)
from chairtimectl.kube import Kube, KubeError
from chairtimectl.release import render

NAMESPACE = "chairtime-prod"


def deployment(*, replicas=4, surge="25%", unavailable=0, min_ready=5, startup=(2, 30), readiness=(5, 1)):
    return {
        "kind": "Deployment",
        "metadata": {"name": "chairtime-web", "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "startupProbe": {"periodSeconds": startup[0], "failureThreshold": startup[1]},
                            "readinessProbe": {
                                "periodSeconds": readiness[0],
                                "successThreshold": readiness[1],
                            },
                        }
                    ]
                }
            },
        },
    }


def namespace(gate="enabled"):
    labels = {"elbv2.k8s.aws/pod-readiness-gate-inject": gate} if gate else {}
    return {"kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": labels}}


def ingress(interval="10", healthy="2"):
    annotations = {}
    if interval is not None:
        annotations["alb.ingress.kubernetes.io/healthcheck-interval-seconds"] = interval
    if healthy is not None:
        annotations["alb.ingress.kubernetes.io/healthy-threshold-count"] = healthy
    return {"kind": "Ingress", "metadata": {"name": "chairtime", "annotations": annotations}}


def test_it_replaces_four_pods_one_at_a_time_and_waits_for_the_alb_on_each():
    deadline = rollout_deadline(deployment(replicas=4), [namespace(), ingress()])
    # 25 % of 4 = 1 surge pod, none unavailable: four waves of one pod.
    assert (deadline.per_wave, deadline.waves, deadline.gated) == (1, 4, True)
    # start + startup probe (2 s x 30) + readiness (5 s x 1) + registration + 2 checks x 10 s + minReady 5 s
    wave = POD_START_ALLOWANCE + 60 + 5 + TARGET_REGISTRATION_ALLOWANCE + 20 + 5
    assert deadline.wave_seconds == wave
    assert deadline.seconds == 4 * wave + MARGIN
    # The fixed 300 s would have rolled this healthy release back.
    assert deadline.seconds > 300


@pytest.mark.parametrize(
    ("replicas", "per_wave", "waves"),
    [(1, 1, 1), (3, 1, 3), (4, 1, 4), (5, 2, 3), (8, 2, 4), (9, 3, 3), (12, 3, 4)],
)
def test_it_rounds_the_surge_up_as_the_deployment_controller_does(replicas, per_wave, waves):
    deadline = rollout_deadline(deployment(replicas=replicas), [namespace(), ingress()])
    assert (deadline.per_wave, deadline.waves) == (per_wave, waves)


def test_it_counts_unavailable_pods_rounded_down_into_each_wave():
    # 10 pods, surge 1 and 25 % unavailable (2.5 -> 2): waves of 3 pods, 4 waves.
    deadline = rollout_deadline(deployment(replicas=10, surge=1, unavailable="25%"), [namespace(), ingress()])
    assert (deadline.per_wave, deadline.waves) == (3, 4)


def test_it_follows_the_health_check_settings_of_the_ingress():
    fast = rollout_deadline(deployment(), [namespace(), ingress(interval="5", healthy="2")])
    slow = rollout_deadline(deployment(), [namespace(), ingress(interval="30", healthy="5")])
    # 4 waves, each 150 - 10 s longer per wave (30 x 5 instead of 5 x 2 seconds)
    assert slow.seconds - fast.seconds == 4 * (150 - 10)


def test_it_uses_the_controllers_defaults_when_the_ingress_says_nothing():
    # healthcheck-interval-seconds 15, healthy-threshold-count 2
    assert alb_health_check_seconds([ingress(interval=None, healthy=None)]) == 30


def test_it_adds_nothing_for_the_load_balancer_without_the_readiness_gate():
    gated = rollout_deadline(deployment(replicas=12), [namespace(), ingress()])
    plain = rollout_deadline(deployment(replicas=12), [namespace(gate=None), ingress()])
    assert not plain.gated
    assert gated.seconds - plain.seconds == gated.waves * (TARGET_REGISTRATION_ALLOWANCE + 20)


def test_it_never_goes_below_the_old_fixed_deadline():
    deadline = rollout_deadline(deployment(replicas=1, min_ready=0), [namespace(gate=None)])
    assert deadline.seconds == FLOOR


def test_it_takes_the_replica_count_it_is_given_over_the_manifests():
    # The autoscaler owns spec.replicas in staging and prod: the live count is passed in.
    assert rollout_deadline(deployment(replicas=2), [namespace(), ingress()], replicas=8).waves == 4


def test_a_first_release_counts_at_least_the_autoscalers_minimum():
    hpa = {
        "kind": "HorizontalPodAutoscaler",
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "chairtime-web"}, "minReplicas": 4},
    }
    # The API server's default of 1 replica, before the autoscaler scales up.
    assert rollout_deadline(deployment(replicas=1), [namespace(), ingress(), hpa]).replicas == 4
    assert rollout_deadline(deployment(replicas=6), [namespace(), ingress(), hpa]).replicas == 6


def test_the_prod_overlay_with_four_or_more_pods_gets_more_than_300_seconds():
    try:
        kube = Kube()
    except KubeError as error:  # scripts/k8s-tools installs it
        pytest.skip(str(error))
    objects = render(kube, "prod", None)
    web = next(o for o in objects if o["kind"] == "Deployment")
    for replicas in (3, 4, 8, 12):
        deadline = rollout_deadline(web, objects, replicas=replicas)
        assert deadline.gated
        assert deadline.seconds > 300, deadline.explain()
