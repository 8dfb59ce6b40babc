"""delete-ingress: deletion protection off, reconciled, then the Ingress (and its ALB) deleted."""

from __future__ import annotations

import argparse

import pytest

from chairtimectl import cli, teardown

PROD = (
    "idle_timeout.timeout_seconds=60,routing.http.drop_invalid_header_fields.enabled=true,"
    "deletion_protection.enabled=true"
)


def reconciled(at: str, count: int = 1) -> dict:
    return {
        "involvedObject": {"kind": "Ingress", "name": "chairtime"},
        "reason": "SuccessfullyReconciled",
        "type": "Normal",
        "message": "Successfully reconciled",
        "lastTimestamp": at,
        "count": count,
        "metadata": {"creationTimestamp": at},
    }


def test_protection_is_turned_off_and_the_other_attributes_kept():
    assert teardown.is_protected(PROD)
    off = teardown.protection_off(PROD)
    assert off == (
        "idle_timeout.timeout_seconds=60,routing.http.drop_invalid_header_fields.enabled=true,"
        "deletion_protection.enabled=false"
    )
    assert not teardown.is_protected(off)
    assert teardown.protection_off("") == "deletion_protection.enabled=false"
    assert not teardown.is_protected("idle_timeout.timeout_seconds=60")


def test_only_a_reconcile_after_the_change_counts():
    before = [reconciled("2026-12-07T10:00:00Z", count=3)]
    mark = teardown.reconcile_mark(before, "chairtime")
    assert not teardown.reconciled_after(before, "chairtime", mark)
    # the same event aggregated once more (same second, count + 1), or a later one
    assert teardown.reconciled_after([reconciled("2026-12-07T10:00:00Z", count=4)], "chairtime", mark)
    assert teardown.reconciled_after([reconciled("2026-12-07T10:05:00Z")], "chairtime", mark)
    assert teardown.reconcile_mark([], "chairtime") == ("", 0)


class FakeCluster:
    """The Ingress, its events and the controller, as kubectl would show them."""

    def __init__(self, *, controller_works: bool = True) -> None:
        self.ingress = {
            "metadata": {"name": "chairtime", "annotations": {teardown.ATTRIBUTES: PROD}},
            "spec": {"rules": [{"host": "book.chairtime.example"}]},
        }
        self.events = [reconciled("2026-12-07T09:00:00Z")]
        self.controller_works = controller_works
        self.commands: list[list[str]] = []
        self.deleting = 0

    def get(self, kind, name=None, **_):
        if self.deleting:
            self.deleting -= 1
            if not self.deleting:
                self.ingress = None
        return self.ingress

    def items(self, kind, **_):
        return list(self.events)

    def run(self, args, **_):
        self.commands.append(args)
        if args[0] == "annotate":
            key, _, value = args[-1].partition("=")
            self.ingress["metadata"]["annotations"][key] = value
            if self.controller_works:
                self.events.append(reconciled("2026-12-07T10:00:00Z"))
        if args[0] == "delete":
            assert not teardown.is_protected(self.ingress["metadata"]["annotations"][teardown.ATTRIBUTES])
            self.deleting = 2  # the finalizer goes once the controller deleted the ALB
        return ""


@pytest.fixture
def run(monkeypatch):
    monkeypatch.setattr(cli, "POLL_SECONDS", 0)

    def run(cluster, timeout=5.0):
        objects = [{"kind": "Ingress", "metadata": {"name": "chairtime"}}]
        monkeypatch.setattr(cli, "_kube_and_objects", lambda args: (cluster, objects))
        return cli.delete_ingress(argparse.Namespace(timeout=timeout), cli.Console())

    return run


def test_it_turns_protection_off_waits_for_the_controller_then_deletes_and_waits(run, capsys):
    cluster = FakeCluster()
    assert run(cluster) == 0
    assert [c[0] for c in cluster.commands] == ["annotate", "delete"]
    assert cluster.ingress is None
    out = capsys.readouterr().out
    assert "the controller reconciled it (protection off)" in out
    assert "deleted, and its load balancer with it" in out


def test_it_does_not_delete_while_the_protection_may_still_be_on(run):
    cluster = FakeCluster(controller_works=False)
    with pytest.raises(cli.Failed, match=r"did not reconcile .* not deleting"):
        run(cluster, timeout=0.05)
    assert [c[0] for c in cluster.commands] == ["annotate"]


def test_an_ingress_already_gone_is_fine(run, capsys):
    cluster = FakeCluster()
    cluster.ingress = None
    assert run(cluster) == 0
    assert cluster.commands == []
    assert "already deleted" in capsys.readouterr().out
