"""The replay's own parts: it follows the CDK pipeline's projects, its source artifacts
and run 2's broken commit, and the ALB stand-in (the whole replay is `make pipeline-local`)."""

# git, with our own arguments.
# ruff: noqa: S603, S607

from __future__ import annotations

import ast
import http.client
import http.server
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
import replay

ROOT = Path(__file__).resolve().parents[3]


def pipeline_constants() -> dict[str, object]:
    """deploy/aws/chairtime_aws/pipeline.py's module-level strings (f-strings with PROJECT
    filled in), and each `project(...)` call's keywords, without importing the CDK."""
    tree = ast.parse((ROOT / "deploy/aws/chairtime_aws/pipeline.py").read_text())
    constants: dict[str, object] = {"PROJECT": "chairtime"}

    def value(node: ast.AST) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id, node.id)
        if isinstance(node, ast.JoinedStr):
            return "".join(
                str(value(v.value if isinstance(v, ast.FormattedValue) else v)) for v in node.values
            )
        if isinstance(node, ast.Tuple):
            return tuple(value(e) for e in node.elts)
        return ast.unparse(node)

    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            constants[node.targets[0].id] = value(node.value)
    calls = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "project":
            keywords = {k.arg: value(k.value) for k in node.keywords}
            calls[value(node.args[0])] = keywords
        if isinstance(node, ast.FunctionDef) and node.name == "project":
            defaults = dict(zip([a.arg for a in node.args.kwonlyargs], node.args.kw_defaults, strict=True))
            constants["default timeout"] = value(defaults["timeout_minutes"])
    constants["calls"] = calls
    return constants


def test_the_replay_runs_the_pipelines_projects_with_their_buildspecs_and_timeouts():
    cdk = pipeline_constants()
    calls = cdk["calls"]
    test, image = calls["TestProject"], calls["ImageProject"]
    deploy = next(c for name, c in calls.items() if name.startswith("Deploy"))
    assert (
        "Test",
        cdk["TEST_PROJECT"],
        test["buildspec"],
        test.get("timeout_minutes", cdk["default timeout"]),
    ) == replay.TEST
    assert ("Image", image["project_name"], image["buildspec"], cdk["default timeout"]) == replay.IMAGE
    # the staging deploy project: f"{PROJECT}-deploy-{env.name}"
    assert deploy["project_name"] == "chairtime-deploy-env.name"
    assert (
        "DeployStaging",
        "chairtime-deploy-staging",
        deploy["buildspec"],
        cdk["default timeout"],
    ) == replay.DEPLOY_STAGING
    assert cdk["DEPLOY_ENVIRONMENTS"][0] == "staging"  # the stage the replay deploys


# --- sources -----------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@invalid", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "deploy/container").mkdir(parents=True)
    # The shape of deploy/container/Dockerfile's ENTRYPOINT (the replay refuses to run when
    # the real one no longer has it); not the real file, which run 2's tree changes.
    (root / "deploy/container/Dockerfile").write_text(
        'FROM base\nENTRYPOINT ["gunicorn", "--config", "deploy/container/gunicorn.conf.py", '
        + replay.ENTRYPOINT_GOOD
        + '            "chairtime.wsgi:application"]\n'
    )
    (root / "committed.txt").write_text("committed\n")
    (root / ".gitignore").write_text("ignored.txt\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "one")
    (root / "committed.txt").write_text("changed, not committed\n")
    (root / "new.txt").write_text("untracked\n")
    (root / "ignored.txt").write_text("ignored\n")
    return root


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_the_source_artifact_is_heads_files_without_git(repo, tmp_path):
    commit, what = replay.source_artifact(tmp_path / "a.tar", worktree=False, root=repo)
    assert commit == git(repo, "rev-parse", "HEAD")
    assert "uncommitted changes are NOT in it" in what
    files = members(tmp_path / "a.tar")
    assert files["committed.txt"] == b"committed\n"
    assert "new.txt" not in files
    assert not any(name.startswith(".git/") for name in files)


def test_the_worktree_artifact_takes_uncommitted_files_but_not_ignored_ones(repo, tmp_path):
    commit, _ = replay.source_artifact(tmp_path / "w.tar", worktree=True, root=repo)
    assert len(commit) == 40
    assert commit != git(repo, "rev-parse", "HEAD")
    assert git(repo, "log", "--oneline").count("\n") == 0  # the repository is left as it was
    files = members(tmp_path / "w.tar")
    assert files["committed.txt"] == b"changed, not committed\n"
    assert files["new.txt"] == b"untracked\n"
    assert "ignored.txt" not in files


def test_run_twos_commit_breaks_only_the_images_entrypoint(repo, tmp_path):
    replay.source_artifact(tmp_path / "good.tar", worktree=False, root=repo)
    commit = replay.broken_artifact(tmp_path / "good.tar", tmp_path / "broken.tar")
    assert len(commit) == 40
    # the same tree gives the same commit (and so the same image tag) every time, also a
    # second later (git's dates have whole seconds)
    time.sleep(1.1)
    assert replay.broken_artifact(tmp_path / "good.tar", tmp_path / "again.tar") == commit
    good, broken = members(tmp_path / "good.tar"), members(tmp_path / "broken.tar")
    assert set(good) == set(broken)
    assert [n for n in good if good[n] != broken[n]] == [replay.DOCKERFILE]
    dockerfile = broken[replay.DOCKERFILE].decode()
    entrypoint = dockerfile[dockerfile.index("ENTRYPOINT") :].split("]")[0]
    assert '"--env", "PGSSLMODE=require"' in entrypoint
    assert entrypoint.startswith('ENTRYPOINT ["gunicorn"')


def test_run_two_refuses_a_dockerfile_whose_entrypoint_it_does_not_know(tmp_path):
    (tmp_path / "deploy/container").mkdir(parents=True)
    (tmp_path / "deploy/container/Dockerfile").write_text('FROM x\nENTRYPOINT ["other"]\n')
    with tarfile.open(tmp_path / "good.tar", "w") as tar:
        tar.add(tmp_path / "deploy", arcname="deploy")
    with pytest.raises(replay.Failed, match="ENTRYPOINT changed"):
        replay.broken_artifact(tmp_path / "good.tar", tmp_path / "broken.tar")


# --- the ALB stand-in ----------------------------------------------------------------------------------


class Target(http.server.ThreadingHTTPServer):
    """A pod: answers with its name, the path, the Host header and the body it got."""

    def __init__(self, name: str) -> None:
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                seen = (target.name, self.command, self.path, self.headers["Host"], body.decode())
                text = " ".join(seen).encode()
                self.send_response(201 if self.command == "POST" else 200)
                self.send_header("X-Pod", target.name)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.name = name
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.server_address[1])


def ask(
    url: str, method: str = "GET", path: str = "/readyz", body: bytes | None = None
) -> tuple[int, str, dict]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request(method, path, body=body, headers={"Host": "staging.chairtime.example"})
    answer = connection.getresponse()
    return answer.status, answer.read().decode(), dict(answer.getheaders())


def test_the_alb_sends_each_request_to_the_next_ready_target():
    pods = [Target("pod-a"), Target("pod-b")]
    alb = replay.Alb(endpoints=lambda: [p.address for p in pods], every=0.05)
    try:
        answers = [ask(alb.url) for _ in range(4)]
        assert [a[0] for a in answers] == [200] * 4
        assert sorted(a[1].split()[0] for a in answers) == ["pod-a", "pod-a", "pod-b", "pod-b"]
        assert answers[0][1].split()[1:4] == ["GET", "/readyz", "staging.chairtime.example"]
        status, text, headers = ask(alb.url, "POST", "/api/v1/bookings?x=1", b'{"slot": 1}')
        assert status == 201
        assert text.endswith('POST /api/v1/bookings?x=1 staging.chairtime.example {"slot": 1}')
        assert headers["X-Pod"] in ("pod-a", "pod-b")
    finally:
        alb.stop()
        for pod in pods:
            pod.shutdown()


def test_without_targets_it_answers_503_and_with_a_dead_one_502():
    targets: list[tuple[str, int]] = []
    alb = replay.Alb(endpoints=lambda: targets, every=0.05)
    try:
        assert ask(alb.url)[0] == 503
        dead = Target("dead")
        dead.shutdown()
        dead.server_close()
        targets.append(dead.address)
        time.sleep(0.3)
        assert ask(alb.url)[0] == 502
    finally:
        alb.stop()


def test_when_the_endpoints_cannot_be_read_the_targets_stay():
    pod = Target("pod-a")
    answers = iter([[pod.address]])
    alb = replay.Alb(endpoints=lambda: next(answers, None), every=0.05)
    try:
        time.sleep(0.3)  # several refreshes that could not read the endpoints
        assert ask(alb.url)[1].startswith("pod-a")
    finally:
        alb.stop()
        pod.shutdown()


class Controller:
    """The Ingress as the API server has it, and the status the stand-in publishes."""

    def __init__(self, ingress: dict | None) -> None:
        self.object = ingress
        self.published: list[str] = []

    def ingress(self) -> dict | None:
        return self.object

    def publish(self, address: str) -> bool:
        self.published.append(address)
        self.object["status"] = {"loadBalancer": {"ingress": [{"ip": address}]}}
        return True


def test_as_the_controller_it_publishes_its_address_once_and_routes_by_the_ingress_host_only():
    pod = Target("pod-a")
    controller = Controller(None)
    alb = replay.Alb(endpoints=lambda: [pod.address], every=0.05, ingress=controller)
    try:
        assert ask(alb.url)[0] == 404  # no Ingress yet: no rule
        controller.object = {"spec": {"rules": [{"host": "staging.chairtime.example"}]}}
        time.sleep(0.3)
        assert controller.published == ["127.0.0.1"]  # once: the status then has it
        assert alb.published and alb.host == "staging.chairtime.example"
        assert alb.smoke_url == f"http://{{ingress}}:{alb.url.rpartition(':')[2]}"
        assert ask(alb.url)[1].startswith("pod-a")  # ask() sends Host: staging.chairtime.example
        connection = http.client.HTTPConnection(*alb.url.removeprefix("http://").split(":"), timeout=5)
        connection.request("GET", "/readyz")  # Host: 127.0.0.1:<port>, as without --smoke-host
        assert connection.getresponse().status == 404
    finally:
        alb.stop()
        pod.shutdown()
