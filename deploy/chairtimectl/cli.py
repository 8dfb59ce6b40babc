"""chairtimectl: deploy, roll back and troubleshoot Chairtime on Kubernetes.

    bin/chairtimectl [--overlay staging] deploy --image REPO:TAG[@sha256:DIGEST] [--smoke-url URL]
        (--smoke-url 'https://{ingress}': through the ALB's own name, for the Ingress's host)
    bin/chairtimectl rollback [--to-revision N]
    bin/chairtimectl history | status | diagnose
    bin/chairtimectl --overlay prod configured         # exit 2 while values are # PLACEHOLDER
    bin/chairtimectl --overlay prod delete-ingress     # before tearing an environment down

The same command runs in the pipeline's deploy stage (deploy/buildspecs/deploy.yml)
and on an operator's machine; it only drives kubectl with the current kubeconfig
(`aws eks update-kubeconfig` on EKS), so each step can be repeated by hand.
docs/runbook.md says when to use which, and how to remedy what `diagnose` shows.

A release is two Deployments of one image: chairtime-web and the message worker
chairtime-worker. deploy rolls out both and waits for both; when either fails, both are
rolled back; rollback takes both back to the same image; status, history and diagnose
show both.

Exit status: 0 done; 1 the release failed (and was rolled back when it could be);
2 bad usage or a cluster that cannot be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

from chairtimectl import report, teardown
from chairtimectl.deadline import rollout_deadline
from chairtimectl.kube import Kube, KubeError
from chairtimectl.release import (
    DEPLOYMENT,
    WEB,
    ImageRef,
    ReleaseError,
    Workload,
    namespace_of,
    placeholders,
    render,
    split,
    workloads_of,
)
from chairtimectl.smoke import INGRESS_PLACEHOLDER, SmokeFailed, smoke, target

SELECTOR = WEB.selector
MIGRATIONS = "app.kubernetes.io/name=chairtime,app.kubernetes.io/component=migrations"
POLL_SECONDS = 2.0


class Failed(Exception):
    """The release failed; the message is the reason, for the operator."""


class Console:
    """Progress lines with the seconds since the command started."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.last = ""

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    def progress(self, message: str) -> None:
        """Print ``message`` only when it differs from the previous progress line."""
        if message != self.last:
            self.last = message
            self.say(message)

    def block(self, lines: list[str]) -> None:
        for line in lines:
            print(line, flush=True)


# --- deploy -------------------------------------------------------------------------------


def deploy(args: argparse.Namespace, console: Console) -> int:
    image = ImageRef.parse(args.image)
    if not check_configured(args, console):
        return 2
    kube = Kube(context=args.context)
    console.say(f"rendering {args.overlay} with {image}")
    objects = render(kube, args.overlay, image)
    kube.namespace = args.namespace or namespace_of(objects)
    prerequisites, jobs, rest = split(objects)
    workloads = workloads_of(objects)
    names = {w.name for w in workloads}
    for obj in rest:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] in names:
            annotations = obj["metadata"].setdefault("annotations", {})
            annotations[report.CHANGE_CAUSE] = f"chairtimectl deploy {image.repository}:{image.tag}"

    before = {w: kube.get("deployment", w.name) for w in workloads}
    previous = {w: report.revision(before[w]) if before[w] else 0 for w in workloads}
    console.say(
        f"namespace {kube.namespace}: "
        + (
            f"revision {previous[WEB]} runs {report.image_of(before[WEB])}"
            if before.get(WEB)
            else "first release"
        )
    )

    console.say(f"applying settings and identity ({len(prerequisites)} objects)")
    _print_applied(console, kube.apply(prerequisites))
    for job in jobs:
        run_migrations(kube, job, console, args.migrate_timeout)

    console.say(f"applying the release ({len(rest)} objects)")
    _print_applied(console, kube.apply(rest))
    after = {w: kube.get("deployment", w.name) for w in workloads}
    timeouts = {w: _timeout(args, after[w], objects, console, w) for w in workloads}
    try:
        # Both roll at once (applied together); the web pods are waited for first.
        for workload in workloads:
            wait_for_rollout(kube, console, timeouts[workload], args.stuck_after, workload)
        if args.smoke_url:
            run_smoke(kube, args, objects, console)
    except Failed as failure:
        console.say(f"RELEASE FAILED: {failure}")
        roll_back_release(kube, console, workloads, before, previous, timeouts, args.stuck_after)
        console.say(f"deploy of {image} failed: {failure}")
        return 1
    console.say(
        f"released {image} as revision {report.revision(after[WEB])}"
        + "".join(f"; {w.name} revision {report.revision(after[w])}" for w in workloads if w != WEB)
    )
    return 0


def roll_back_release(
    kube: Kube,
    console: Console,
    workloads: list[Workload],
    before: dict[Workload, dict | None],
    previous: dict[Workload, int],
    timeouts: dict[Workload, float],
    stuck_after: float,
) -> None:
    """Every Deployment of the failed release back to the revision it ran before, so
    the web pods and the worker run one image again. A Deployment this release created
    (the worker's first release) has nothing to go back to and is left as it is."""
    undone = []
    for workload in workloads:
        current = report.revision(kube.get("deployment", workload.name) or {"metadata": {}})
        if previous[workload] and current != previous[workload]:
            image = report.image_of(before[workload], workload.container)
            console.say(f"rolling back {workload.name} to revision {previous[workload]} ({image})")
            to = f"--to-revision={previous[workload]}"
            kube.run(["rollout", "undo", f"deployment/{workload.name}", to])
            undone.append(workload)
        elif not previous[workload]:
            console.say(
                f"{workload.name}: nothing to roll back to (its first release); run `chairtimectl diagnose`"
            )
    for workload in undone:
        try:
            wait_for_rollout(kube, console, timeouts[workload], stuck_after, workload)
            console.say(f"rolled back: {workload.name} revision {previous[workload]}'s image runs again")
        except Failed as second:
            console.say(f"THE ROLLBACK OF {workload.name} FAILED TOO: {second}; run `chairtimectl diagnose`")


def check_configured(args: argparse.Namespace, console: Console) -> bool:
    """False, having said why, while the overlay still has values marked ``# PLACEHOLDER``.

    The pipeline's first execution starts as soon as its stack is deployed (docs/aws.md,
    step 6), before the overlays hold the stacks' outputs (step 7): its deploy stage must
    stop here, before the first request to the cluster, rather than apply an Ingress for
    example.com with a certificate that does not exist."""
    missing = placeholders(args.overlay)
    if not missing:
        return True
    console.say(
        f"REFUSED: the overlay {args.overlay} is not configured yet: {len(missing)} values are still "
        "marked # PLACEHOLDER. Set each from the stacks' outputs and remove its marker, in a commit "
        "(docs/aws.md, step 7). Nothing was sent to the cluster."
    )
    console.block([f"  {line}" for line in missing])
    return False


def configured(args: argparse.Namespace, console: Console) -> int:
    if not check_configured(args, console):
        return 2
    console.say(f"the overlay {args.overlay} has no # PLACEHOLDER left")
    return 0


def run_smoke(kube: Kube, args: argparse.Namespace, objects: list[dict], console: Console) -> None:
    """The smoke test (chairtimectl/smoke.py) through --smoke-url, whose `{ingress}` is
    the load balancer's address from the Ingress's status (the Host its rule's host).
    A first release (the Deployment's only revision is this one) may show an empty
    catalogue, and gets longer by default: its load balancer is new."""
    first = report.revision(kube.get("deployment", DEPLOYMENT)) == 1
    seconds = args.smoke_timeout if args.smoke_timeout is not None else 600 if first else 120
    ingresses = [o["metadata"]["name"] for o in objects if o["kind"] == "Ingress"]
    if INGRESS_PLACEHOLDER in args.smoke_url and not ingresses:
        raise Failed(f"--smoke-url {args.smoke_url} names the Ingress, but the overlay has none")

    def find():
        try:
            ingress = kube.get("ingress", ingresses[0]) if INGRESS_PLACEHOLDER in args.smoke_url else None
        except KubeError:
            return None  # the API server did not answer this time: ask again, until the deadline
        return target(args.smoke_url, ingress, args.smoke_host)

    console.say(
        f"smoke test through {args.smoke_url} for up to {seconds:.0f} s"
        + (" (first release: an empty catalogue passes)" if first else "")
    )
    try:
        smoke(find, args.smoke_host, seconds, console.say, first_release=first)
    except SmokeFailed as error:
        raise Failed(str(error)) from None


def _timeout(
    args: argparse.Namespace,
    deployment: dict,
    objects: list[dict],
    console: Console,
    workload: Workload = WEB,
) -> float:
    """--timeout when given, else the deadline derived from the Deployment (replicas,
    surge, probes) and the load balancer's health checks (chairtimectl/deadline.py)."""
    if args.timeout is not None:
        return args.timeout
    deadline = rollout_deadline(deployment, objects, load_balanced=workload.load_balanced)
    console.say(f"{workload.name} rollout deadline {deadline.explain()}")
    return float(deadline.seconds)


def _print_applied(console: Console, output: str) -> None:
    console.block([f"    {line}" for line in output.splitlines()])


def run_migrations(kube: Kube, job: dict, console: Console, timeout: float) -> None:
    """Create the release's migrations Job (once: a finished Job is kept, and
    names its release) and wait for it."""
    name = job["metadata"]["name"]
    existing = kube.get("job", name)
    if existing and _job_state(existing) == "complete":
        console.say(f"migrations {name}: already complete for this release")
        return
    if existing and _job_state(existing) == "failed":
        raise Failed(
            f"migrations Job {name} failed earlier for this release; read it with "
            f"`kubectl -n {kube.namespace} logs job/{name}`, fix the cause, then "
            f"`kubectl -n {kube.namespace} delete job {name}` and deploy again"
        )
    if not existing:
        console.say(f"migrations: creating Job {name}")
        kube.apply([job])
    deadline = time.monotonic() + timeout
    while True:
        current = kube.get("job", name)
        state = _job_state(current)
        status = current.get("status", {})
        console.progress(
            f"migrations {name}: {state} "
            f"({status.get('active', 0)} running, {status.get('failed', 0)} failed attempts)"
        )
        if state == "complete":
            return
        if state == "failed" or time.monotonic() > deadline:
            pods = kube.items("pods", selector=f"job-name={name}")
            lines = []
            for pod in pods:
                lines.append(f"  {pod['metadata']['name']}: {pod.get('status', {}).get('phase')}")
                lines += [
                    f"    {x}" for x in kube.logs(pod["metadata"]["name"], "migrate").splitlines()[-15:]
                ]
            console.block(lines)
            why = "failed" if state == "failed" else f"did not finish within {timeout:.0f} s"
            raise Failed(f"migrations Job {name} {why}; the previous release was left running untouched")
        time.sleep(POLL_SECONDS)


def _job_state(job: dict) -> str:
    for kind, state in (("Complete", "complete"), ("Failed", "failed")):
        c = report.condition(job, kind)
        if c and c.get("status") == "True":
            return state
    return "running"


def wait_for_rollout(
    kube: Kube, console: Console, timeout: float, stuck_after: float, workload: Workload = WEB
) -> None:
    """Until the Deployment's current revision is fully available; Failed, with the
    pods' reasons, at the deadline, when the progress deadline passes, or when a new
    pod shows a reason that does not fix itself (image pull, crash loop) for
    ``stuck_after`` seconds."""
    deadline = time.monotonic() + timeout
    stuck_since: dict[str, float] = {}
    prefix = "" if workload == WEB else f"{workload.name} "
    while True:
        deployment = kube.get("deployment", workload.name)
        state = report.rollout_state(deployment)
        console.progress(f"{prefix}rollout revision {report.revision(deployment)}: {state.message}")
        if state.done:
            return
        new_pods = _new_pod_reports(kube, deployment, workload)
        now = time.monotonic()
        for pod in new_pods:
            if pod.stuck:
                stuck_since.setdefault(pod.name, now)
            else:
                stuck_since.pop(pod.name, None)
        stuck = [p for p in new_pods if p.stuck and now - stuck_since[p.name] >= stuck_after]
        timed_out = now > deadline
        if state.failed or stuck or timed_out:
            heading = f"  pods of {workload.name}'s new revision:"
            console.block([heading, *report.format_pods(new_pods, "    ")])
            failing = [p for p in new_pods if p.failing] or new_pods
            reasons = "; ".join(f"{p.name}: {_first_reason(p)}" for p in failing) or "no pods were created"
            why = (
                state.failed
                if state.failed
                else f"pods stuck in {', '.join(sorted({p.stuck for p in stuck}))}"
                if stuck
                else f"not available within {timeout:.0f} s"
            )
            raise Failed(f"{prefix}{why}. {reasons}")
        time.sleep(POLL_SECONDS)


def _new_pod_reports(kube: Kube, deployment: dict, workload: Workload = WEB) -> list[report.PodReport]:
    replicasets = kube.items("replicasets", selector=workload.selector)
    current = report.current_replicaset(deployment, replicasets)
    if current is None:
        return []
    events = kube.items("events")
    return [
        report.pod_report(p, events)
        for p in report.pods_of(current, kube.items("pods", selector=workload.selector))
    ]


def _first_reason(pod: report.PodReport) -> str:
    probe = [p for p in pod.problems if "probe failed" in p]
    return (probe or pod.problems or ["not ready, no reason reported yet"])[0]


# --- rollback, history, status, diagnose ------------------------------------------------------


def _kube_for(args: argparse.Namespace) -> Kube:
    return _kube_and_objects(args)[0]


def _kube_and_objects(args: argparse.Namespace) -> tuple[Kube, list[dict]]:
    kube = Kube(context=args.context)
    objects = render(kube, args.overlay, None)
    kube.namespace = args.namespace or namespace_of(objects)
    return kube, objects


def _deployment(kube: Kube) -> dict:
    deployment = kube.get("deployment", DEPLOYMENT)
    if deployment is None:
        raise Failed(
            f"no Deployment {DEPLOYMENT} in namespace {kube.namespace}: nothing was deployed there yet"
        )
    return deployment


def rollback(args: argparse.Namespace, console: Console) -> int:
    """Back to the previous revision, or to --to-revision N (see `history`). The
    schema stays as it is: migrations are backward compatible (docs/runbook.md)."""
    kube, objects = _kube_and_objects(args)
    deployment = _deployment(kube)
    replicasets = report.replicasets_of(deployment, kube.items("replicasets", selector=SELECTOR))
    current = report.revision(deployment)
    if args.to_revision is not None:
        target = next((rs for rs in replicasets if report.revision(rs) == args.to_revision), None)
        if target is None:
            known = ", ".join(str(report.revision(rs)) for rs in replicasets)
            raise Failed(f"there is no revision {args.to_revision} (known: {known})")
        if args.to_revision == current:
            console.say(f"revision {current} is already the current one; nothing to do")
            return 0
    else:
        older = [rs for rs in replicasets if report.revision(rs) < current]
        if not older:
            raise Failed("there is no earlier revision to roll back to")
        target = older[0]
    console.say(
        f"rolling back from revision {current} ({report.image_of(deployment)}) "
        f"to revision {report.revision(target)} ({report.image_of(target)})"
    )
    kube.run(["rollout", "undo", f"deployment/{DEPLOYMENT}", f"--to-revision={report.revision(target)}"])
    others = [w for w in workloads_of(objects) if w != WEB]
    moved = [w for w in others if _follow(kube, console, w, report.image_of(target))]
    wait_for_rollout(kube, console, _timeout(args, deployment, objects, console), args.stuck_after)
    for workload in moved:
        live = kube.get("deployment", workload.name)
        wait_for_rollout(
            kube, console, _timeout(args, live, objects, console, workload), args.stuck_after, workload
        )
    console.say(f"now at revision {report.revision(_deployment(kube))}: {report.image_of(target)}")
    return 0


def _follow(kube: Kube, console: Console, workload: Workload, image: str) -> bool:
    """Roll ``workload`` back to its newest revision that ran ``image`` (the web pods'
    target), so both run one image again; True when it was rolled. Revision numbers
    differ between the Deployments, images do not."""
    deployment = kube.get("deployment", workload.name)
    if deployment is None:
        return False
    if report.image_of(deployment, workload.container) == image:
        console.say(f"{workload.name}: already runs {image}")
        return False
    replicasets = report.replicasets_of(deployment, kube.items("replicasets", selector=workload.selector))
    match = next((rs for rs in replicasets if report.image_of(rs, workload.container) == image), None)
    if match is None:
        console.say(
            f"{workload.name}: no revision of it ran {image} (it did not exist then); "
            f"left at revision {report.revision(deployment)}"
        )
        return False
    console.say(f"rolling back {workload.name} to revision {report.revision(match)} ({image})")
    kube.run(["rollout", "undo", f"deployment/{workload.name}", f"--to-revision={report.revision(match)}"])
    return True


def history(args: argparse.Namespace, console: Console) -> int:
    kube, objects = _kube_and_objects(args)
    deployment = _deployment(kube)
    console.block(report.history_lines(deployment, kube.items("replicasets", selector=SELECTOR)))
    for workload in workloads_of(objects):
        live = kube.get("deployment", workload.name) if workload != WEB else None
        if live is not None:
            replicasets = kube.items("replicasets", selector=workload.selector)
            console.block([f"{workload.name}:", *report.history_lines(live, replicasets, workload.container)])
    return 0


def status(args: argparse.Namespace, console: Console) -> int:
    kube, objects = _kube_and_objects(args)
    _deployment(kube)
    events = kube.items("events")
    lines = [f"namespace {kube.namespace}"]
    healthy = True
    for workload in workloads_of(objects):
        deployment = kube.get("deployment", workload.name)
        if deployment is None:
            lines.append(f"deployment {workload.name}: NOT DEPLOYED")
            healthy = False
            continue
        state = report.rollout_state(deployment)
        pods = [report.pod_report(p, events) for p in kube.items("pods", selector=workload.selector)]
        healthy = healthy and state.done and not any(p.failing for p in pods)
        lines += [
            f"deployment {workload.name}",
            f"  revision {report.revision(deployment)}: {report.image_of(deployment, workload.container)}",
            f"  {'rolled out' if state.done else 'ROLLING OUT'}: {state.message}",
            "  pods:",
            *report.format_pods(pods, "    "),
        ]
    lines += ["ingress:", *report.ingress_lines(kube.items("ingress"), events)]
    console.block(lines)
    return 0 if healthy else 1


def diagnose(args: argparse.Namespace, console: Console) -> int:
    """Everything an operator reads first when something is wrong, in one report."""
    kube, objects = _kube_and_objects(args)
    deployment = kube.get("deployment", DEPLOYMENT)
    events = kube.items("events")
    lines = [f"=== chairtime in namespace {kube.namespace}"]
    pods_all = kube.items("pods", selector="app.kubernetes.io/name=chairtime")
    reports = {p["metadata"]["name"]: report.pod_report(p, events) for p in pods_all}
    if deployment is None:
        lines.append(f"no Deployment {DEPLOYMENT}: nothing deployed here yet")
    else:
        state = report.rollout_state(deployment)
        lines += [
            f"deployment: revision {report.revision(deployment)} {report.image_of(deployment)}",
            f"  {'rolled out' if state.done else 'NOT ROLLED OUT'}: {state.message}",
        ]
        for kind in ("Available", "Progressing", "ReplicaFailure"):
            c = report.condition(deployment, kind)
            if c:
                lines.append(f"  {kind}={c.get('status')} {c.get('reason', '')}: {c.get('message', '')}")
        lines.append("revisions:")
        replicasets = kube.items("replicasets", selector=SELECTOR)
        lines += ["  " + x for x in report.history_lines(deployment, replicasets)[:-1]]
    for workload in [w for w in workloads_of(objects) if w != WEB]:
        live = kube.get("deployment", workload.name)
        if live is None:
            lines.append(f"no Deployment {workload.name}: the message worker is not deployed")
            continue
        state = report.rollout_state(live)
        lines += [
            f"deployment {workload.name}: revision {report.revision(live)} "
            f"{report.image_of(live, workload.container)}",
            f"  {'rolled out' if state.done else 'NOT ROLLED OUT'}: {state.message}",
        ]
    failing = [r for r in reports.values() if r.failing]
    lines.append(f"pods ({len(reports)}, {len(failing)} failing):")
    lines += report.format_pods(reports.values(), "  ")
    for pod in failing:
        raw = next(p for p in pods_all if p["metadata"]["name"] == pod.name)
        for container in [c["name"] for c in raw["spec"].get("containers", [])]:
            lines.append(f"last log lines of {pod.name} ({container}):")
            lines += ["    " + x for x in kube.logs(pod.name, container, tail=args.log_lines).splitlines()]
            if pod.restarts:
                lines.append("  before its last restart:")
                previous = kube.logs(pod.name, container, tail=args.log_lines, previous=True)
                lines += ["    " + x for x in previous.splitlines()]
    lines += ["migrations jobs:", *report.job_lines(kube.items("jobs", selector=MIGRATIONS))]
    lines += ["ingress / load balancer:", *report.ingress_lines(kube.items("ingress"), events)]
    lines += ["recent warnings:", *report.warning_lines(events)]
    found = report.hints("\n".join(lines))
    if found:
        lines.append("runbook (docs/runbook.md): " + "; ".join(f'"{h}"' for h in found))
    console.block(lines)
    return 1 if failing or deployment is None else 0


def delete_ingress(args: argparse.Namespace, console: Console) -> int:
    """Delete the environment's Ingress and with it the ALB, deletion protection first
    (chairtimectl/teardown.py says why the order matters)."""
    kube, objects = _kube_and_objects(args)
    names = [o["metadata"]["name"] for o in objects if o["kind"] == "Ingress"]
    deadline = time.monotonic() + args.timeout
    for name in names:
        ingress = kube.get("ingress", name)
        if ingress is None:
            console.say(f"ingress {name}: not there (already deleted)")
            continue
        attributes = ingress["metadata"].get("annotations", {}).get(teardown.ATTRIBUTES, "")
        if teardown.is_protected(attributes):
            mark = teardown.reconcile_mark(kube.items("events"), name)
            console.say(f"ingress {name}: turning the load balancer's deletion protection off")
            kube.run(
                [
                    "annotate",
                    "--overwrite",
                    f"ingress/{name}",
                    f"{teardown.ATTRIBUTES}={teardown.protection_off(attributes)}",
                ]
            )
            while not teardown.reconciled_after(kube.items("events"), name, mark):
                if time.monotonic() > deadline:
                    console.block(report.ingress_lines([kube.get("ingress", name)], kube.items("events")))
                    raise Failed(
                        f"the load balancer controller did not reconcile ingress {name} within "
                        f"{args.timeout:.0f} s; deletion protection may still be on: not deleting"
                    )
                console.progress(f"ingress {name}: waiting for the controller to turn the protection off")
                time.sleep(POLL_SECONDS)
            console.say(f"ingress {name}: the controller reconciled it (protection off)")
        console.say(f"ingress {name}: deleting; the controller deletes the load balancer")
        kube.run(["delete", "ingress", name, "--wait=false"])
        while kube.get("ingress", name) is not None:
            if time.monotonic() > deadline:
                console.block(report.ingress_lines([kube.get("ingress", name)], kube.items("events")))
                raise Failed(
                    f"ingress {name} still exists after {args.timeout:.0f} s (its finalizer waits on the ALB)"
                )
            console.progress(f"ingress {name}: waiting for the load balancer to be deleted")
            time.sleep(POLL_SECONDS)
        console.say(f"ingress {name}: deleted, and its load balancer with it")
    return 0


# --- command line ----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chairtimectl", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--overlay",
        default=os.environ.get("CHAIRTIME_OVERLAY", "staging"),
        help="deploy/k8s/overlays/NAME or a path to an overlay (default: $CHAIRTIME_OVERLAY or staging)",
    )
    p.add_argument("--namespace", help="override the overlay's namespace")
    p.add_argument("--context", help="kubeconfig context (default: the current one)")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    def waits(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--timeout",
            type=float,
            help="seconds the rollout may take (default: derived from the replicas, the rolling update's "
            "surge, the probes and the ALB's health checks, at least 300; printed)",
        )
        sub.add_argument(
            "--stuck-after",
            type=float,
            default=60,
            help="fail once a new pod shows an image pull error or a crash loop this long (60 s)",
        )

    d = command(
        "deploy", deploy, "migrate, release IMAGE, wait, and roll back automatically if it does not come up"
    )
    d.add_argument("--image", required=True, help="REPOSITORY:TAG[@sha256:DIGEST]")
    d.add_argument("--migrate-timeout", type=float, default=900, help="seconds migrations may take (900)")
    d.add_argument(
        "--smoke-url",
        help="after the rollout, check /readyz and the API through this URL (the ALB); roll back when they "
        f"fail. {INGRESS_PLACEHOLDER} in it is the ALB's address from the Ingress's status, asked for the "
        f"Ingress's host (no DNS needed): https://{INGRESS_PLACEHOLDER}",
    )
    d.add_argument(
        "--smoke-host",
        help="Host header and TLS name for the smoke test (default: the URL's host, or with "
        f"{INGRESS_PLACEHOLDER} the Ingress rule's host)",
    )
    d.add_argument(
        "--smoke-timeout",
        type=float,
        help="seconds the smoke test may retry (default 120; 600 on a first release, whose ALB is new)",
    )
    waits(d)
    command(
        "configured",
        configured,
        "exit 2, listing them, while the overlay has values marked # PLACEHOLDER (deploy refuses them too)",
    )
    r = command("rollback", rollback, "go back to the previous revision, or to --to-revision N")
    r.add_argument("--to-revision", type=int, help="a revision number from `history`")
    waits(r)
    command("history", history, "the revisions kept, with their images")
    command("status", status, "the current revision, its pods and the load balancer's address")
    t = command(
        "delete-ingress",
        delete_ingress,
        "delete the Ingress and its ALB (deletion protection off first), before tearing the environment down",
    )
    t.add_argument("--timeout", type=float, default=600, help="seconds for both steps (600)")
    g = command("diagnose", diagnose, "one report of pods, probes, events, logs, jobs and the Ingress")
    g.add_argument("--log-lines", type=int, default=20, help="log lines per failing container (20)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console()
    try:
        return args.run(args, console)
    except (ReleaseError, KubeError) as error:
        console.say(f"error: {error}")
        return 2
    except Failed as failure:
        console.say(f"failed: {failure}")
        return 1
    except KeyboardInterrupt:
        console.say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
