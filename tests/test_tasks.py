"""The task format and suites: loading, validation errors, HumanEval conversion. No Docker."""

from pathlib import Path

import pytest

from evolarium.errors import TaskError
from evolarium.tasks import load_suite, load_task

VALID_TOML = """\
id = "demo"
title = "Demo task"
language = "python"

[test]
command = "pytest"
expected_tests = 1
"""


def make_task(root: Path, toml: str = VALID_TOML, tests: bool = True) -> Path:
    (root / "workspace").mkdir(parents=True)
    (root / "workspace" / "demo.py").write_text("def f():\n    return 0\n")
    (root / "prompt.md").write_text("Make f return 1.\n")
    (root / "task.toml").write_text(toml)
    if tests:
        (root / "tests").mkdir()
        (root / "tests" / "test_demo.py").write_text(
            "from demo import f\n\ndef test_f():\n    assert f() == 1\n"
        )
    return root


def test_load_task_valid(tmp_path):
    task = load_task(make_task(tmp_path / "demo"))
    assert task.id == "demo"
    assert task.expected_tests == 1
    assert task.prompt() == "Make f return 1.\n"


def test_load_task_missing_field(tmp_path):
    root = make_task(tmp_path / "demo", VALID_TOML.replace('title = "Demo task"\n', ""))
    with pytest.raises(TaskError, match="field 'title' is missing"):
        load_task(root)


def test_load_task_unknown_key(tmp_path):
    root = make_task(tmp_path / "demo", 'colour = "red"\n' + VALID_TOML)
    with pytest.raises(TaskError, match="unknown key 'colour'"):
        load_task(root)


def test_load_task_unknown_key_in_table(tmp_path):
    root = make_task(tmp_path / "demo", VALID_TOML + "retries = 2\n")
    with pytest.raises(TaskError, match=r"unknown key \[test\] 'retries'"):
        load_task(root)


def test_load_task_wrong_type(tmp_path):
    root = make_task(tmp_path / "demo", VALID_TOML.replace('"Demo task"', "3"))
    with pytest.raises(TaskError, match="'title' must be a str"):
        load_task(root)


def test_load_task_without_hidden_tests(tmp_path):
    root = make_task(tmp_path / "demo", tests=False)
    with pytest.raises(TaskError, match="has no hidden tests"):
        load_task(root)


def test_load_task_invalid_toml(tmp_path):
    root = make_task(tmp_path / "demo", "id = \n")
    with pytest.raises(TaskError, match="invalid TOML"):
        load_task(root)


def test_load_task_symlink_rejected(tmp_path):
    root = make_task(tmp_path / "demo")
    (root / "workspace" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(TaskError, match="symlinks are not allowed"):
        load_task(root)


def test_suite_unknown_name():
    with pytest.raises(TaskError, match="unknown suite 'nosuch'.*builtin, humaneval"):
        load_suite("nosuch")


def test_suite_duplicate_ids(tmp_path):
    make_task(tmp_path / "one")
    make_task(tmp_path / "two")
    with pytest.raises(TaskError, match="duplicate task id 'demo'"):
        load_suite(str(tmp_path))


def test_suite_directory(tmp_path):
    make_task(tmp_path / "one")
    suite = load_suite(str(tmp_path))
    assert [task.id for task in suite.tasks] == ["demo"]


def test_humaneval_suite_has_164_tasks():
    suite = load_suite("humaneval")
    assert len(suite.tasks) == 164
    assert suite.tasks[0].id == "humaneval-0"
    assert suite.tasks[163].id == "humaneval-163"
    first = suite.tasks[0]
    assert "has_close_elements" in first.prompt()
    assert "raise NotImplementedError" in (first.workspace / "solution.py").read_text()
    assert "def test_has_close_elements" in next(first.tests.glob("test_*.py")).read_text()


def test_builtin_suite_has_enough_tasks():
    suite = load_suite("builtin")
    assert len(suite.tasks) >= 30
    tiers = [task.difficulty for task in suite.tasks]
    for tier in ("easy", "medium", "hard"):
        assert tiers.count(tier) >= 8, tier
    multi_file = [task for task in suite.tasks if "multi-file" in task.tags]
    assert len(multi_file) > len(suite.tasks) // 2
    for task in suite.tasks:
        assert task.reference is not None, task.id
        assert task.expected_tests, task.id
        assert not (task.workspace / "reference").exists(), task.id


def test_suite_get_suggests_close_ids():
    suite = load_suite("humaneval")
    with pytest.raises(TaskError, match="did you mean"):
        suite.get("humaneval-1000")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('difficulty = "insane"', "difficulty 'insane' is invalid"),
        ('tags = "abc"', "tags must be a list of strings"),
    ],
)
def test_load_task_invalid_top_level_values(tmp_path, line, message):
    root = make_task(tmp_path / "demo", line + "\n" + VALID_TOML)
    with pytest.raises(TaskError, match=message):
        load_task(root)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (VALID_TOML.replace("expected_tests = 1", 'expected_tests = "one"'), "expected_tests"),
        (VALID_TOML.replace("expected_tests = 1", "expected_tests = 0"), "expected_tests"),
        (VALID_TOML + '[timeouts]\nagent_seconds = "lots"\n', "agent_seconds"),
        (VALID_TOML + "[timeouts]\ntest_seconds = -5\n", "test_seconds"),
        (VALID_TOML.replace('command = "pytest"', "command = 3"), "command must be a string"),
        (VALID_TOML.replace('command = "pytest"\n', ""), "command is missing"),
        (VALID_TOML.replace('language = "python"', 'language = "Py thon"'), "language"),
    ],
)
def test_load_task_invalid_table_values(tmp_path, toml, message):
    root = make_task(tmp_path / "demo", toml)
    with pytest.raises(TaskError, match=message):
        load_task(root)


def test_load_task_non_utf8_prompt(tmp_path):
    root = make_task(tmp_path / "demo")
    (root / "prompt.md").write_bytes(b"\xff\xfe broken")
    with pytest.raises(TaskError, match="not valid UTF-8"):
        load_task(root)


def test_load_task_shell_command(tmp_path):
    toml = VALID_TOML.replace('language = "python"', 'language = "shell"')
    toml = toml.replace('command = "pytest"', 'command = "sh $EVOLARIUM_TESTS/run.sh"')
    root = make_task(tmp_path / "demo", toml, tests=False)
    with pytest.raises(TaskError, match="has no hidden tests"):
        load_task(root)

    (root / "tests").mkdir()
    (root / "tests" / "run.sh").write_text("test -f demo.py\n")
    task = load_task(root)
    assert task.language == "shell"
    assert task.test_command == "sh $EVOLARIUM_TESTS/run.sh"
