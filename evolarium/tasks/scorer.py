"""Score a final workspace with a task's hidden tests in a fresh sandbox.

The hidden tests enter only this scoring container, after the agent has
finished. The harness writes JUnit XML to /results, and the score is the
fraction of tests that passed.
"""

import base64
import logging
import re
import secrets
import shutil
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import docker

from evolarium.sandbox import Limits, Mount, SandboxError, open_sandbox
from evolarium.sandbox.staging import share_read_only
from evolarium.tasks.task import Task

log = logging.getLogger(__name__)

HARNESS_OUTPUT_BYTES = 8 * 1024 * 1024
PYTEST_ALL_PASSED = 0
PYTEST_SOME_FAILED = 1
PYTEST_INTERRUPTED = 2
OUTPUT_TAIL_CHARS = 8000


@dataclass(frozen=True)
class Score:
    """The result of running hidden tests on a workspace."""

    score: float
    resolved: bool
    passed: int
    total: int
    outcome: str
    """ok | collection_error | test_timeout | harness_error | inconsistent_results |
    sandbox_error"""
    output: str


def score_workspace(
    client: docker.DockerClient,
    image: str,
    task: Task,
    workspace: Path,
    *,
    run_id: str,
    limits: Limits | None = None,
) -> Score:
    """Run ``task``'s hidden tests against ``workspace`` and return the score."""
    limits = limits or Limits(timeout_s=task.test_timeout_s)
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="evolarium-score-") as staging_dir:
        staging = Path(staging_dir)
        _stage(staging, task, workspace)
        mounts = [Mount(staging, "/input")]
        try:
            with open_sandbox(
                client, image, run_id=run_id, purpose="score", mounts=mounts, limits=limits
            ) as sandbox:
                sandbox.copy_in("/input/workspace", "/workspace")
                sandbox.copy_in("/input/tests", "/hidden/tests")
                _write_nonce(sandbox, nonce)
                run = sandbox.exec(
                    ["python3", "-I", "/input/harness/harness.py"],
                    timeout_s=task.test_timeout_s,
                    workdir="/workspace",
                    output_bytes=HARNESS_OUTPUT_BYTES,
                )
        except SandboxError as error:
            log.warning("scoring %s failed: %s", task.id, error)
            return Score(0.0, False, 0, 0, "sandbox_error", str(error))

    if run.outcome == "timeout":
        return Score(0.0, False, 0, 0, "test_timeout", run.output[-OUTPUT_TAIL_CHARS:])
    return _score_from_output(run, nonce, task)


def _write_nonce(sandbox, nonce: str) -> None:
    # The nonce is visible only to this short command, which ends before workspace code runs.
    result = sandbox.exec(
        ["sh", "-c", 'printf %s "$0" > /results/nonce', nonce], timeout_s=30, workdir="/"
    )
    if result.exit_code != 0:
        raise SandboxError(f"cannot write the scoring nonce: {result.output.strip()}")


def _score_from_output(run, nonce: str, task: Task) -> Score:
    """Find the harness's results frame in its output and score the JUnit XML inside it."""
    pattern = re.compile(
        rf"EVOLARIUM-RESULTS {nonce} (?P<code>-?\d+) (?P<xml>[A-Za-z0-9+/=]*) END-{nonce}"
    )
    frames = list(pattern.finditer(run.output))
    output = pattern.sub("", run.output)[-OUTPUT_TAIL_CHARS:]
    if len(frames) != 1:
        return Score(0.0, False, 0, 0, "harness_error", "the harness did not finish\n" + output)
    frame = frames[0]
    code = int(frame["code"])
    if code != run.exit_code:
        return Score(
            0.0, False, 0, 0, "harness_error", "the harness exit code was changed\n" + output
        )
    if code == PYTEST_INTERRUPTED:
        # Usually the workspace failed to import, so the tests could not be collected.
        total = task.expected_tests or 0
        return Score(0.0, False, 0, total, "collection_error", output)
    if code not in (PYTEST_ALL_PASSED, PYTEST_SOME_FAILED):
        return Score(0.0, False, 0, 0, "harness_error", f"pytest exit code {code}\n" + output)

    xml_text = base64.b64decode(frame["xml"]).decode("utf-8", errors="replace")
    score = _score_from_junit(xml_text, task, output)
    if score.outcome == "ok" and score.resolved != (code == PYTEST_ALL_PASSED):
        # pytest's own exit code and its report disagree: the run was tampered with.
        return Score(0.0, False, 0, score.total, "inconsistent_results", output)
    return score


def _stage(staging: Path, task: Task, workspace: Path) -> None:
    shutil.copytree(workspace, staging / "workspace", symlinks=False)
    shutil.copytree(task.tests, staging / "tests", symlinks=False)
    harness_dir = staging / "harness"
    harness_dir.mkdir()
    harness = resources.files("evolarium.tasks") / "harness.py"
    (harness_dir / "harness.py").write_text(harness.read_text(encoding="utf-8"))
    (harness_dir / "pytest.ini").write_text("[pytest]\n")
    share_read_only(staging)


def _score_from_junit(xml_text: str, task: Task, output: str) -> Score:
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError as error:
        return Score(0.0, False, 0, 0, "harness_error", f"invalid JUnit XML: {error}\n{output}")

    total = 0
    passed = 0
    for case in root.iter("testcase"):
        total += 1
        failed = any(case.find(tag) is not None for tag in ("failure", "error", "skipped"))
        passed += 0 if failed else 1
    # A collection error shows up as an <error> on the suite with no test cases.
    expected = task.expected_tests or 0
    denominator = max(total, expected)
    if denominator == 0:
        return Score(0.0, False, 0, 0, "harness_error", "no tests ran\n" + output)
    score = passed / denominator
    resolved = passed == denominator
    return Score(score, resolved, passed, denominator, "ok", output)
