"""Score a final workspace with a task's hidden tests in a fresh sandbox.

The hidden tests enter only the scoring container, after the agent has
finished. Scoring containers come from a warm pool: each was started ahead of
use and runs the harness (``harness.py``), which has pytest imported and waits
for one request. The request carries the workspace and the tests as a tar
stream; the reply is one JSON line with the pytest exit status, the JUnit XML,
the capped output and the limits that were hit. A container serves one
request and is then removed, so no state passes between evaluations.
"""

import atexit
import base64
import binascii
import io
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import docker

from evolarium.sandbox import Limits, Mount, SandboxError
from evolarium.sandbox.container import printable
from evolarium.sandbox.pool import Reply, WarmPool
from evolarium.sandbox.profile import confined
from evolarium.sandbox.staging import share_read_only
from evolarium.tasks.integrity import defined_test_names, inspect_workspace
from evolarium.tasks.task import PYTEST_COMMAND, Task

log = logging.getLogger(__name__)

PYTEST_ALL_PASSED = 0
PYTEST_SOME_FAILED = 1
PYTEST_INTERRUPTED = 2
# Exit codes of the harness's child before pytest runs (see harness.py).
HARNESS_UNPACK_FAILED = 90
HARNESS_DISK_FULL = 91
OUTPUT_TAIL_CHARS = 8000
TEST_OUTPUT_BYTES = 256 * 1024
"""Bytes of the tests' output that the harness keeps: the first and the last half."""
JUNIT_LINE = re.compile(r"^-+ generated xml file: \S+ -+\n?", re.MULTILINE)
"""The line where pytest names the JUnit file, whose name is random."""
DURATION = re.compile(
    r"( (?:passed|failed|errors?|skipped|xfailed|xpassed|deselected)) in [0-9.]+s"
    r"(?: \([0-9:]+\))?"
)
"""pytest's time at the end of its summary line."""
REPLY_MAX_BYTES = 8 * 1024 * 1024
POOL_SIZE_ENV = "EVOLARIUM_POOL_SIZE"
DEFAULT_POOL_SIZE = 2
POOL_IDLE_ENV = "EVOLARIUM_POOL_IDLE_S"
DEFAULT_POOL_IDLE_S = 300
"""Seconds a warm container waits for its request before it ends by itself."""
HARNESS_MOUNT = "/opt/evolarium"
# The harness runs as root only to drop to the sandbox user and to kill what is left.
HARNESS_CAPABILITIES = ("SETUID", "SETGID", "KILL")
HARNESS_READY_LINE = b"evolarium-harness-ready\n"
"""The line harness.py writes to stderr once pytest is warm (its READY_LINE)."""


# The harness runs this once before its request, so pytest is warm when the request comes.
WARM_UP_TEST = """\
import pytest


@pytest.mark.parametrize("value", [1, 2])
def test_warm_up(value):
    assert value > 0
"""


@dataclass(frozen=True)
class Score:
    """The result of running hidden tests on a workspace."""

    score: float
    resolved: bool
    passed: int
    total: int
    outcome: str
    """ok | tampering | collection_error | test_timeout | oom | pids | disk | output_limit |
    harness_error | inconsistent_results | sandbox_error"""
    output: str
    tampering: str | None = None
    """Findings of the integrity checks when the workspace tried to game the scorer (score 0)."""


def steady_output(output: str) -> str:
    """Drop what changes from one scoring to the next: the JUnit file name and durations.

    Operators quote the test output in their prompts, and a prompt that changes with the
    clock would give each replayed request a new key.
    """
    output = JUNIT_LINE.sub("", output)
    return DURATION.sub(r"\1", output)


def _tampered(findings: list[str], task: Task, output: str = "") -> Score:
    note = "\n".join(findings)
    total = task.expected_tests or 0
    return Score(0.0, False, 0, total, "tampering", f"{note}\n{output}".strip(), tampering=note)


def score_workspace(
    client: docker.DockerClient,
    image: str,
    task: Task,
    workspace: Path,
    *,
    run_id: str,
    limits: Limits | None = None,
    evaluation_id: str = "none",
) -> Score:
    """Run ``task``'s hidden tests against ``workspace`` and return the score."""
    limits = limits or Limits(timeout_s=task.test_timeout_s)
    findings = inspect_workspace(task, workspace)
    if findings:
        return _tampered(findings, task)
    payload = _payload(task, workspace)
    too_big = _check_size(payload, workspace, limits)
    if too_big is not None:
        return too_big

    header = {
        "size": len(payload),
        "timeout_s": task.test_timeout_s,
        "output_bytes": TEST_OUTPUT_BYTES,
        "command": task.test_command,
    }
    try:
        pool = scoring_pool(client, image, run_id, limits)
        warm = pool.take(evaluation_id)
        try:
            reply = warm.request(
                header, payload, timeout_s=task.test_timeout_s, max_reply_bytes=REPLY_MAX_BYTES
            )
        finally:
            pool.release(warm)
    except SandboxError as error:
        log.warning("scoring %s failed: %s", task.id, error)
        return Score(0.0, False, 0, 0, "sandbox_error", str(error))
    return _score_from_reply(reply, task)


def _payload(task: Task, workspace: Path) -> bytes:
    """Pack the workspace and the hidden tests into one uncompressed tar stream."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(workspace, arcname="workspace", filter=_plain_member)
        tar.add(task.tests, arcname="tests", filter=_plain_member)
    return buffer.getvalue()


def _plain_member(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Keep regular source files and directories, with owner ids cleared.

    Bytecode is dropped: Python can load a ``.pyc`` without reading its source,
    so a stale or hand-made one could run code that no check has seen.
    """
    if not (member.isreg() or member.isdir()):
        return None
    name = member.name.rsplit("/", 1)[-1]
    if name == "__pycache__" or name.endswith((".pyc", ".pyo")):
        return None
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def _check_size(payload: bytes, workspace: Path, limits: Limits) -> "Score | None":
    """Refuse a payload that cannot fit the /workspace and /hidden mounts together."""
    cap = 2 * limits.workspace_mb * 1024 * 1024
    if len(payload) <= cap:
        return None
    message = (
        f"the workspace {workspace} and the tests take {len(payload) // (1024 * 1024)} MB, "
        f"more than the sandbox's /workspace and /hidden ({limits.workspace_mb} MB each) hold; "
        f"make the workspace smaller or raise the limit with --workspace-mb"
    )
    return Score(0.0, False, 0, 0, "disk", message)


def _score_from_reply(reply: Reply, task: Task) -> Score:
    """Turn the harness's JSON reply into a score with a typed outcome."""
    if reply.killed:
        return Score(0.0, False, 0, 0, "test_timeout", "the scoring container overran its time")
    try:
        result = json.loads(reply.stdout.decode("utf-8").strip().splitlines()[-1])
        if result.get("unpack_failed"):
            outcome = "disk" if result["exit_code"] == HARNESS_DISK_FULL else "harness_error"
            return Score(0.0, False, 0, 0, outcome, "cannot unpack the hidden tests")
        output = printable(base64.b64decode(result["output"]))
    except (ValueError, IndexError, KeyError, binascii.Error):
        detail = printable(reply.stderr)[-OUTPUT_TAIL_CHARS:]
        return Score(0.0, False, 0, 0, "harness_error", "the harness did not reply\n" + detail)
    output = steady_output(output)[-OUTPUT_TAIL_CHARS:]
    code = result["exit_code"]

    if result.get("stray_results"):
        names = ", ".join(result["stray_results"])
        return _tampered([f"wrote files into the harness's results directory: {names}"], task)
    if result["timed_out"]:
        # A limit hit on the way (a fork bomb that spins on failed forks) names the cause.
        limit = _limit_outcome(result)
        note = f"the tests ran past {task.test_timeout_s:g} s and were killed\n"
        return Score(0.0, False, 0, 0, limit or "test_timeout", note + output)
    if code == HARNESS_DISK_FULL:
        return Score(0.0, False, 0, 0, "disk", output)
    if code is None or code == HARNESS_UNPACK_FAILED:
        limit = _limit_outcome(result)
        detail = f"the tests were killed by signal {result['signal']}\n" if code is None else ""
        return Score(0.0, False, 0, 0, limit or "harness_error", detail + output)

    if task.test_command == PYTEST_COMMAND:
        score = _score_from_exit(code, result, task, output)
    else:
        score = _score_from_command(code, result, task, output)
    limit = _limit_outcome(result)
    if limit and not score.resolved:
        return replace(score, outcome=limit)
    return score


def _limit_outcome(result: dict) -> str | None:
    """Name the sandbox limit the tests ran into, if any."""
    if result.get("oom"):
        return "oom"
    if result.get("pids_limit"):
        return "pids"
    if result.get("disk_full"):
        return "disk"
    if result.get("output_bytes", 0) > TEST_OUTPUT_BYTES:
        return "output_limit"
    return None


def _score_from_command(code: int, result: dict, task: Task, output: str) -> Score:
    """Score a task's own test command: by its JUnit XML if it wrote one, else by its status."""
    if result.get("junit"):
        xml_text = base64.b64decode(result["junit"]).decode("utf-8", errors="replace")
        return _score_from_junit(xml_text, task, output)
    if task.expected_tests not in (None, 1):
        message = f"the test command wrote no JUnit XML; the task expects {task.expected_tests}"
        return Score(0.0, False, 0, task.expected_tests, "harness_error", f"{message}\n{output}")
    passed = 1 if code == 0 else 0
    return Score(float(passed), passed == 1, passed, 1, "ok", output)


def _score_from_exit(code: int, result: dict, task: Task, output: str) -> Score:
    if code == PYTEST_INTERRUPTED:
        # Usually the workspace failed to import, so the tests could not be collected.
        total = task.expected_tests or 0
        return Score(0.0, False, 0, total, "collection_error", output)
    if code not in (PYTEST_ALL_PASSED, PYTEST_SOME_FAILED):
        return Score(0.0, False, 0, 0, "harness_error", f"pytest exit code {code}\n" + output)
    if not result.get("junit"):
        # pytest writes its report before it exits; a test process that ends with pytest's
        # own exit code and no report was ended early on purpose.
        finding = f"the test process exited with code {code} before pytest wrote its report"
        return _tampered([finding], task, output)

    xml_text = base64.b64decode(result["junit"]).decode("utf-8", errors="replace")
    score = _score_from_junit(xml_text, task, output)
    if score.tampering:
        return score
    if score.outcome == "ok" and score.resolved != (code == PYTEST_ALL_PASSED):
        # pytest's own exit code and its report disagree: the run was tampered with.
        return Score(0.0, False, 0, score.total, "inconsistent_results", output)
    return score


_pools: dict[tuple, WarmPool] = {}
_pools_lock = threading.Lock()
_harness_dir: Path | None = None


def scoring_pool(client: docker.DockerClient, image: str, run_id: str, limits: Limits) -> WarmPool:
    """Return this process's warm pool of scoring containers for a run and its limits."""
    key = (id(client), image, run_id, replace(limits, timeout_s=0.0))
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            idle_s = pool_idle_s()
            pool = WarmPool(
                client,
                image,
                run_id=run_id,
                purpose="score",
                command=confined(["python3", "-I", f"{HARNESS_MOUNT}/harness.py", str(idle_s)]),
                mounts=[Mount(_harness_files(), HARNESS_MOUNT)],
                limits=limits,
                size=pool_size(),
                idle_s=idle_s,
                cap_add=HARNESS_CAPABILITIES,
                ready_line=HARNESS_READY_LINE,
            )
            _pools[key] = pool
    return pool


def pool_size() -> int:
    """Warm scoring containers to keep ready: ``EVOLARIUM_POOL_SIZE`` or the default."""
    return _whole_number(
        POOL_SIZE_ENV, DEFAULT_POOL_SIZE, 0, "0 or more (0 starts each container on demand)"
    )


def pool_idle_s() -> int:
    """Seconds a warm container waits for a request: ``EVOLARIUM_POOL_IDLE_S`` or the default."""
    return _whole_number(POOL_IDLE_ENV, DEFAULT_POOL_IDLE_S, 5, "5 seconds or more")


def _whole_number(name: str, default: int, minimum: int, hint: str) -> int:
    value = os.environ.get(name, str(default)).strip()
    if not value.isdigit() or int(value) < minimum:
        raise SandboxError(f"{name}={value!r} is not valid; set it to a whole number, {hint}")
    return int(value)


def close_scoring_pools(run_id: str | None = None, *, keep_run: str | None = None) -> None:
    """Remove the warm scoring containers of one run, or of every run but ``keep_run``."""
    with _pools_lock:
        keys = [
            key
            for key in _pools
            if (run_id is None or key[2] == run_id) and (keep_run is None or key[2] != keep_run)
        ]
        pools = [_pools.pop(key) for key in keys]
    for pool in pools:
        pool.close()


def _harness_files() -> Path:
    """Write the harness and an empty pytest ini to a directory shared with the containers."""
    global _harness_dir
    if _harness_dir is None:
        directory = Path(tempfile.mkdtemp(prefix="evolarium-harness-"))
        harness = resources.files("evolarium.tasks") / "harness.py"
        (directory / "harness.py").write_text(harness.read_text(encoding="utf-8"))
        (directory / "pytest.ini").write_text("[pytest]\n")
        (directory / "warmup").mkdir()
        (directory / "warmup" / "test_warmup.py").write_text(WARM_UP_TEST)
        share_read_only(directory)
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _harness_dir = directory
    return _harness_dir


atexit.register(close_scoring_pools)


def _score_from_junit(xml_text: str, task: Task, output: str) -> Score:
    """Count passed test cases in pytest's JUnit XML and check them against the task."""
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError as error:
        return Score(0.0, False, 0, 0, "harness_error", f"invalid JUnit XML: {error}\n{output}")

    cases = list(root.iter("testcase"))
    # Only pytest reports can be checked against the test functions in the task's files.
    unknown = _unknown_tests(cases, task) if task.test_command == PYTEST_COMMAND else set()
    if unknown:
        names = ", ".join(sorted(unknown)[:5])
        return _tampered([f"the test report names tests the task does not have: {names}"], task)

    total = len(cases)
    passed = sum(
        1
        for case in cases
        if not any(case.find(tag) is not None for tag in ("failure", "error", "skipped"))
    )
    expected = task.expected_tests
    if expected is not None and total != expected:
        message = f"pytest ran {total} tests; the task expects {expected}\n"
        return Score(0.0, False, 0, expected, "inconsistent_results", message + output)
    if total == 0:
        return Score(0.0, False, 0, 0, "harness_error", "no tests ran\n" + output)
    return Score(passed / total, passed == total, passed, total, "ok", output)


def _unknown_tests(cases: list, task: Task) -> set[str]:
    """Return report names whose test function is not defined in the task's hidden tests."""
    defined = defined_test_names(task.tests)
    names = {case.get("name", "") for case in cases}
    return {name for name in names if name.split("[", 1)[0] not in defined}
