"""The buildspec runner's parts: parsing, CodeBuild's phase semantics, the one shell,
exported variables, reports and the local cache."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from runner import (
    BashShell,
    BuildspecError,
    TimedOut,
    build_status,
    cache_directory,
    cobertura_rates,
    collect_report,
    environment_for,
    exported_values,
    junit_counts,
    link_cache,
    parse_buildspec,
    run_build,
    run_phases,
)

ROOT = Path(__file__).resolve().parents[3]


def spec(text: str):
    return parse_buildspec(textwrap.dedent(text))


# --- parsing ---------------------------------------------------------------------------------------


def test_the_repositorys_buildspecs_parse_as_the_pipeline_needs_them():
    test = parse_buildspec((ROOT / "deploy/buildspecs/test.yml").read_text())
    assert [p.name for p in test.phases] == ["install", "pre_build", "build"]
    assert test.phase("build").commands == ("make lint", "make test-ci")
    assert [(r.name, r.base_directory, r.files, r.file_format) for r in test.reports] == [
        ("junit", "test-results", ("junit-*.xml",), "JUNITXML"),
        ("coverage", "test-results", ("coverage.xml",), "COBERTURAXML"),
    ]
    image = parse_buildspec((ROOT / "deploy/buildspecs/image.yml").read_text())
    assert image.exported == ("IMAGE_REF",)
    assert image.variables["PULL_BASE"] == "1"
    deploy = parse_buildspec((ROOT / "deploy/buildspecs/deploy.yml").read_text())
    assert [p.name for p in deploy.phases] == ["install", "pre_build", "build", "post_build"]
    assert deploy.variables["KUBECONFIG"] == "var/kubeconfig"
    assert deploy.cache_paths == ("/root/.cache/pip/**/*", "/root/.cache/uv/**/*", "var/tools/**/*")
    assert any("runtime-versions (python 3.11): ignored" in n for n in deploy.notes)


def test_the_deploy_stage_runs_the_kubectl_of_the_clusters_version():
    deploy = parse_buildspec((ROOT / "deploy/buildspecs/deploy.yml").read_text())
    install = deploy.phase("install").commands
    assert install[1:] == (
        "scripts/k8s-tools",
        'export KUBECTL="$PWD/var/tools/bin/kubectl" && "$KUBECTL" version --client',
    )
    # chairtimectl takes $KUBECTL before any kubectl on PATH (the build image's)
    assert (
        'os.environ.get("KUBECTL"), shutil.which("kubectl")'
        in (ROOT / "deploy/chairtimectl/kube.py").read_text()
    )
    # scripts/k8s-tools' kubectl is the EKS clusters' minor version (deploy/aws cluster.py)
    tools = (ROOT / "scripts/k8s-tools").read_text()
    [pinned] = re.findall(r"^KUBECTL_VERSION=v1\.(\d+)$", tools, re.MULTILINE)
    cluster = (ROOT / "deploy/aws/chairtime_aws/cluster.py").read_text()
    [version] = re.findall(r"^KUBERNETES_VERSION = eks\.KubernetesVersion\.V1_(\d+)$", cluster, re.MULTILINE)
    assert pinned == version


def test_scalars_become_strings_and_a_single_command_a_list():
    parsed = spec(
        """
        version: 0.2
        env:
          variables: {N: 1, EMPTY: null, FLAG: "yes"}
          exported-variables: ONE
        phases:
          build:
            commands: echo one
        """
    )
    assert parsed.variables == {"N": "1", "EMPTY": "", "FLAG": "yes"}
    assert parsed.exported == ("ONE",)
    assert parsed.phase("build").commands == ("echo one",)
    assert parsed.phase("install") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 0.1\nphases: {build: {commands: [x]}}", "only version 0.2"),
        ("version: 0.2\nenv: {parameter-store: {A: /a}}\nphases: {}", "parameter-store is not supported"),
        ("version: 0.2\nenv: {secrets-manager: {A: a:b}}\nphases: {}", "secrets-manager is not supported"),
        ("version: 0.2\nenv: {shell: sh}\nphases: {}", "only bash"),
        ("version: 0.2\nrun-as: nobody\nphases: {}", "`run-as` is not supported"),
        ("version: 0.2\nphases: {deploy: {commands: [x]}}", "unknown phases: deploy"),
        ("version: 0.2\nphases: {build: {commands: [x], run-as: nobody}}", "run-as is not supported"),
        ("version: 0.2\nphases: {build: {commands: [x], on-failure: RETRY}}", "ABORT or CONTINUE"),
        ("version: 0.2\nphases: {build: {command: [x]}}", "unknown keys command"),
        ("version: 0.2\nphases: {build: {commands: {a: b}}}", "a list of strings"),
        ("version: 0.2\nphases: {}\nreports: {r: {base-directory: x}}", "reports.r: no files"),
        ("version: 0.2\nphases: {}\nreports: {r: {files: [a], file-format: PDF}}", "unknown file-format PDF"),
        ("version: 0.2\nphases: {}\nartefacts: {}", "unknown top-level keys: artefacts"),
        ("- not\n- a mapping", "a mapping is expected"),
    ],
)
def test_it_refuses_what_it_cannot_run_faithfully(text, message):
    with pytest.raises(BuildspecError, match=message):
        parse_buildspec(text)


def test_what_it_leaves_out_is_said():
    parsed = spec(
        """
        version: 0.2
        env: {git-credential-helper: yes}
        phases: {build: {commands: [x]}}
        artifacts: {files: ["**/*"]}
        cache: {paths: ["/root/.m2/**/*", "var/x/**/*"]}
        """
    )
    notes = " | ".join(parsed.notes)
    assert "artifacts: not uploaded" in notes
    assert "git-credential-helper: ignored" in notes
    assert "/root/.m2/**/*: this machine's own directories" in notes


# --- phases ----------------------------------------------------------------------------------------


class FakeShell:
    """Records what it is asked; commands fail when their text says `fail`."""

    def __init__(self, timeout_on: str | None = None) -> None:
        self.ran: list[str] = []
        self.env: dict[str, str] = {}
        self.timeout_on = timeout_on

    def run(self, command: str) -> int:
        if command == self.timeout_on:
            raise TimedOut()
        self.ran.append(command)
        return 7 if "fail" in command else 0

    def set_env(self, name: str, value: str) -> None:
        self.ran.append(f"<{name}={value}>")
        self.env[name] = value

    def environment(self) -> dict[str, str]:
        return dict(self.env)

    def say(self, line: str) -> None:
        pass


def four_phases(**overrides: str) -> str:
    phases = {
        name: f"{{commands: [{name}-1, {name}-2]}}"
        for name in ("install", "pre_build", "build", "post_build")
    }
    phases.update(overrides)
    return "version: 0.2\nphases:\n" + "".join(f"  {k}: {v}\n" for k, v in phases.items())


def statuses(results) -> dict[str, str]:
    return {r.name: r.status for r in results}


def test_all_phases_run_in_order_when_all_succeed():
    shell = FakeShell()
    results = run_phases(parse_buildspec(four_phases()), shell)
    assert shell.ran == [f"{p}-{i}" for p in ("install", "pre_build", "build", "post_build") for i in (1, 2)]
    assert set(statuses(results).values()) == {"SUCCEEDED"}
    assert build_status(results) == "SUCCEEDED"
    assert "CODEBUILD_BUILD_SUCCEEDING" not in shell.env


@pytest.mark.parametrize("phase", ["install", "pre_build"])
def test_a_failed_install_or_pre_build_ends_the_build(phase):
    shell = FakeShell()
    results = run_phases(parse_buildspec(four_phases(**{phase: "{commands: [fail-now, never]}"})), shell)
    assert "never" not in shell.ran
    assert statuses(results)[phase] == "FAILED"
    later = ["pre_build", "build", "post_build"][["install", "pre_build"].index(phase) :]
    assert {name: statuses(results)[name] for name in later} == dict.fromkeys(later, "SKIPPED")
    assert not any(c.startswith(("build-", "post_build-")) for c in shell.ran)
    assert build_status(results) == "FAILED"
    failed = next(r for r in results if r.name == phase).failed_command
    assert (failed.command, failed.exit_status) == ("fail-now", 7)


def test_a_failed_build_still_runs_post_build_and_says_the_build_is_failing():
    shell = FakeShell()
    results = run_phases(parse_buildspec(four_phases(build="{commands: [fail, never]}")), shell)
    assert statuses(results) == {
        "install": "SUCCEEDED",
        "pre_build": "SUCCEEDED",
        "build": "FAILED",
        "post_build": "SUCCEEDED",
    }
    # set before post_build's first command
    assert shell.ran[shell.ran.index("fail") + 1 :] == [
        "<CODEBUILD_BUILD_SUCCEEDING=0>",
        "post_build-1",
        "post_build-2",
    ]
    assert build_status(results) == "FAILED"


def test_a_failed_post_build_fails_the_build():
    results = run_phases(parse_buildspec(four_phases(post_build="{commands: [fail]}")), FakeShell())
    assert statuses(results)["post_build"] == "FAILED"
    assert build_status(results) == "FAILED"


def test_finally_runs_after_a_failing_command_and_can_fail_the_phase():
    shell = FakeShell()
    results = run_phases(
        parse_buildspec(four_phases(install="{commands: [fail, skipped], finally: [cleanup]}")), shell
    )
    assert shell.ran[:3] == ["fail", "cleanup", "<CODEBUILD_BUILD_SUCCEEDING=0>"]
    assert statuses(results)["install"] == "FAILED"
    shell = FakeShell()
    results = run_phases(
        parse_buildspec(four_phases(build="{commands: [ok], finally: [fail-cleanup]}")), shell
    )
    assert statuses(results)["build"] == "FAILED"


def test_on_failure_continue_goes_on_to_the_next_phase():
    shell = FakeShell()
    results = run_phases(
        parse_buildspec(four_phases(install="{commands: [fail], on-failure: CONTINUE}")), shell
    )
    assert statuses(results)["install"] == "FAILED"
    assert statuses(results)["build"] == "SUCCEEDED"
    assert "build-1" in shell.ran
    assert build_status(results) == "FAILED"


def test_a_timeout_stops_the_build():
    shell = FakeShell(timeout_on="build-1")
    results = run_phases(parse_buildspec(four_phases()), shell)
    assert statuses(results) == {
        "install": "SUCCEEDED",
        "pre_build": "SUCCEEDED",
        "build": "TIMED_OUT",
        "post_build": "SKIPPED",
    }
    assert build_status(results) == "TIMED_OUT"


def test_environment_precedence_is_buildspec_then_project_then_action():
    parsed = spec("version: 0.2\nenv: {variables: {A: spec, B: spec, C: spec}}\nphases: {}")
    env = environment_for(
        {"A": "system", "D": "system"}, parsed, {"B": "project", "C": "project"}, {"C": "action"}
    )
    assert env == {"A": "spec", "B": "project", "C": "action", "D": "system"}


def test_exported_variables_that_were_never_set_are_named():
    assert exported_values(["A", "B"], {"A": "1", "C": "3"}) == ({"A": "1"}, ["B"])


# --- the one bash ----------------------------------------------------------------------------------


def test_one_shell_carries_variables_and_the_directory_and_survives_exit(tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    lines: list[str] = []
    shell = BashShell(tmp_path / "src", {"PATH": "/usr/bin:/bin"}, lines.append, timeout=30)
    try:
        assert shell.run("PLAIN=kept; export EXPORTED=yes; cd sub") == 0
        assert (
            shell.run('[ "$PLAIN" = kept ] && [ "$(basename "$PWD")" = sub ] && echo "seen $EXPORTED"') == 0
        )
        assert shell.run("false") == 1
        assert shell.run("exit 3") == 3
        # a new shell: exported variables and the directory survive, plain ones do not
        assert shell.run('echo "after exit: ${EXPORTED:-gone} ${PLAIN:-gone} $(basename "$PWD")"') == 0
        shell.set_env("CODEBUILD_BUILD_SUCCEEDING", "0")
        assert shell.environment()["CODEBUILD_BUILD_SUCCEEDING"] == "0"
        assert shell.environment()["EXPORTED"] == "yes"
    finally:
        shell.close()
    assert "seen yes" in lines
    assert "after exit: yes gone sub" in lines
    assert any(line.endswith("Running command false") for line in lines)


def test_a_build_exports_variables_after_post_build_and_lists_its_reports(tmp_path):
    src = tmp_path / "src"
    (src / "out").mkdir(parents=True)
    (src / "bs.yml").write_text(
        textwrap.dedent(
            """
            version: 0.2
            env:
              variables: {GREETING: hello}
              exported-variables: [REF, NEVER]
            phases:
              build:
                commands:
                  - export REF="$GREETING-$FROM_ACTION"
                  - echo '<testsuite><testcase name="a"/></testsuite>' > out/junit-a.xml
              post_build:
                commands:
                  - export REF="$REF-final"
            reports:
              junit: {files: ["junit-*.xml"], base-directory: out}
              coverage: {files: [coverage.xml], base-directory: out, file-format: COBERTURAXML}
            """
        )
    )
    echoed: list[str] = []
    result = run_build(
        "proj",
        src / "bs.yml",
        src,
        system={"PATH": "/usr/bin:/bin"},
        action_env={"FROM_ACTION": "world"},
        log=tmp_path / "log.txt",
        echo=echoed.append,
    )
    assert result.status == "SUCCEEDED"
    assert result.exported == {"REF": "hello-world-final"}
    assert result.missing_exports == ["NEVER"]
    reports = {r.group: r for r in result.reports}
    assert (reports["junit"].status, reports["junit"].files) == ("SUCCEEDED", ["out/junit-a.xml"])
    assert reports["coverage"].status == "MISSING"
    assert "[runner] exported variable REF=hello-world-final" in (tmp_path / "log.txt").read_text()
    assert echoed == (tmp_path / "log.txt").read_text().splitlines()


def test_the_timeout_kills_a_command_that_runs_too_long(tmp_path):
    (tmp_path / "src").mkdir()
    shell = BashShell(tmp_path / "src", {"PATH": "/usr/bin:/bin"}, lambda line: None, timeout=1)
    try:
        with pytest.raises(TimedOut):
            shell.run("sleep 20")
    finally:
        shell.close()


# --- reports ---------------------------------------------------------------------------------------

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="a" name="ok1"/><testcase classname="a" name="ok2"/>
<testcase classname="a" name="bad"><failure message="x">boom</failure></testcase>
<testcase classname="a" name="err"><error message="y">setup</error></testcase>
<testcase classname="a" name="skip"><skipped message="z"/></testcase>
</testsuite></testsuites>"""


def test_junit_test_cases_are_counted_by_status(tmp_path):
    (tmp_path / "junit.xml").write_text(JUNIT)
    assert junit_counts(tmp_path / "junit.xml") == {
        "total": 5,
        "succeeded": 2,
        "failed": 1,
        "error": 1,
        "skipped": 1,
    }


def test_cobertura_rates(tmp_path):
    (tmp_path / "c.xml").write_text(
        '<coverage version="7" line-rate="0.884" branch-rate="0" lines-covered="3263" lines-valid="3691"/>'
    )
    assert cobertura_rates(tmp_path / "c.xml") == {
        "line_rate": 0.884,
        "branch_rate": 0.0,
        "lines_covered": 3263,
        "lines_valid": 3691,
    }
    (tmp_path / "not.xml").write_text("<testsuites/>")
    with pytest.raises(ValueError, match="not Cobertura"):
        cobertura_rates(tmp_path / "not.xml")


def test_a_report_group_collects_its_files_and_judges_them(tmp_path):
    results = tmp_path / "test-results"
    (results / "deep").mkdir(parents=True)
    (results / "junit-postgres.xml").write_text(JUNIT)
    # the same suite, where the failing case was skipped instead
    (results / "deep" / "junit-other.xml").write_text(
        JUNIT.replace('<failure message="x">boom</failure>', "<skipped/>")
    )
    parsed = spec(
        """
        version: 0.2
        phases: {}
        reports:
          top: {files: ["junit-*.xml"], base-directory: test-results}
          all: {files: ["**/junit-*.xml"], base-directory: test-results}
          broken: {files: [bad.xml], base-directory: test-results}
        """
    )
    (results / "bad.xml").write_text("<testsuites><unclosed>")
    top, every, broken = (collect_report(group, tmp_path) for group in parsed.reports)
    assert (top.status, top.files, top.summary["total"]) == ("FAILED", ["test-results/junit-postgres.xml"], 5)
    assert every.files == ["test-results/deep/junit-other.xml", "test-results/junit-postgres.xml"]
    assert every.summary == {"total": 10, "succeeded": 4, "failed": 1, "error": 2, "skipped": 3}
    assert broken.status == "INVALID"
    assert "junit-postgres" not in " ".join(broken.files)


# --- the local cache -------------------------------------------------------------------------------


def test_cache_paths_name_directories():
    assert cache_directory("var/tools/**/*") == "var/tools"
    assert cache_directory("node_modules/*") == "node_modules"
    assert cache_directory("/root/.cache/pip/**/*") is None
    assert cache_directory("**/*") is None


def test_relative_cache_directories_are_linked_into_the_store(tmp_path):
    parsed = spec("version: 0.2\nphases: {}\ncache: {paths: [var/tools/**/*, /root/.cache/x/**/*, kept/*]}")
    store, first, second = tmp_path / "store", tmp_path / "one", tmp_path / "two"
    (first / "kept").mkdir(parents=True)
    lines = link_cache(parsed, first, store)
    assert (first / "var/tools").resolve() == (store / "var/tools").resolve()
    assert "(empty)" in lines[0]
    assert "kept is in the source already" in lines[1]
    (first / "var/tools/bin").mkdir()
    (first / "var/tools/bin/kubectl").write_text("binary")
    second.mkdir()
    lines = link_cache(parsed, second, store)
    assert (second / "var/tools/bin/kubectl").read_text() == "binary"
    assert "(warm)" in lines[0]
