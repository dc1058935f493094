"""Score a final workspace with a task's hidden tests in a fresh sandbox.

The hidden tests enter only this scoring container, after the agent has
finished. The harness writes JUnit XML to /results, and the score is the
fraction of tests that passed.
"""

import logging
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

JUNIT_MAX_BYTES = 4 * 1024 * 1024
OUTPUT_TAIL_CHARS = 8000


@dataclass(frozen=True)
class Score:
    """The result of running hidden tests on a workspace."""

    score: float
    resolved: bool
    passed: int
    total: int
    outcome: str
    """ok | test_timeout | harness_error | sandbox_error"""
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
                run = sandbox.exec(
                    ["python3", "-I", "/input/harness/harness.py"],
                    timeout_s=task.test_timeout_s,
                    workdir="/workspace",
                )
                junit = sandbox.exec(
                    ["cat", "/results/junit.xml"], timeout_s=30, output_bytes=JUNIT_MAX_BYTES
                )
        except SandboxError as error:
            log.warning("scoring %s failed: %s", task.id, error)
            return Score(0.0, False, 0, 0, "sandbox_error", str(error))

    output = run.output[-OUTPUT_TAIL_CHARS:]
    if run.outcome == "timeout":
        return Score(0.0, False, 0, 0, "test_timeout", output)
    if junit.exit_code != 0 or junit.truncated:
        return Score(0.0, False, 0, 0, "harness_error", output)
    return _score_from_junit(junit.output, task, output)


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
