"""The exercism suite: converting Exercism-style exercises into tasks, and counting tests.

The sample exercises under tests/data/exercism are original. Most tests need no
Docker. The Docker test scores a converted exercise in the real sandbox.
"""

import logging
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evolarium.errors import TaskError
from evolarium.tasks import exercism, load_suite
from evolarium.tasks.check import reference_workspace
from evolarium.tasks.scorer import close_scoring_pools, score_workspace
from tests.conftest import evolarium_containers

SAMPLES = Path(__file__).parent / "data" / "exercism"
EXPECTED_COUNTS = {
    "exercism-clock-angle": None,
    "exercism-parking-meter": 5,
    "exercism-tally-marks": 5,
}


def copy_samples(dest: Path, *names: str) -> Path:
    """Copy some sample exercises into ``dest`` so a test can change them."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names or [path.name for path in SAMPLES.iterdir() if path.is_dir()]:
        shutil.copytree(SAMPLES / name, dest / name)
    return dest


def set_config(exercise: Path, text: str) -> None:
    (exercise / ".meta" / "config.json").write_text(text)


def test_exercism_suite_loads_samples():
    suite = load_suite(f"exercism:{SAMPLES}")
    assert suite.name == f"exercism:{SAMPLES}"
    assert [task.id for task in suite.tasks] == sorted(EXPECTED_COUNTS)
    assert suite.invalid == ()
    for task in suite.tasks:
        assert task.expected_tests == EXPECTED_COUNTS[task.id], task.id
        assert task.tags == ("exercism",)


def test_exercism_task_files():
    task = load_suite(f"exercism:{SAMPLES}").get("exercism-tally-marks")
    workspace = sorted(p.relative_to(task.workspace).as_posix() for p in task.workspace.rglob("*"))
    tests = sorted(p.name for p in task.tests.iterdir())
    reference = sorted(p.name for p in task.reference.iterdir())
    assert task.title == "Tally Marks"
    assert workspace == ["tally_marks.py"]
    assert tests == ["test_tally_marks.py"]
    assert reference == ["tally_marks.py"]

    example = (SAMPLES / "tally-marks" / ".meta" / "example.py").read_text()
    stub = (SAMPLES / "tally-marks" / "tally_marks.py").read_text()
    assert (task.reference / "tally_marks.py").read_text() == example
    assert (task.workspace / "tally_marks.py").read_text() == stub


def test_exercism_example_never_in_workspace():
    suite = load_suite(f"exercism:{SAMPLES}")
    for task in suite.tasks:
        for reference_file in task.reference.rglob("*.py"):
            for path in task.workspace.rglob("*.py"):
                assert path.read_text() != reference_file.read_text(), (task.id, path)


def test_exercism_editor_file_in_workspace_and_tests():
    task = load_suite(f"exercism:{SAMPLES}").get("exercism-parking-meter")
    rates = (SAMPLES / "parking-meter" / "rates.py").read_text()
    assert (task.workspace / "rates.py").read_text() == rates
    assert (task.tests / "rates.py").read_text() == rates
    assert "Leave `rates.py` unchanged" in task.prompt()


def test_exercism_prompt_joins_docs_in_order():
    prompt = load_suite(f"exercism:{SAMPLES}").get("exercism-tally-marks").prompt()
    introduction = prompt.index("Scorekeepers at a village quiz night")
    instructions = prompt.index("Write `tally(count)`")
    files = prompt.index("Write your solution in `tally_marks.py`.")
    assert prompt.startswith("# Tally Marks\n")
    assert introduction < instructions < files

    appended = load_suite(f"exercism:{SAMPLES}").get("exercism-parking-meter").prompt()
    assert appended.index("sells minutes of parking") < appended.index("shared with the other")


def test_exercism_single_exercise_path():
    suite = load_suite(f"exercism:{SAMPLES / 'clock-angle'}")
    assert [task.id for task in suite.tasks] == ["exercism-clock-angle"]


def test_exercism_cache_follows_edits(tmp_path):
    root = copy_samples(tmp_path / "ex", "tally-marks")
    first = load_suite(f"exercism:{root}").tasks[0].root
    again = load_suite(f"exercism:{root}").tasks[0].root
    assert again == first

    with (root / "tally-marks" / "tally_marks_test.py").open("a") as stream:
        stream.write("\n\ndef test_one_stroke():\n    assert tally(1) == '|'\n")
    edited = load_suite(f"exercism:{root}").tasks[0]
    assert edited.root != first
    assert edited.expected_tests == 6


def test_exercism_directory_without_exercises(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TaskError, match=r"no exercises in .*empty.*\.meta/config\.json"):
        load_suite(f"exercism:{tmp_path / 'empty'}")


def test_exercism_path_not_a_directory(tmp_path):
    with pytest.raises(TaskError, match="not a directory"):
        load_suite(f"exercism:{tmp_path / 'missing'}")


MALFORMED = {
    "invalid-json": ('{"files": {', r"config\.json: invalid JSON"),
    "not-an-object": ("[1, 2]", r"config\.json: must contain a JSON object"),
    "no-files": ('{"blurb": "x"}', r"field 'files' is missing or not an object"),
    "no-example-field": (
        '{"files": {"solution": ["tally_marks.py"], "test": ["tally_marks_test.py"]}}',
        r"field 'files\.example' is missing",
    ),
    "empty-solution": (
        '{"files": {"solution": [], "test": ["tally_marks_test.py"], '
        '"example": [".meta/example.py"]}}',
        r"field 'files\.solution' is empty",
    ),
    "solution-not-a-list": (
        '{"files": {"solution": "tally_marks.py", "test": ["tally_marks_test.py"], '
        '"example": [".meta/example.py"]}}',
        r"field 'files\.solution' must be a list of paths",
    ),
    "parent-path": (
        '{"files": {"solution": ["../tally_marks.py"], "test": ["tally_marks_test.py"], '
        '"example": [".meta/example.py"]}}',
        r"contains '\.\./tally_marks\.py'; use a path relative",
    ),
    "missing-example-file": (
        '{"files": {"solution": ["tally_marks.py"], "test": ["tally_marks_test.py"], '
        '"example": [".meta/proof.py"]}}',
        r"'files\.example' names \.meta/proof\.py, which does not exist; add the file",
    ),
    "not-python": (
        '{"files": {"solution": ["tally_marks.py"], "test": ["tally_marks_test.py"], '
        '"example": [".meta/config.json"]}}',
        r"\.meta/config\.json, which is not a Python file",
    ),
    "hidden-solution": (
        '{"files": {"solution": [".meta/example.py"], "test": ["tally_marks_test.py"], '
        '"example": [".meta/example.py"]}}',
        r"in a hidden directory",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_exercism_malformed_config(tmp_path, case):
    config, message = MALFORMED[case]
    root = copy_samples(tmp_path / "ex", "tally-marks")
    set_config(root / "tally-marks", config)
    with pytest.raises(TaskError, match=message) as raised:
        load_suite(f"exercism:{root}")
    assert str(root / "tally-marks" / ".meta" / "config.json") in str(raised.value)


def test_exercism_missing_example_file(tmp_path):
    root = copy_samples(tmp_path / "ex", "parking-meter")
    (root / "parking-meter" / ".meta" / "example.py").unlink()
    with pytest.raises(
        TaskError, match=r"files\.example' names \.meta/example\.py, which does not"
    ):
        load_suite(f"exercism:{root}")


def test_exercism_missing_instructions(tmp_path):
    root = copy_samples(tmp_path / "ex", "clock-angle")
    (root / "clock-angle" / ".docs" / "instructions.md").unlink()
    with pytest.raises(TaskError, match=r"instructions\.md: missing"):
        load_suite(f"exercism:{root}")


def test_exercism_test_file_syntax_error(tmp_path):
    root = copy_samples(tmp_path / "ex", "clock-angle")
    (root / "clock-angle" / "clock_angle_test.py").write_text("def test_x(:\n")
    with pytest.raises(TaskError, match=r"clock_angle_test\.py: the test file cannot be parsed"):
        load_suite(f"exercism:{root}")


def test_exercism_invalid_directory_name(tmp_path):
    root = copy_samples(tmp_path / "ex", "clock-angle")
    (root / "clock-angle").rename(root / "Clock Angle")
    with pytest.raises(TaskError, match="does not make a valid task id"):
        load_suite(f"exercism:{root}")


def test_exercism_skip_invalid_keeps_good(tmp_path, caplog):
    root = copy_samples(tmp_path / "ex")
    set_config(root / "tally-marks", "{")
    with pytest.raises(TaskError, match="invalid JSON"):
        load_suite(f"exercism:{root}")

    with caplog.at_level(logging.WARNING, logger="evolarium.tasks.suite"):
        suite = load_suite(f"exercism:{root}", skip_invalid=True)
    assert [task.id for task in suite.tasks] == ["exercism-clock-angle", "exercism-parking-meter"]
    assert [invalid.source.name for invalid in suite.invalid] == ["tally-marks"]
    assert "invalid JSON" in suite.invalid[0].error
    assert "tally-marks" in caplog.text
    assert "invalid JSON" in caplog.text


def test_exercism_several_solution_files(tmp_path):
    root = copy_samples(tmp_path / "ex", "tally-marks")
    exercise = root / "tally-marks"
    (exercise / "strokes.py").write_text("STROKE = None\n")
    (exercise / ".meta" / "strokes.py").write_text("STROKE = '|'\n")
    (exercise / ".meta" / "tally_marks.py").write_text(
        (exercise / ".meta" / "example.py").read_text()
    )
    set_config(
        exercise,
        '{"files": {"solution": ["tally_marks.py", "strokes.py"], '
        '"test": ["tally_marks_test.py"], '
        '"example": [".meta/tally_marks.py", ".meta/strokes.py"]}}',
    )
    task = load_suite(f"exercism:{root}").tasks[0]
    assert sorted(p.name for p in task.reference.iterdir()) == ["strokes.py", "tally_marks.py"]
    assert (task.reference / "strokes.py").read_text() == "STROKE = '|'\n"
    assert (task.workspace / "strokes.py").read_text() == "STROKE = None\n"
    assert "`tally_marks.py`, `strokes.py`" in task.prompt()

    set_config(
        exercise,
        '{"files": {"solution": ["tally_marks.py", "strokes.py"], '
        '"test": ["tally_marks_test.py"], '
        '"example": [".meta/example.py", ".meta/strokes.py"]}}',
    )
    with pytest.raises(TaskError, match=r"\.meta/example\.py, which matches no solution file"):
        load_suite(f"exercism:{root}")


def test_cli_tasks_list_exercism(tmp_path):
    root = copy_samples(tmp_path / "ex")
    set_config(root / "clock-angle", '{"files": {}}')
    command = [
        sys.executable,
        "-m",
        "evolarium.cli",
        "tasks",
        "list",
        "--suite",
        f"exercism:{root}",
    ]

    strict = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert strict.returncode == 2, strict.stderr
    assert "field 'files.solution' is missing" in strict.stderr

    lenient = subprocess.run(
        [*command, "--skip-invalid"], capture_output=True, text=True, timeout=300
    )
    assert lenient.returncode == 0, lenient.stderr
    assert "exercism-tally-marks" in lenient.stdout
    assert "exercism-clock-angle" not in lenient.stdout
    assert "2 tasks, 1 invalid tasks skipped" in lenient.stdout
    assert "field 'files.solution' is missing" in lenient.stderr


def write_test_file(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "sample_test.py"
    path.write_text(textwrap.dedent(source))
    return path


COUNT_CASES = {
    "functions": (
        "def test_a():\n    pass\n\ndef test_b():\n    pass\n\ndef helper():\n    pass\n",
        2,
    ),
    "unittest-class": (
        """\
        import unittest
        from tally_marks import tally

        class AnythingTest(unittest.TestCase):
            maxDiff = None

            def setUp(self):
                pass

            def test_one(self):
                pass

            def test_two(self):
                pass

        if __name__ == "__main__":
            unittest.main()
        """,
        2,
    ),
    "pytest-class-and-function": (
        """\
        class TestThing:
            def test_one(self):
                pass

            def helper(self):
                pass

        class Helper:
            def test_not_collected(self):
                pass

        def test_two():
            pass
        """,
        2,
    ),
    "redefined-name": ("def test_a():\n    pass\n\ndef test_a():\n    pass\n", 1),
    "guarded-import": (
        """\
        try:
            from tally_marks import tally
        except ImportError as error:
            raise ImportError("tally_marks.py is missing") from error

        def test_a():
            pass
        """,
        1,
    ),
    "marks-keep-count": (
        """\
        import pytest

        @pytest.mark.task(taskno=1)
        def test_a():
            pass
        """,
        1,
    ),
    "parametrize": (
        """\
        import pytest

        @pytest.mark.parametrize("x", [1, 2, 3])
        def test_a(x):
            pass
        """,
        None,
    ),
    "parametrized-class": (
        """\
        import pytest

        @pytest.mark.parametrize("x", [1, 2])
        class TestA:
            def test_a(self, x):
                pass
        """,
        None,
    ),
    "star-import": ("from helpers import *\n\ndef test_a():\n    pass\n", None),
    "imported-test": ("from other_test import TestShared\n\ndef test_a():\n    pass\n", None),
    "inherited-tests": (
        """\
        import unittest

        class Base:
            def test_shared(self):
                pass

        class ThingTest(Base, unittest.TestCase):
            pass
        """,
        None,
    ),
    "loop-defines-tests": ("for i in range(3):\n    globals()[f'test_{i}'] = lambda: None\n", None),
    "nested-class": (
        "class TestOuter:\n    class TestInner:\n        def test_a(self):\n            pass\n",
        None,
    ),
    "class-with-init": (
        """\
        class TestA:
            def __init__(self):
                pass

            def test_a(self):
                pass
        """,
        None,
    ),
    "assigned-test-name": ("def check():\n    pass\n\ntest_alias = check\n", None),
    "no-tests": ("def helper():\n    pass\n", None),
}


@pytest.mark.parametrize("case", sorted(COUNT_CASES))
def test_count_tests(tmp_path, case):
    source, expected = COUNT_CASES[case]
    assert exercism.count_tests([write_test_file(tmp_path, source)]) == expected


def test_count_tests_sums_files(tmp_path):
    first = tmp_path / "a_test.py"
    second = tmp_path / "b_test.py"
    first.write_text("def test_a():\n    pass\n")
    second.write_text("def test_b():\n    pass\n\ndef test_c():\n    pass\n")
    assert exercism.count_tests([first, second]) == 3


@pytest.mark.docker
def test_exercism_editor_copy_wins_in_sandbox(docker_client, sandbox_image, tmp_path):
    task = load_suite(f"exercism:{SAMPLES}").get("exercism-parking-meter")
    with reference_workspace(task) as reference:
        workspace = shutil.copytree(reference, tmp_path / "ws")
    solved = score_workspace(docker_client, sandbox_image, task, workspace, run_id="test-exercism")
    assert solved.outcome == "ok", solved.output
    assert solved.score == 1.0, solved.output

    # Selling a minute for every cent would break two tests if the tests read this copy.
    (workspace / "rates.py").write_text(
        "CENTS_PER_MINUTE = 1\nACCEPTED_COINS = (10, 20, 50, 100)\nMAX_MINUTES = 120\n"
    )
    edited = score_workspace(docker_client, sandbox_image, task, workspace, run_id="test-exercism")
    close_scoring_pools("test-exercism")
    assert edited.outcome == "ok", edited.output
    assert edited.score == 1.0, edited.output
    assert evolarium_containers(docker_client, "test-exercism") == []
