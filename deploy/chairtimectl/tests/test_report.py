"""chairtimectl's reading of cluster objects, on objects shaped like the API
server's (the e2e run, `make e2e-k8s`, proves them against a real one)."""

from __future__ import annotations

from chairtimectl import report

WEB_NEW = {"name": "web", "image": "r/c:new"}
PROBE_503 = "Readiness probe failed: HTTP probe failed with statuscode: 503"


def deployment(*, revision=3, generation=4, observed=4, replicas=2, updated=2, ready=2, available=2, total=2):
    return {
        "metadata": {
            "name": "chairtime-web",
            "uid": "d-1",
            "generation": generation,
            "annotations": {report.REVISION: str(revision)},
        },
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "web", "image": "r/c:new"}]}},
        },
        "status": {
            "observedGeneration": observed,
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": [],
        },
    }


def replicaset(name, revision, image, *, owner="d-1", ready=2, cause=None):
    annotations = {report.REVISION: str(revision)}
    if cause:
        annotations[report.CHANGE_CAUSE] = cause
    return {
        "metadata": {
            "name": name,
            "uid": f"rs-{name}",
            "creationTimestamp": f"2026-11-2{revision}T10:00:00Z",
            "annotations": annotations,
            "ownerReferences": [{"uid": owner}],
        },
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
        "status": {"readyReplicas": ready},
    }


def pod(name, *, owner="rs-new", ready=False, waiting=None, restarts=0, last_exit=None):
    status = {"name": "web", "restartCount": restarts, "state": {}, "lastState": {}}
    if waiting:
        status["state"]["waiting"] = {"reason": waiting, "message": f"{waiting} details"}
    else:
        status["state"]["running"] = {}
    if last_exit is not None:
        status["lastState"]["terminated"] = {"exitCode": last_exit, "reason": "Error"}
    return {
        "metadata": {"name": name, "ownerReferences": [{"uid": owner}]},
        "spec": {"containers": [{"name": "web"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [status],
        },
    }


def event(name, reason, message, *, kind="Pod", type_="Warning", count=1, at="2026-11-26T10:00:00Z"):
    return {
        "metadata": {"name": f"{name}.1"},
        "involvedObject": {"kind": kind, "name": name},
        "reason": reason,
        "message": message,
        "type": type_,
        "count": count,
        "lastTimestamp": at,
    }


def test_it_calls_a_rollout_done_only_when_every_updated_pod_is_available():
    assert report.rollout_state(deployment()).done
    assert not report.rollout_state(deployment(observed=3)).done
    assert not report.rollout_state(deployment(updated=1)).done
    state = report.rollout_state(deployment(total=3))
    assert not state.done and "old pods terminating" in state.message
    state = report.rollout_state(deployment(available=1, ready=1))
    assert not state.done
    assert state.message == "2/2 updated, 1 ready, 1 available, 2 running in all"


def test_it_sees_a_passed_progress_deadline_as_a_failure():
    d = deployment(available=0)
    d["status"]["conditions"] = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "too slow",
        }
    ]
    state = report.rollout_state(d)
    assert not state.done and state.failed == "too slow"


def test_it_finds_the_current_replicaset_and_its_pods_only():
    d = deployment(revision=3)
    sets = [
        replicaset("old", 2, "r/c:old"),
        replicaset("new", 3, "r/c:new"),
        replicaset("other", 3, "r/x:1", owner="d-2"),
    ]
    assert report.current_replicaset(d, sets)["metadata"]["name"] == "new"
    assert [rs["metadata"]["name"] for rs in report.replicasets_of(d, sets)] == ["new", "old"]
    pods = [pod("b", owner="rs-new"), pod("a", owner="rs-new"), pod("c", owner="rs-old")]
    assert [p["metadata"]["name"] for p in report.pods_of(sets[1], pods)] == ["a", "b"]


def test_it_reports_the_failing_readiness_probe_of_a_pod():
    events = [
        event(
            "web-1", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=7
        ),
        event("web-1", "Scheduled", "assigned", type_="Normal"),
        event("web-2", "Unhealthy", "someone else's"),
    ]
    r = report.pod_report(pod("web-1"), events)
    assert not r.ready and r.failing and r.stuck is None
    assert r.problems == [
        "Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503 (7 times)"
    ]
    assert report.hints("\n".join(r.problems)) == ["Failing readiness"]


def test_it_marks_image_pull_errors_and_crash_loops_as_stuck():
    pulled = report.pod_report(pod("web-1", waiting="ImagePullBackOff"), [])
    assert pulled.stuck == "ImagePullBackOff"
    assert pulled.problems == ["container web: ImagePullBackOff: ImagePullBackOff details"]

    crashing = report.pod_report(pod("web-2", waiting="CrashLoopBackOff", restarts=4, last_exit=1), [])
    assert crashing.stuck == "CrashLoopBackOff" and crashing.restarts == 4
    assert "container web last exited with code 1 (Error)" in crashing.problems

    starting = report.pod_report(pod("web-3", waiting="ContainerCreating"), [])
    assert starting.stuck is None and not starting.ready and starting.failing

    leaving = pod("web-4")
    leaving["metadata"]["deletionTimestamp"] = "2026-11-26T10:00:00Z"
    gone = report.pod_report(leaving, [])
    assert gone.phase == "Terminating" and not gone.failing

    refused = event("web-5", "Unhealthy", "Startup probe failed")
    started = report.pod_report(pod("web-5", ready=True), [refused])
    assert not started.failing and started.problems == ["Unhealthy: Startup probe failed"]

    finished = pod("migrate-1")
    finished["status"]["phase"] = "Succeeded"
    done = report.pod_report(finished, [])
    assert not done.failing
    assert report.format_pods([done]) == ["  migrate-1: Succeeded, done, 0 restarts"]


def test_it_points_at_the_runbook_section_for_each_known_failure():
    log = 'FATAL:  password authentication failed for user "chairtime_app"\nImagePullBackOff'
    assert report.hints(log) == ["Image pull errors", "Database authentication errors"]
    denied = "botocore.exceptions.ClientError: An error occurred (AccessDeniedException) when calling Query"
    assert report.hints(denied) == ["DynamoDB access denied"]
    assert report.hints("all good") == []


def test_it_lists_the_history_newest_first_with_the_current_revision_marked():
    d = deployment(revision=2)
    sets = [
        # A change made with `kubectl set image` inherits the previous change-cause.
        replicaset("one", 1, "r/c:aaa", ready=0, cause="chairtimectl deploy r/c:zzz"),
        replicaset("two", 2, "r/c:bbb", cause="chairtimectl deploy r/c:bbb"),
    ]
    lines = report.history_lines(d, sets)
    assert lines[1].startswith(
        "*      2    2/2  2026-11-22T10:00:00Z  r/c:bbb  (chairtimectl deploy r/c:bbb)"
    )
    assert lines[2] == "       1    0/2  2026-11-21T10:00:00Z  r/c:aaa"


def test_it_shows_the_load_balancer_address_and_its_controller_warnings():
    ingress = {
        "metadata": {"name": "chairtime"},
        "spec": {"rules": [{"host": "salon.example"}]},
        "status": {"loadBalancer": {"ingress": [{"hostname": "k8s-abc.elb.amazonaws.com"}]}},
    }
    events = [event("chairtime", "FailedDeployModel", "certificate not found", kind="Ingress")]
    lines = report.ingress_lines([ingress], events)
    assert lines == [
        "  chairtime: hosts salon.example -> k8s-abc.elb.amazonaws.com",
        "    Warning FailedDeployModel: certificate not found",
    ]
    assert report.ingress_lines([], []) == ["  (no Ingress)"]


def test_it_tells_the_state_of_migrations_jobs():
    def job(name, kind=None, message=""):
        conditions = [{"type": kind, "status": "True", "message": message}] if kind else []
        return {
            "metadata": {"name": name, "creationTimestamp": name},
            "status": {"conditions": conditions, "active": 0 if kind else 1},
        }

    lines = report.job_lines(
        [job("m-2", "Failed", "BackoffLimitExceeded"), job("m-1", "Complete"), job("m-3")]
    )
    assert lines == [
        "  m-1: complete",
        "  m-2: FAILED: BackoffLimitExceeded",
        "  m-3: running (1 active, 0 failed)",
    ]
