"""`evolarium tasks check`, the flaky-task record, and loading suites with skip_invalid.

Classification tests inject a fake score function, so a reference that passes
1 of 3 runs is reproducible. The Docker tests run the command on the real
sandbox.
"""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from evolarium.errors import TaskError
from evolarium.tasks import load_suite
from evolarium.tasks.check import check_suite, check_task, flaky_file, is_flaky, task_hash
from evolarium.tasks.scorer import Score
from evolarium.tasks.suite import load_dir
from evolarium.tasks.task import Task

TASK_TOML = """\
id = "{task_id}"
title = "Double a number"
language = "python"

[test]
command = "pytest"
expected_tests = {expected}
"""

TESTS = """\
# {marker}
from doubler import double


def test_positive():
    assert double(2) == 4


def test_negative():
    assert double(-3) == -6
"""

START = "def double(x):\n    return x + 2\n"
SOLVED = "def double(x):\n    return x * 2\n"


def make_task(
    root: Path,
    task_id: str = "double",
    *,
    reference: str | None = SOLVED,
    start: str = START,
    expected: int = 2,
) -> Path:
    """Write a task directory; its tests contain the path, so each task hashes differently."""
    (root / "workspace").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "task.toml").write_text(TASK_TOML.format(task_id=task_id, expected=expected))
    (root / "prompt.md").write_text("Make double return twice its argument.\n")
    (root / "workspace" / "doubler.py").write_text(start)
    (root / "tests" / "test_doubler.py").write_text(TESTS.format(marker=root))
    if reference is not None:
        (root / "reference").mkdir()
        (root / "reference" / "doubler.py").write_text(reference)
    return root


class FakeScorer:
    """Score reference runs from a list of pass/fail results, one per run, in order.

    A run of the starting workspace scores ``start_score``. ``outcome`` replaces "ok"
    on failing runs.
    """

    def __init__(self, reference_passes: dict[str, list[bool]], start_score: float = 0.5):
        self.reference_passes = reference_passes
        self.start_score = start_score
        self.outcome = "ok"
        self.calls: list[tuple[str, str]] = []

    def __call__(self, task: Task, workspace: Path) -> Score:
        solved = (workspace / "doubler.py").read_text() == SOLVED
        self.calls.append((task.id, "reference" if solved else "start"))
        if not solved:
            passed = int(self.start_score * 2)
            return Score(self.start_score, passed == 2, passed, 2, "ok", "start output")
        if self.reference_passes[task.id].pop(0):
            return Score(1.0, True, 2, 2, "ok", "")
        return Score(0.5, False, 1, 2, self.outcome, "FAILED test_doubler.py::test_negative")


def test_check_flaky_and_ok(tmp_path):
    make_task(tmp_path / "suite" / "steady", "steady")
    make_task(tmp_path / "suite" / "flaky", "flaky")
    suite = load_suite(str(tmp_path / "suite"))
    scorer = FakeScorer({"steady": [True, True, True], "flaky": [False, True, False]})

    results = {result.task_id: result for result in check_suite(suite, scorer, runs=3)}

    assert results["steady"].verdict == "ok"
    assert results["steady"].reference_passes == 3
    assert results["steady"].start_score == 0.5
    assert results["flaky"].verdict == "flaky"
    assert results["flaky"].reference_passes == 1
    assert results["flaky"].runs == 3
    assert "1 of 3 runs" in results["flaky"].detail
    assert "test_negative" in results["flaky"].output
    assert scorer.calls.count(("flaky", "reference")) == 3
    assert scorer.calls.count(("flaky", "start")) == 1


def test_flaky_record_keyed_by_content(tmp_path):
    make_task(tmp_path / "suite" / "steady", "steady")
    make_task(tmp_path / "suite" / "flaky", "flaky")
    suite = load_suite(str(tmp_path / "suite"))
    scorer = FakeScorer({"steady": [True, True, True], "flaky": [True, False, False]})
    check_suite(suite, scorer, runs=3)

    steady, flaky = suite.get("steady"), suite.get("flaky")
    assert is_flaky(flaky)
    assert not is_flaky(steady)
    records = json.loads(flaky_file().read_text())
    assert records[task_hash(flaky)]["task_id"] == "flaky"
    assert records[task_hash(flaky)]["reference_passes"] == 1
    assert task_hash(steady) not in records

    with (flaky.tests / "test_doubler.py").open("a") as stream:
        stream.write("\n# fixed\n")
    assert not is_flaky(flaky)


def test_flaky_stays_after_clean_check(tmp_path):
    make_task(tmp_path / "flaky", "flaky")
    suite = load_suite(str(tmp_path / "flaky"))
    check_suite(suite, FakeScorer({"flaky": [True, True, False]}), runs=3)
    results = check_suite(suite, FakeScorer({"flaky": [True, True, True]}), runs=3)
    assert results[0].verdict == "ok"
    assert is_flaky(suite.tasks[0])


def test_flaky_records_accumulate(tmp_path):
    make_task(tmp_path / "suite" / "one", "one")
    make_task(tmp_path / "suite" / "two", "two")
    suite = load_suite(str(tmp_path / "suite"))
    check_suite(suite, FakeScorer({"one": [False, True], "two": [True, True]}), runs=2)
    check_suite(suite, FakeScorer({"one": [True, True], "two": [False, True]}), runs=2)
    assert is_flaky(suite.get("one"))
    assert is_flaky(suite.get("two"))


def test_check_reference_never_passes(tmp_path):
    task = load_suite(str(make_task(tmp_path / "broken", "broken"))).tasks[0]
    result = check_task(task, FakeScorer({"broken": [False, False, False]}), runs=3)
    assert result.verdict == "broken"
    assert result.reference_passes == 0
    assert "never scored 1.0" in result.detail
    assert not is_flaky(task)


def test_check_start_already_passes(tmp_path):
    task = load_suite(str(make_task(tmp_path / "easy", "easy"))).tasks[0]
    result = check_task(task, FakeScorer({"easy": [True, True]}, start_score=1.0), runs=2)
    assert result.verdict == "broken"
    assert result.reference_passes == 2
    assert "starting workspace already scores 1.0" in result.detail


def test_check_expected_tests_too_low(tmp_path):
    task = load_suite(str(make_task(tmp_path / "stale", "stale", expected=1))).tasks[0]
    result = check_task(task, FakeScorer({"stale": [True]}), runs=1)
    assert result.verdict == "broken"
    assert "expected_tests is 1" in result.detail
    assert "ran 2 tests" in result.detail


def test_check_sandbox_error_is_not_flaky(tmp_path):
    task = load_suite(str(make_task(tmp_path / "infra", "infra"))).tasks[0]
    scorer = FakeScorer({"infra": [True, False, True]})
    scorer.outcome = "sandbox_error"
    result = check_suite(load_suite(str(task.root)), scorer, runs=3)[0]
    assert result.verdict == "error"
    assert not is_flaky(task)


def test_check_without_reference_is_invalid(tmp_path):
    task = load_suite(str(make_task(tmp_path / "noref", "noref", reference=None))).tasks[0]
    scorer = FakeScorer({})
    result = check_task(task, scorer, runs=3)
    assert result.verdict == "invalid"
    assert "reference: missing" in result.schema_error
    assert scorer.calls == []


def test_check_task_changed_on_disk_is_invalid(tmp_path):
    task = load_suite(str(make_task(tmp_path / "changed", "changed"))).tasks[0]
    (task.root / "task.toml").write_text("id = \n")
    result = check_task(task, FakeScorer({}), runs=1)
    assert result.verdict == "invalid"
    assert "invalid TOML" in result.schema_error


def test_check_runs_must_be_positive(tmp_path):
    suite = load_suite(str(make_task(tmp_path / "zero", "zero")))
    with pytest.raises(TaskError, match="runs must be at least 1, got 0"):
        check_suite(suite, FakeScorer({}), runs=0)


def test_check_lists_skipped_invalid_tasks(tmp_path):
    make_task(tmp_path / "suite" / "good", "good")
    make_task(tmp_path / "suite" / "bad", "bad")
    (tmp_path / "suite" / "bad" / "task.toml").write_text('id = "bad"\n')
    suite = load_suite(str(tmp_path / "suite"), skip_invalid=True)
    results = check_suite(suite, FakeScorer({"good": [True]}), runs=1)
    assert [(result.task_id, result.verdict) for result in results] == [
        ("bad", "invalid"),
        ("good", "ok"),
    ]
    assert "[test] command is missing" in results[0].detail


def test_corrupt_flaky_file(tmp_path):
    task = load_suite(str(make_task(tmp_path / "any", "any"))).tasks[0]
    flaky_file().parent.mkdir(parents=True, exist_ok=True)
    original = flaky_file().read_text() if flaky_file().exists() else None
    try:
        flaky_file().write_text("{not json")
        with pytest.raises(TaskError, match="flaky.json: invalid JSON.*delete the file"):
            is_flaky(task)
    finally:
        if original is None:
            flaky_file().unlink()
        else:
            flaky_file().write_text(original)


def test_skip_invalid_task_dirs(tmp_path, caplog):
    make_task(tmp_path / "suite" / "good", "good")
    make_task(tmp_path / "suite" / "bad", "bad")
    (tmp_path / "suite" / "bad" / "task.toml").write_text('id = "bad"\ncolour = "red"\n')
    with pytest.raises(TaskError, match="unknown key 'colour'"):
        load_suite(str(tmp_path / "suite"))

    with caplog.at_level(logging.WARNING, logger="evolarium.tasks.suite"):
        suite = load_suite(str(tmp_path / "suite"), skip_invalid=True)
    assert [task.id for task in suite.tasks] == ["good"]
    assert [invalid.source.name for invalid in suite.invalid] == ["bad"]
    assert "unknown key 'colour'" in caplog.text
    assert [task.id for task in load_dir(tmp_path / "suite", skip_invalid=True)] == ["good"]


def test_skip_invalid_all_invalid_raises(tmp_path):
    make_task(tmp_path / "suite" / "bad", "bad")
    (tmp_path / "suite" / "bad" / "prompt.md").unlink()
    with pytest.raises(TaskError, match=r"no valid tasks in suite .*1 are invalid.*prompt\.md"):
        load_suite(str(tmp_path / "suite"), skip_invalid=True)


def test_skip_invalid_duplicate_id(tmp_path):
    make_task(tmp_path / "suite" / "first", "same")
    make_task(tmp_path / "suite" / "second", "same")
    suite = load_suite(str(tmp_path / "suite"), skip_invalid=True)
    assert [task.root.name for task in suite.tasks] == ["first"]
    assert "duplicate task id 'same'" in suite.invalid[0].error


def evolarium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evolarium.cli", *args], capture_output=True, text=True, timeout=600
    )


def table_row(output: str, task_id: str) -> list[str]:
    """Return the cells of the table row that starts with ``task_id``."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃").split("│")]
        if cells and cells[0] == task_id:
            return cells
    raise AssertionError(f"no row for {task_id} in:\n{output}")


def test_cli_check_runs_must_be_positive(tmp_path):
    result = evolarium("tasks", "check", str(make_task(tmp_path / "t", "t")), "--runs", "0")
    assert result.returncode == 2
    assert "--runs 0 is invalid; use 1 or more" in result.stderr


@pytest.mark.docker
def test_cli_check_good_task(sandbox_image, tmp_path):
    result = evolarium("tasks", "check", str(make_task(tmp_path / "good", "good")), "--runs", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert table_row(result.stdout, "good") == ["good", "ok", "3/3", "0.50", "ok", ""]
    assert "1 of 1 tasks ok" in result.stdout


@pytest.mark.docker
def test_cli_check_broken_and_invalid(sandbox_image, tmp_path):
    suite = tmp_path / "suite"
    make_task(suite / "wrong", "wrong", reference="def double(x):\n    return x * 3\n")
    make_task(suite / "bad", "bad")
    (suite / "bad" / "task.toml").write_text('id = "bad"\n')

    strict = evolarium("tasks", "check", str(suite), "--runs", "2")
    assert strict.returncode == 2
    assert "[test] command is missing" in strict.stderr

    result = evolarium("tasks", "check", str(suite), "--runs", "2", "--skip-invalid")
    assert result.returncode == 1, result.stdout + result.stderr
    wrong = table_row(result.stdout, "wrong")
    assert wrong[1:5] == ["ok", "0/2", "0.50", "broken"]
    assert "never scored 1.0" in wrong[5]
    assert table_row(result.stdout, "bad")[1:5] == ["invalid", "-", "-", "invalid"]
    assert "assert 6 == 4" in result.stdout
    assert "0 of 2 tasks ok" in result.stdout
    assert not is_flaky(load_suite(str(suite / "wrong")).tasks[0])
