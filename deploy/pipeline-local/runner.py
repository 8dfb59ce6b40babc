#!/usr/bin/env python3
"""A small CodeBuild buildspec (version 0.2) runner for this machine, without Docker.

    .venv/bin/python deploy/pipeline-local/runner.py deploy/buildspecs/test.yml [--src DIR] [--env K=V ...]

`make pipeline-local` (deploy/pipeline-local/replay.py) runs the pipeline's three
buildspecs with it; docs/pipeline-local.md says why it exists (AWS's own local agent
needs a Docker engine) and what it does and does not do. What it follows, from
CodeBuild's buildspec reference:

- phases install -> pre_build -> build -> post_build; a phase stops at its first failing
  command and then runs its ``finally`` commands. A failed install or pre_build ends
  the build (later phases are skipped); a failed build still runs post_build (with
  CODEBUILD_BUILD_SUCCEEDING=0); ``on-failure: CONTINUE`` goes on to the next phase;
- version 0.2's one shell: every command runs in the same bash process, so variables
  (exported or not) and the working directory carry from command to command and phase
  to phase. Each command runs as it is written (no ``set -e`` is added): its exit
  status is that of its last pipeline. A command that ends the shell itself (``exit N``)
  has the status N, and the next one starts a new bash from the environment and
  directory the last command left (exported variables only);
- environment precedence: the buildspec's ``env.variables`` < the project's variables
  < the action's (start-build) variables; CODEBUILD_* and AWS_REGION are set as
  CodeBuild sets them;
- ``exported-variables``: read from the environment when post_build has ended;
- ``reports``: the files each report group's patterns match under its base directory,
  with the counts a report would show (JUnit XML: test cases by status; Cobertura XML:
  line and branch rates);
- the project's timeout: the build is stopped (TIMED_OUT) when it is exceeded.

Not done, each said aloud when a buildspec uses it: ``runtime-versions`` (the
machine's own tools run), ``artifacts`` (nothing is uploaded), ``git-credential-helper``.
``cache.paths``: absolute ones are this machine's own directories, which persist anyway;
relative ones are symlinked into a per-project store (``--cache DIR``), as CodeBuild's
local custom cache does. Refused: ``parameter-store``, ``secrets-manager``,
``run-as``, ``proxy``, ``batch``, another ``env.shell`` than bash, another version.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

PHASES = ("install", "pre_build", "build", "post_build")
# A failure in these ends the build (with on-failure ABORT, the default).
ENDS_THE_BUILD = ("install", "pre_build")
TEST_FORMATS = {"JUNITXML", "CUCUMBERJSON", "TESTNGXML", "VISUALSTUDIOTRX", "NUNITXML", "NUNIT3XML"}
COVERAGE_FORMATS = {"CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV"}
REFUSED_ENV = ("parameter-store", "secrets-manager")
REFUSED_TOP = ("run-as", "proxy", "batch")
BASH = shutil.which("bash") or "/bin/bash"


class BuildspecError(ValueError):
    """The buildspec is malformed, or uses what this runner cannot do faithfully."""


# --- the buildspec --------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    name: str
    commands: tuple[str, ...]
    finally_: tuple[str, ...] = ()
    on_failure: str = "ABORT"


@dataclass(frozen=True)
class ReportGroup:
    name: str
    files: tuple[str, ...]
    base_directory: str = "."
    file_format: str = "JUNITXML"
    discard_paths: bool = False

    @property
    def kind(self) -> str:
        return "coverage" if self.file_format in COVERAGE_FORMATS else "test"


@dataclass(frozen=True)
class Buildspec:
    variables: dict[str, str]
    exported: tuple[str, ...]
    phases: tuple[Phase, ...]
    reports: tuple[ReportGroup, ...] = ()
    cache_paths: tuple[str, ...] = ()
    # What this runner leaves out, for the log.
    notes: tuple[str, ...] = ()

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return (str(value),)
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise BuildspecError(f"{where}: a list of strings is expected")
    return tuple(str(v) for v in value)


def _mapping(value: object, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BuildspecError(f"{where}: a mapping is expected")
    return value


def parse_buildspec(text: str) -> Buildspec:
    """A buildspec's YAML -> :class:`Buildspec`, refusing what cannot be run faithfully."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise BuildspecError(f"not YAML: {error}") from None
    data = _mapping(data, "the buildspec")
    if str(data.get("version")) != "0.2":
        raise BuildspecError(f"version {data.get('version')!r}: only version 0.2 is supported")
    notes: list[str] = []
    for key in REFUSED_TOP:
        if key in data:
            raise BuildspecError(f"`{key}` is not supported by this runner")
    unknown = set(data) - {"version", "env", "phases", "reports", "cache", "artifacts", *REFUSED_TOP}
    if unknown:
        raise BuildspecError(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    if "artifacts" in data:
        notes.append("artifacts: not uploaded (the pipeline does not use build output artifacts)")

    env = _mapping(data.get("env"), "env")
    for key in REFUSED_ENV:
        if key in env:
            raise BuildspecError(f"env.{key} is not supported by this runner")
    if env.get("shell", "bash") != "bash":
        raise BuildspecError(f"env.shell {env['shell']!r}: only bash is supported")
    if "git-credential-helper" in env:
        notes.append("env.git-credential-helper: ignored (the source is an archive)")
    unknown = set(env) - {"variables", "exported-variables", "shell", "git-credential-helper", *REFUSED_ENV}
    if unknown:
        raise BuildspecError(f"unknown env keys: {', '.join(sorted(unknown))}")
    variables = {
        str(k): "" if v is None else str(v)
        for k, v in _mapping(env.get("variables"), "env.variables").items()
    }
    exported = _strings(env.get("exported-variables"), "env.exported-variables")

    raw_phases = _mapping(data.get("phases"), "phases")
    unknown = set(raw_phases) - set(PHASES)
    if unknown:
        raise BuildspecError(f"unknown phases: {', '.join(sorted(unknown))} (known: {', '.join(PHASES)})")
    phases = []
    for name in PHASES:
        if name not in raw_phases:
            continue
        raw = _mapping(raw_phases[name], f"phases.{name}")
        if "run-as" in raw:
            raise BuildspecError(f"phases.{name}.run-as is not supported by this runner")
        unknown = set(raw) - {"commands", "finally", "on-failure", "runtime-versions"}
        if unknown:
            raise BuildspecError(f"phases.{name}: unknown keys {', '.join(sorted(unknown))}")
        if "runtime-versions" in raw:
            versions = ", ".join(
                f"{k} {v}" for k, v in _mapping(raw["runtime-versions"], "runtime-versions").items()
            )
            notes.append(f"phases.{name}.runtime-versions ({versions}): ignored, the machine's own tools run")
        on_failure = str(raw.get("on-failure", "ABORT")).upper()
        if on_failure not in ("ABORT", "CONTINUE"):
            raise BuildspecError(f"phases.{name}.on-failure {on_failure!r}: ABORT or CONTINUE")
        phases.append(
            Phase(
                name,
                _strings(raw.get("commands"), f"phases.{name}.commands"),
                _strings(raw.get("finally"), f"phases.{name}.finally"),
                on_failure,
            )
        )

    reports = []
    for name, raw in _mapping(data.get("reports"), "reports").items():
        raw = _mapping(raw, f"reports.{name}")
        file_format = str(raw.get("file-format", "JUNITXML")).upper()
        if file_format not in TEST_FORMATS | COVERAGE_FORMATS:
            raise BuildspecError(f"reports.{name}: unknown file-format {file_format}")
        files = _strings(raw.get("files"), f"reports.{name}.files")
        if not files:
            raise BuildspecError(f"reports.{name}: no files")
        reports.append(
            ReportGroup(
                str(name),
                files,
                str(raw.get("base-directory", ".")),
                file_format,
                str(raw.get("discard-paths", "no")).lower() in ("yes", "true"),
            )
        )

    cache = _mapping(data.get("cache"), "cache")
    cache_paths = _strings(cache.get("paths"), "cache.paths")
    absolute = [p for p in cache_paths if p.startswith("/")]
    if absolute:
        notes.append(f"cache.paths {', '.join(absolute)}: this machine's own directories, which persist")
    return Buildspec(variables, exported, tuple(phases), tuple(reports), cache_paths, tuple(notes))


# --- the phases ----------------------------------------------------------------------------------


class Shell(Protocol):
    """Where commands run: one shell whose state carries from command to command."""

    def run(self, command: str) -> int: ...
    def set_env(self, name: str, value: str) -> None: ...
    def environment(self) -> dict[str, str]: ...
    def say(self, line: str) -> None: ...


@dataclass
class CommandResult:
    phase: str
    command: str
    exit_status: int
    seconds: float


@dataclass
class PhaseResult:
    name: str
    status: str  # SUCCEEDED, FAILED, SKIPPED, TIMED_OUT
    seconds: float = 0.0
    commands: list[CommandResult] = field(default_factory=list)

    @property
    def failed_command(self) -> CommandResult | None:
        return next((c for c in self.commands if c.exit_status != 0), None)


class TimedOut(Exception):
    pass


def _run_commands(
    phase: str, commands: Iterable[str], shell: Shell, clock: Callable[[], float]
) -> tuple[bool, list[CommandResult]]:
    results = []
    for command in commands:
        started = clock()
        status = shell.run(command)
        results.append(CommandResult(phase, command, status, round(clock() - started, 1)))
        if status != 0:
            shell.say(
                f"Command did not exit successfully {command.strip().splitlines()[0]} exit status {status}"
            )
            return False, results
    return True, results


def run_phases(
    spec: Buildspec, shell: Shell, clock: Callable[[], float] = time.monotonic
) -> list[PhaseResult]:
    """CodeBuild's phase semantics over ``shell``: one result per phase, in order."""
    results: list[PhaseResult] = []
    ended = False  # a failed install/pre_build (ABORT) ends the build
    failing = False
    for name in PHASES:
        phase = spec.phase(name)
        if ended:
            results.append(PhaseResult(name, "SKIPPED"))
            continue
        if phase is None:
            continue
        shell.say(f"Entering phase {name.upper()}")
        started = clock()
        try:
            ok, commands = _run_commands(name, phase.commands, shell, clock)
            finally_ok, more = _run_commands(name, phase.finally_, shell, clock)
        except TimedOut:
            results.append(PhaseResult(name, "TIMED_OUT", round(clock() - started, 1)))
            ended = True
            continue
        result = PhaseResult(
            name, "SUCCEEDED" if ok and finally_ok else "FAILED", round(clock() - started, 1), commands + more
        )
        results.append(result)
        shell.say(f"Phase complete: {name.upper()} State: {result.status}")
        if result.status == "FAILED":
            if not failing:
                failing = True
                shell.set_env("CODEBUILD_BUILD_SUCCEEDING", "0")
            if phase.on_failure == "ABORT" and name in ENDS_THE_BUILD:
                ended = True
    return results


def cache_directory(pattern: str) -> str | None:
    """The directory a relative cache path names (``var/tools/**/*`` -> ``var/tools``);
    None for an absolute path (the machine's own) or one that names no directory."""
    if pattern.startswith("/"):
        return None
    parts = []
    for part in Path(pattern).parts:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return str(Path(*parts)) if parts and parts != ["."] else None


def link_cache(spec: Buildspec, src: Path, store: Path) -> list[str]:
    """CodeBuild's local custom cache: each relative cache directory of the source is a
    symlink into the project's cache store, so what one build leaves there the next one
    finds. Returns what was done, for the log."""
    lines = []
    for pattern in spec.cache_paths:
        relative = cache_directory(pattern)
        if relative is None:
            continue
        target, stored = src / relative, store / relative
        if target.exists() or target.is_symlink():
            lines.append(f"cache {pattern}: {relative} is in the source already, not linked")
            continue
        warm = stored.is_dir() and any(stored.iterdir())
        stored.mkdir(parents=True, exist_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(stored, target_is_directory=True)
        lines.append(f"cache {pattern}: {relative} -> {stored} ({'warm' if warm else 'empty'})")
    return lines


def build_status(phases: list[PhaseResult]) -> str:
    if any(p.status == "TIMED_OUT" for p in phases):
        return "TIMED_OUT"
    return "FAILED" if any(p.status == "FAILED" for p in phases) else "SUCCEEDED"


def exported_values(names: Iterable[str], environment: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(the exported variables' values, the names that were never set)."""
    names = list(names)
    return {n: environment[n] for n in names if n in environment}, [n for n in names if n not in environment]


def environment_for(
    system: dict[str, str], spec: Buildspec, project: dict[str, str], action: dict[str, str]
) -> dict[str, str]:
    """CodeBuild's precedence: buildspec < project < action (start-build override)."""
    return {**system, **spec.variables, **project, **action}


# --- reports ---------------------------------------------------------------------------------------


@dataclass
class ReportResult:
    group: str
    file_format: str
    files: list[str]
    status: str  # SUCCEEDED, FAILED (a test failed), MISSING (no file), INVALID (unreadable)
    summary: dict[str, float] = field(default_factory=dict)
    problem: str = ""


def junit_counts(path: Path) -> dict[str, float]:
    """Test cases by status, as a CodeBuild test report counts them."""
    root = ET.parse(path).getroot()  # noqa: S314 (a file this build wrote)
    counts = {"total": 0, "succeeded": 0, "failed": 0, "error": 0, "skipped": 0}
    for case in root.iter("testcase"):
        counts["total"] += 1
        children = {child.tag for child in case}
        if "failure" in children:
            counts["failed"] += 1
        elif "error" in children:
            counts["error"] += 1
        elif "skipped" in children:
            counts["skipped"] += 1
        else:
            counts["succeeded"] += 1
    if root.tag not in ("testsuites", "testsuite"):
        raise ValueError(f"root element <{root.tag}>, not <testsuites> or <testsuite>")
    return counts


def cobertura_rates(path: Path) -> dict[str, float]:
    root = ET.parse(path).getroot()  # noqa: S314 (a file this build wrote)
    if root.tag != "coverage" or "line-rate" not in root.attrib:
        raise ValueError(f"root element <{root.tag}> without line-rate: not Cobertura XML")
    rates = {"line_rate": float(root.attrib["line-rate"]), "branch_rate": float(root.get("branch-rate", 0))}
    for key in ("lines-covered", "lines-valid"):
        if key in root.attrib:
            rates[key.replace("-", "_")] = int(root.attrib[key])
    return rates


def collect_report(group: ReportGroup, src: Path) -> ReportResult:
    base = src / group.base_directory
    files = sorted(
        {
            str(Path(group.base_directory) / match)
            for pattern in group.files
            for match in glob.glob(pattern, root_dir=base, recursive=True)
            if (base / match).is_file()
        }
    )
    if not files:
        return ReportResult(
            group.name,
            group.file_format,
            [],
            "MISSING",
            problem=f"no file matches {list(group.files)} in {base}",
        )
    summary: dict[str, float] = {}
    try:
        for name in files:
            if group.file_format == "JUNITXML":
                for key, value in junit_counts(src / name).items():
                    summary[key] = summary.get(key, 0) + value
            elif group.file_format == "COBERTURAXML":
                summary = cobertura_rates(src / name)  # one file: a second would be another report
    except (ET.ParseError, ValueError, OSError) as error:
        return ReportResult(group.name, group.file_format, files, "INVALID", summary, problem=str(error))
    failed = summary.get("failed", 0) + summary.get("error", 0)
    return ReportResult(group.name, group.file_format, files, "FAILED" if failed else "SUCCEEDED", summary)


def report_line(project: str, report: ReportResult) -> str:
    s = report.summary
    if report.status in ("MISSING", "INVALID"):
        detail = report.problem
    elif report.file_format == "JUNITXML":
        detail = (
            f"{s['total']:.0f} test cases: {s['succeeded']:.0f} succeeded, {s['failed']:.0f} failed, "
            f"{s['error']:.0f} error, {s['skipped']:.0f} skipped"
        )
    elif report.file_format == "COBERTURAXML":
        detail = f"line coverage {s['line_rate']:.1%}, branch coverage {s['branch_rate']:.1%}"
    else:
        detail = "not parsed by this runner"
    files = ", ".join(report.files)
    return f"report group {project}-{report.group} ({report.file_format}): {report.status}: {files}; {detail}"


# --- bash ------------------------------------------------------------------------------------------

# The shell: reads NUL-terminated messages on fd 63, answers each with its exit status on
# fd 62. "R<command>" is a buildspec command (logged as CodeBuild logs it), "Q<command>"
# the runner's own. Neither descriptor is open while a command runs.
_BOOT = r"""
exec 63<&@CTL@ 62>&@STATUS@
exec @CTL@<&- @STATUS@>&-
__cb_log() { printf '[Container] %(%Y/%m/%d %H:%M:%S)T %s\n' -1 "$1"; }
while IFS= read -r -d '' __cb_m <&63; do
  case "$__cb_m" in
    R*) __cb_log "Running command ${__cb_m#R}"; eval "${__cb_m#R}" 63<&- 62>&- ;;
    *) eval "${__cb_m#Q}" 63<&- 62>&- ;;
  esac
  printf '%s\0' "$?" >&62
done
"""


class BashShell:
    """One bash process for the whole build (restarted only if a command ends it)."""

    def __init__(self, cwd: Path, env: dict[str, str], out: Callable[[str], None], timeout: float) -> None:
        self.cwd = cwd
        self.env = dict(env)
        self.out = out
        self.deadline = time.monotonic() + timeout
        self.state = Path(cwd).parent / f".runner-{uuid.uuid4().hex[:8]}"
        self.proc: subprocess.Popen | None = None
        self.timed_out = False

    # the process ----------------------------------------------------------------------------
    def _start(self) -> None:
        if self.proc is not None:  # a restart: the old shell's pipes are done with
            for fd in (self.ctl, self.status):
                with contextlib.suppress(OSError):
                    os.close(fd)
        ctl_r, self.ctl = os.pipe()
        self.status, status_w = os.pipe()
        self.proc = subprocess.Popen(  # noqa: S603 (bash, with our own script)
            [
                BASH,
                "--noprofile",
                "--norc",
                "-c",
                _BOOT.replace("@CTL@", str(ctl_r)).replace("@STATUS@", str(status_w)),
            ],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(ctl_r, status_w),
            start_new_session=True,
        )
        os.close(ctl_r)
        os.close(status_w)
        self.reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.out(raw.decode(errors="replace").rstrip("\n"))

    def _alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _send(self, kind: str, command: str) -> int:
        if not self._alive():
            if self.proc is not None:
                self._restart_from_snapshot()
            self._start()
        os.write(self.ctl, (kind + command).encode() + b"\0")
        answer = b""
        timer = threading.Timer(max(0.0, self.deadline - time.monotonic()), self._time_out)
        timer.start()
        try:
            while not answer.endswith(b"\0"):
                chunk = os.read(self.status, 64)
                if not chunk:  # the shell ended: the command called exit, or was killed
                    code = self.proc.wait()
                    if self.timed_out:
                        raise TimedOut()
                    return code if code >= 0 else 128 - code
                answer += chunk
        finally:
            timer.cancel()
        return int(answer[:-1])

    def _time_out(self) -> None:
        self.timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _snapshot(self) -> None:
        self._send("Q", f"{{ pwd; env -0; }} > {shlex.quote(str(self.state))} 2>/dev/null")

    def _restart_from_snapshot(self) -> None:
        self.out("[Container] the shell ended: starting a new one with the last environment")
        with contextlib.suppress(OSError, ValueError):
            cwd, _, env = self.state.read_text().partition("\n")
            self.cwd = Path(cwd)
            self.env = dict(item.split("=", 1) for item in env.split("\0") if "=" in item)

    # the Shell protocol ---------------------------------------------------------------------
    def run(self, command: str) -> int:
        status = self._send("R", command)
        if self._alive():
            self._snapshot()
        return status

    def set_env(self, name: str, value: str) -> None:
        self._send("Q", f"export {name}={shlex.quote(value)}")
        self._snapshot()

    def environment(self) -> dict[str, str]:
        if self._alive():
            self._snapshot()
        _, _, env = self.state.read_text().partition("\n") if self.state.exists() else ("", "", "")
        return dict(item.split("=", 1) for item in env.split("\0") if "=" in item)

    def say(self, line: str) -> None:
        self._send("Q", f"__cb_log {shlex.quote(line)}")

    def close(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(OSError):
            os.close(self.ctl)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        # Something the build started in the background may still hold the output open:
        # it is not waited for (a container would be gone; this machine's services stay).
        self.reader.join(timeout=2)
        with contextlib.suppress(OSError):
            os.close(self.status)
        self.state.unlink(missing_ok=True)


# --- one build --------------------------------------------------------------------------------------


@dataclass
class BuildResult:
    project: str
    status: str
    seconds: float
    phases: list[PhaseResult]
    exported: dict[str, str]
    missing_exports: list[str]
    reports: list[ReportResult]
    log: str
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "project": self.project,
            "status": self.status,
            "seconds": self.seconds,
            "phases": [
                {
                    "name": p.name,
                    "status": p.status,
                    "seconds": p.seconds,
                    "commands": [vars(c) for c in p.commands],
                }
                for p in self.phases
            ],
            "exported": self.exported,
            "missing_exports": self.missing_exports,
            "reports": [vars(r) for r in self.reports],
            "log": self.log,
            "notes": list(self.notes),
        }


def codebuild_environment(project: str, src: Path, region: str, build_number: int) -> dict[str, str]:
    """What CodeBuild itself puts in a build's environment (those the buildspecs could use)."""
    build_id = f"{project}:{uuid.uuid4()}"
    return {
        "CODEBUILD_BUILD_ID": build_id,
        "CODEBUILD_BUILD_NUMBER": str(build_number),
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "CODEBUILD_INITIATOR": "codepipeline/chairtime",
        "CODEBUILD_SRC_DIR": str(src),
        "CODEBUILD_START_TIME": str(int(time.time() * 1000)),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }


def run_build(
    project: str,
    buildspec: Path,
    src: Path,
    *,
    system: dict[str, str],
    project_env: dict[str, str] | None = None,
    action_env: dict[str, str] | None = None,
    timeout_minutes: float = 60,
    log: Path,
    cache: Path | None = None,
    echo: Callable[[str], None] = print,
) -> BuildResult:
    """Run ``buildspec`` in ``src`` (its CODEBUILD_SRC_DIR), writing the whole log to ``log``."""
    spec = parse_buildspec(buildspec.read_text())
    env = environment_for(system, spec, project_env or {}, action_env or {})
    log.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    with log.open("w") as sink:

        def out(line: str) -> None:
            with lock:
                sink.write(line + "\n")
                sink.flush()
                echo(line)

        for note in spec.notes:
            out(f"[runner] {note}")
        for line in link_cache(spec, src, cache) if cache else []:
            out(f"[runner] {line}")
        started = time.monotonic()
        shell = BashShell(src, env, out, timeout_minutes * 60)
        try:
            phases = run_phases(spec, shell)
            status = build_status(phases)
            final = {} if status == "TIMED_OUT" else shell.environment()
        finally:
            shell.close()
        exported, missing = exported_values(spec.exported, final)
        reports = [collect_report(group, src) for group in spec.reports]
        for report in reports:
            out(f"[runner] {report_line(project, report)}")
        for name, value in exported.items():
            out(f"[runner] exported variable {name}={value}")
        for name in missing:
            out(f"[runner] exported variable {name} was never set")
        seconds = round(time.monotonic() - started, 1)
        out(f"[runner] build {project} {status} in {seconds} s")
    return BuildResult(project, status, seconds, phases, exported, missing, reports, str(log), spec.notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("buildspec", type=Path)
    parser.add_argument("--src", type=Path, default=Path.cwd(), help="the source directory (default: here)")
    parser.add_argument(
        "--project", default="local", help="the project name (report groups are named after it)"
    )
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a project variable")
    parser.add_argument("--timeout", type=float, default=60, help="minutes (60)")
    parser.add_argument("--log", type=Path, help="default: var/pipeline-local/<project>.log")
    parser.add_argument("--cache", type=Path, help="the project's local custom cache store (none by default)")
    args = parser.parse_args()
    src = args.src.resolve()
    buildspec = args.buildspec if args.buildspec.is_absolute() else src / args.buildspec
    region = os.environ.get("AWS_REGION", "us-east-1")
    try:
        result = run_build(
            args.project,
            buildspec,
            src,
            system={**os.environ, **codebuild_environment(args.project, src, region, 1)},
            project_env=dict(item.split("=", 1) for item in args.env),
            timeout_minutes=args.timeout,
            log=args.log or src / "var/pipeline-local" / f"{args.project}.log",
            cache=args.cache,
        )
    except BuildspecError as error:
        print(f"runner: {buildspec}: {error}", file=sys.stderr)
        return 2
    return 0 if result.status == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
