"""Scoring with hidden tests in a fresh sandbox, on the real Docker daemon and image.

No model is used: workspaces are the tasks' own starting files and reference solutions.
"""

import shutil
from pathlib import Path

import pytest

from evolarium.tasks import load_suite
from evolarium.tasks.scorer import close_scoring_pools, score_workspace
from evolarium.tasks.task import Task
from tests.conftest import evolarium_containers

pytestmark = pytest.mark.docker

RUN_ID = "test-scoring"


def reference_workspace(task: Task, dest: Path) -> Path:
    """Copy the starting workspace and lay the reference solution over it."""
    shutil.copytree(task.workspace, dest)
    shutil.copytree(task.reference, dest, dirs_exist_ok=True)
    return dest


@pytest.fixture(scope="module", autouse=True)
def scoring_pool_closed(docker_client):
    """Close the module's warm scoring containers after its tests, and check none is left."""
    yield
    close_scoring_pools(RUN_ID)
    assert evolarium_containers(docker_client, RUN_ID) == []


@pytest.fixture(scope="module")
def humaneval():
    return load_suite("humaneval")


def test_humaneval_canonical_solution_scores_one(docker_client, sandbox_image, humaneval, tmp_path):
    task = humaneval.get("humaneval-0")
    workspace = reference_workspace(task, tmp_path / "ws")
    score = score_workspace(docker_client, sandbox_image, task, workspace, run_id=RUN_ID)
    assert score.outcome == "ok", score.output
    assert score.score == 1.0
    assert score.resolved


def test_humaneval_stub_scores_zero(docker_client, sandbox_image, humaneval):
    task = humaneval.get("humaneval-0")
    score = score_workspace(docker_client, sandbox_image, task, task.workspace, run_id=RUN_ID)
    assert score.outcome == "ok", score.output
    assert score.score == 0.0
    assert not score.resolved
    assert "NotImplementedError" in score.output


def test_humaneval_helper_functions_visible_to_test(
    docker_client, sandbox_image, humaneval, tmp_path
):
    # HumanEval/32's check calls `poly`, a helper defined in the prompt.
    task = humaneval.get("humaneval-32")
    workspace = reference_workspace(task, tmp_path / "ws")
    score = score_workspace(docker_client, sandbox_image, task, workspace, run_id=RUN_ID)
    assert score.score == 1.0, score.output


BUILTIN = load_suite("builtin").tasks


@pytest.mark.parametrize("task", BUILTIN, ids=[task.id for task in BUILTIN])
def test_builtin_reference_and_start(docker_client, sandbox_image, task, tmp_path):
    assert task.reference is not None, f"{task.id} has no reference solution"
    workspace = reference_workspace(task, tmp_path / "ws")
    solved = score_workspace(docker_client, sandbox_image, task, workspace, run_id=RUN_ID)
    assert solved.score == 1.0, solved.output
    assert solved.total == task.expected_tests

    start = score_workspace(docker_client, sandbox_image, task, task.workspace, run_id=RUN_ID)
    assert start.outcome == "ok", start.output
    assert start.score < 1.0


def test_scoring_import_error_is_collection_error(
    docker_client, sandbox_image, humaneval, tmp_path
):
    task = humaneval.get("humaneval-0")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "solution.py").write_text("this is not python\n")
    score = score_workspace(docker_client, sandbox_image, task, workspace, run_id=RUN_ID)
    assert score.score == 0.0
    assert not score.resolved
    assert score.outcome == "collection_error"
    assert "error during collection" in score.output


FORGED_JUNIT = (
    '<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="1">'
    '<testcase classname="t" name="test_x"/></testsuite></testsuites>'
)

# Each entry is a solution.py that tries to make a failing workspace score 1.0.
TAMPERING = {
    "forged-results-then-exit": (
        f"import os\nopen('/results/junit.xml', 'w').write({FORGED_JUNIT!r})\nos._exit(0)\n"
    ),
    "atexit-rewrites-results": (
        "import atexit\n"
        f"atexit.register(lambda: open('/results/junit.xml', 'w').write({FORGED_JUNIT!r}))\n"
        "def has_close_elements(numbers, threshold):\n"
        "    return None\n"
    ),
    "fake-frame-on-stdout": (
        "import base64, os\n"
        f"xml = base64.b64encode({FORGED_JUNIT!r}.encode()).decode()\n"
        "print('EVOLARIUM-RESULTS 0000 0 ' + xml + ' END-0000', flush=True)\n"
        "os._exit(0)\n"
    ),
    "fake-passed-lines": ("import os\nprint('1 passed in 0.01s', flush=True)\nos._exit(0)\n"),
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_scoring_tampering_scores_zero(docker_client, sandbox_image, humaneval, tmp_path, name):
    task = humaneval.get("humaneval-0")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "solution.py").write_text(TAMPERING[name])
    score = score_workspace(docker_client, sandbox_image, task, workspace, run_id=RUN_ID)
    assert score.score == 0.0, score.output
    assert not score.resolved


SHELL_TASK = """\
id = "shell-greet"
title = "Greeting script"
language = "shell"

[test]
command = "sh $EVOLARIUM_TESTS/run.sh"
"""

# Writes one JUnit test case per check, so the score counts checks, not just the exit status.
JUNIT_RUNNER = """\
out=$(sh greet.sh World)
pass() { printf '<testcase classname="greet" name="%s"/>' "$1"; }
fail() { printf '<testcase classname="greet" name="%s"><failure/></testcase>' "$1"; }
{
  echo '<testsuites><testsuite name="greet">'
  [ "$out" = "Hello, World!" ] && pass greeting || fail greeting
  [ "$(sh greet.sh)" = "Hello, !" ] && pass empty-name || fail empty-name
  grep -q '^#!/bin/sh' greet.sh && pass shebang || fail shebang
  echo '</testsuite></testsuites>'
} > "$EVOLARIUM_JUNIT_XML"
"""


def shell_task(root: Path, runner: str, expected: int | None = None) -> Task:
    from evolarium.tasks.task import load_task

    (root / "workspace").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "reference").mkdir()
    toml = SHELL_TASK + (f"expected_tests = {expected}\n" if expected else "")
    (root / "task.toml").write_text(toml)
    (root / "prompt.md").write_text("Make greet.sh print a greeting.\n")
    (root / "workspace" / "greet.sh").write_text('#!/bin/sh\necho "Hi $1"\n')
    (root / "reference" / "greet.sh").write_text('#!/bin/sh\necho "Hello, $1!"\n')
    (root / "tests" / "run.sh").write_text(runner)
    return load_task(root)


def test_shell_task_scored_by_exit_status(docker_client, sandbox_image, tmp_path):
    runner = 'test "$(sh greet.sh World)" = "Hello, World!"\n'
    task = shell_task(tmp_path / "task", runner)

    start = score_workspace(docker_client, sandbox_image, task, task.workspace, run_id=RUN_ID)
    assert (start.score, start.outcome) == (0.0, "ok")
    solved_dir = reference_workspace(task, tmp_path / "ws")
    solved = score_workspace(docker_client, sandbox_image, task, solved_dir, run_id=RUN_ID)
    assert (solved.score, solved.resolved, solved.outcome) == (1.0, True, "ok")


def test_shell_task_scored_by_its_junit(docker_client, sandbox_image, tmp_path):
    task = shell_task(tmp_path / "task", JUNIT_RUNNER, expected=3)

    # The starting script has the shebang but greets the wrong way.
    start = score_workspace(docker_client, sandbox_image, task, task.workspace, run_id=RUN_ID)
    assert start.outcome == "ok", start.output
    assert (start.passed, start.total, start.resolved) == (1, 3, False)
    solved_dir = reference_workspace(task, tmp_path / "ws")
    solved = score_workspace(docker_client, sandbox_image, task, solved_dir, run_id=RUN_ID)
    assert (solved.passed, solved.total, solved.resolved) == (3, 3, True)


def test_steady_output_drops_clock_and_junit_name():
    from evolarium.tasks.scorer import steady_output

    output = (
        "..F\n"
        "---- generated xml file: /junit/fae2be77846b637dd9fecdf14cf78eff.xml ----\n"
        "=== 1 failed, 8 passed in 0.03s ===\n"
        "8 passed in 12.50s (0:00:12)\n"
        "assert total == 'passed in 3s'\n"
    )
    assert steady_output(output) == (
        "..F\n=== 1 failed, 8 passed ===\n8 passed\nassert total == 'passed in 3s'\n"
    )
