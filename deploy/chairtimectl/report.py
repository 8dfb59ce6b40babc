"""What the cluster says, turned into what an operator needs to read.

Pure functions of the objects kubectl returns (Deployment, ReplicaSets, Pods,
Events, Ingresses, Jobs as dicts): no kubectl here, so they are tested on
recorded objects (tests/test_report.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
TEMPLATE_HASH = "pod-template-hash"

# Waiting reasons that will not fix themselves: a rollout showing them is failing.
STUCK_REASONS = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
}

# Known failures -> the runbook section that remedies them (docs/runbook.md).
HINTS = [
    (("ErrImagePull", "ImagePullBackOff", "InvalidImageName"), "Image pull errors"),
    (("CrashLoopBackOff",), "Crash loops"),
    (("Readiness probe failed",), "Failing readiness"),
    (
        (
            "password authentication failed",
            "PAM authentication failed",
            "Access denied for user",
            "no pg_hba.conf entry",
        ),
        "Database authentication errors",
    ),
    (("AccessDeniedException", "is not authorized to perform: dynamodb"), "DynamoDB access denied"),
    (("FailedMount", "secrets-store"), "Secrets not mounted"),
    (("FailedScheduling",), "Pods not scheduled"),
]


def revision(obj: dict) -> int:
    try:
        return int(obj["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def image_of(template_owner: dict, container: str = "web") -> str:
    spec = template_owner["spec"]["template"]["spec"]
    for c in spec.get("containers", []):
        if c["name"] == container:
            return c["image"]
    return "?"


def owned_by(obj: dict, owner: dict) -> bool:
    uid = owner["metadata"].get("uid")
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences", []))


def replicasets_of(deployment: dict, replicasets: Iterable[dict]) -> list[dict]:
    """The Deployment's ReplicaSets, newest revision first."""
    return sorted((rs for rs in replicasets if owned_by(rs, deployment)), key=revision, reverse=True)


def current_replicaset(deployment: dict, replicasets: Iterable[dict]) -> dict | None:
    wanted = revision(deployment)
    for rs in replicasets_of(deployment, replicasets):
        if revision(rs) == wanted:
            return rs
    return None


def pods_of(replicaset: dict, pods: Iterable[dict]) -> list[dict]:
    return sorted((p for p in pods if owned_by(p, replicaset)), key=lambda p: p["metadata"]["name"])


def condition(obj: dict, kind: str) -> dict | None:
    for c in obj.get("status", {}).get("conditions", []) or []:
        if c.get("type") == kind:
            return c
    return None


def is_ready(pod: dict) -> bool:
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


@dataclass
class RolloutState:
    done: bool
    message: str
    failed: str | None = None  # why it can no longer succeed, when it cannot


def rollout_state(deployment: dict) -> RolloutState:
    """What `kubectl rollout status` decides, from the Deployment alone."""
    spec, status = deployment["spec"], deployment.get("status", {})
    wanted = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < deployment["metadata"].get("generation", 0):
        return RolloutState(False, "waiting for the controller to see the new spec")
    progressing = condition(deployment, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return RolloutState(False, "progress deadline exceeded", failed=progressing.get("message", ""))
    updated = status.get("updatedReplicas", 0)
    available = status.get("availableReplicas", 0)
    total = status.get("replicas", 0)
    ready = status.get("readyReplicas", 0)
    figures = f"{updated}/{wanted} updated, {ready} ready, {available} available, {total} running in all"
    if updated < wanted:
        return RolloutState(False, figures)
    if total > updated:
        return RolloutState(False, f"{figures}: old pods terminating")
    if available < updated:
        return RolloutState(False, figures)
    return RolloutState(True, figures)


def events_for(events: Iterable[dict], kind: str, name: str) -> list[dict]:
    found = [
        e
        for e in events
        if e.get("involvedObject", {}).get("kind") == kind and e.get("involvedObject", {}).get("name") == name
    ]
    return sorted(found, key=_event_time)


def _event_time(event: dict) -> str:
    return (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event["metadata"].get("creationTimestamp")
        or ""
    )


@dataclass
class PodReport:
    name: str
    phase: str
    ready: bool
    restarts: int
    problems: list[str] = field(default_factory=list)
    stuck: str | None = None  # a STUCK_REASONS reason the pod shows now

    @property
    def terminating(self) -> bool:
        return self.phase == "Terminating"

    @property
    def failing(self) -> bool:
        """Not ready. A pod on its way out, or one that finished its work (a Job's),
        is not failing; nor is a Ready pod whose events tell of its start (a startup
        probe refused before gunicorn listened): its problems are still listed."""
        if self.terminating or self.phase == "Succeeded":  # leaving, or a finished Job's pod
            return False
        return not self.ready


def pod_report(pod: dict, events: Iterable[dict]) -> PodReport:
    status = pod.get("status", {})
    statuses = status.get("containerStatuses", []) or []
    report = PodReport(
        name=pod["metadata"]["name"],
        phase=status.get("phase", "Unknown"),
        ready=is_ready(pod),
        restarts=sum(c.get("restartCount", 0) for c in statuses),
    )
    if pod["metadata"].get("deletionTimestamp"):
        report.phase = "Terminating"
    scheduled = condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        report.problems.append(f"not scheduled: {scheduled.get('message', scheduled.get('reason', ''))}")
    for c in statuses:
        waiting = c.get("state", {}).get("waiting")
        if waiting:
            reason = waiting.get("reason", "Waiting")
            report.problems.append(
                f"container {c['name']}: {reason}: {waiting.get('message', '')}".rstrip(": ")
            )
            if reason in STUCK_REASONS:
                report.stuck = reason
        last = c.get("lastState", {}).get("terminated")
        if last:
            report.problems.append(
                f"container {c['name']} last exited with code {last.get('exitCode')} "
                f"({last.get('reason', '')})"
            )
    for event in events_for(events, "Pod", report.name):
        if event.get("type") == "Warning":
            count = event.get("count") or 1
            times = f" ({count} times)" if count > 1 else ""
            line = f"{event.get('reason')}: {event.get('message', '').strip()}{times}"
            if line not in report.problems:
                report.problems.append(line)
    return report


def hints(text: str) -> list[str]:
    """Runbook sections for the failures ``text`` mentions, in HINTS order."""
    return [section for needles, section in HINTS if any(n in text for n in needles)]


def format_pods(reports: Iterable[PodReport], indent: str = "  ") -> list[str]:
    lines = []
    for r in reports:
        state = "ready" if r.ready else "done" if r.phase == "Succeeded" else "NOT READY"
        lines.append(f"{indent}{r.name}: {r.phase}, {state}, {r.restarts} restarts")
        lines += [f"{indent}  - {p}" for p in r.problems]
    return lines


def history_lines(deployment: dict, replicasets: Iterable[dict], container: str = "web") -> list[str]:
    current = revision(deployment)
    lines = [f"{'REVISION':>8}  {'PODS':>5}  {'CREATED':20}  IMAGE / CHANGE"]
    for rs in replicasets_of(deployment, replicasets):
        meta = rs["metadata"]
        mark = "*" if revision(rs) == current else " "
        pods = f"{rs.get('status', {}).get('readyReplicas', 0)}/{rs['spec'].get('replicas', 0)}"
        # Kubernetes copies the Deployment's change-cause to each new ReplicaSet, also
        # when the change came from elsewhere (`kubectl set image`): shown only when
        # it names this revision's image.
        cause = meta.get("annotations", {}).get(CHANGE_CAUSE, "")
        if image_of(rs, container).split("@")[0] not in cause:
            cause = ""
        created = meta.get("creationTimestamp", "")
        lines.append(
            f"{mark}{revision(rs):>7}  {pods:>5}  {created:20}  {image_of(rs, container)}"
            + (f"  ({cause})" if cause else "")
        )
    lines.append("* = the revision the Deployment runs now")
    return lines


def ingress_lines(ingresses: Iterable[dict], events: Iterable[dict]) -> list[str]:
    lines = []
    events = list(events)
    for ing in ingresses:
        name = ing["metadata"]["name"]
        hosts = [r.get("host", "*") for r in ing["spec"].get("rules", [])]
        lb = ing.get("status", {}).get("loadBalancer", {}).get("ingress", []) or []
        address = ", ".join(x.get("hostname") or x.get("ip", "") for x in lb) or "no address yet"
        lines.append(f"  {name}: hosts {', '.join(hosts)} -> {address}")
        for event in events_for(events, "Ingress", name)[-5:]:
            lines.append(f"    {event.get('type')} {event.get('reason')}: {event.get('message', '').strip()}")
    return lines or ["  (no Ingress)"]


def job_lines(jobs: Iterable[dict]) -> list[str]:
    lines = []
    for job in sorted(jobs, key=lambda j: j["metadata"].get("creationTimestamp", ""))[-5:]:
        status = job.get("status", {})
        if condition(job, "Complete") and condition(job, "Complete").get("status") == "True":
            state = "complete"
        elif condition(job, "Failed") and condition(job, "Failed").get("status") == "True":
            state = f"FAILED: {condition(job, 'Failed').get('message', '')}"
        else:
            state = f"running ({status.get('active', 0)} active, {status.get('failed', 0)} failed)"
        lines.append(f"  {job['metadata']['name']}: {state}")
    return lines or ["  (none)"]


def warning_lines(events: Iterable[dict], limit: int = 15) -> list[str]:
    warnings = [e for e in events if e.get("type") == "Warning"]
    lines = []
    for e in sorted(warnings, key=_event_time)[-limit:]:
        obj = e.get("involvedObject", {})
        count = e.get("count") or 1
        lines.append(
            f"  {_event_time(e)}  {obj.get('kind')}/{obj.get('name')}  {e.get('reason')}: "
            f"{e.get('message', '').strip()}" + (f" (x{count})" if count > 1 else "")
        )
    return lines or ["  (no warnings)"]
