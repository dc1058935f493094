"""The task format: a directory with task.toml, prompt.md, workspace/ and tests/."""

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from evolarium.errors import TaskError

TASK_FILE = "task.toml"
PROMPT_FILE = "prompt.md"
WORKSPACE_DIR = "workspace"
TESTS_DIR = "tests"
REFERENCE_DIR = "reference"

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._/-]*$")
TOP_LEVEL_KEYS = {"id", "title", "language", "difficulty", "tags", "test", "timeouts"}
TABLE_KEYS = {
    "test": {"command", "expected_tests"},
    "timeouts": {"agent_seconds", "test_seconds"},
}
LANGUAGE_PATTERN = re.compile(r"^[a-z][a-z0-9+#._-]*$")
PYTEST_COMMAND = "pytest"
"""The test command that runs the hidden tests with evolarium's pytest harness."""
DIFFICULTIES = ("easy", "medium", "hard")


@dataclass(frozen=True)
class Task:
    """A coding problem: a prompt, a starting workspace and hidden tests."""

    id: str
    title: str
    root: Path
    language: str = "python"
    difficulty: str = "medium"
    tags: tuple[str, ...] = field(default_factory=tuple)
    test_command: str = "pytest"
    expected_tests: int | None = None
    agent_timeout_s: float = 300.0
    test_timeout_s: float = 60.0

    @property
    def prompt_path(self) -> Path:
        return self.root / PROMPT_FILE

    @property
    def workspace(self) -> Path:
        return self.root / WORKSPACE_DIR

    @property
    def tests(self) -> Path:
        return self.root / TESTS_DIR

    @property
    def reference(self) -> Path | None:
        path = self.root / REFERENCE_DIR
        return path if path.is_dir() else None

    def prompt(self) -> str:
        return self.prompt_path.read_text(encoding="utf-8")


def load_task(root: Path) -> Task:
    """Read and validate a task directory; raise TaskError naming the file and field."""
    task_file = root / TASK_FILE
    if not task_file.is_file():
        raise TaskError(f"{task_file}: missing; every task directory needs a {TASK_FILE}")
    try:
        data = tomllib.loads(task_file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TaskError(f"{task_file}: invalid TOML: {error}") from error

    _check_keys(data, TOP_LEVEL_KEYS, "", task_file)
    for table, keys in TABLE_KEYS.items():
        if not isinstance(data.get(table, {}), dict):
            raise TaskError(f"{task_file}: {table!r} must be a table, written [{table}]")
        _check_keys(data.get(table, {}), keys, f"[{table}] ", task_file)
    task_id = _require(data, "id", str, task_file)
    if not ID_PATTERN.match(task_id):
        raise TaskError(
            f"{task_file}: id {task_id!r} is invalid; use lowercase letters, digits, '-', '_', '.'"
        )
    test = data.get("test", {})
    timeouts = data.get("timeouts", {})
    language = data.get("language", "python")
    if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
        raise TaskError(
            f"{task_file}: language {language!r} is invalid; use a lowercase name such as "
            f'"python" or "shell"'
        )
    command = test.get("command")
    if not command:
        raise TaskError(
            f'{task_file}: [test] command is missing; set command = "pytest", or a shell '
            f"command that runs the tests in $EVOLARIUM_TESTS"
        )
    if not isinstance(command, str) or "\0" in command:
        raise TaskError(f"{task_file}: [test] command must be a string, got {command!r}")

    difficulty = data.get("difficulty", "medium")
    if difficulty not in DIFFICULTIES:
        raise TaskError(
            f"{task_file}: difficulty {difficulty!r} is invalid; "
            f"use one of {', '.join(DIFFICULTIES)}"
        )
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise TaskError(f'{task_file}: tags must be a list of strings, like tags = ["bugfix"]')
    expected = test.get("expected_tests")
    if expected is not None and (type(expected) is not int or expected < 1):
        raise TaskError(
            f"{task_file}: [test] expected_tests must be a whole number of at least 1, "
            f"got {expected!r}"
        )

    task = Task(
        id=task_id,
        title=_require(data, "title", str, task_file),
        root=root,
        language=language,
        difficulty=difficulty,
        tags=tuple(tags),
        test_command=command,
        expected_tests=expected,
        agent_timeout_s=_seconds(timeouts, "agent_seconds", 300.0, task_file),
        test_timeout_s=_seconds(timeouts, "test_seconds", 60.0, task_file),
    )
    _check_layout(task, task_file)
    return task


def _check_keys(data: dict, valid: set[str], where: str, task_file: Path) -> None:
    unknown = sorted(set(data) - valid)
    if unknown:
        raise TaskError(
            f"{task_file}: unknown key {where}{unknown[0]!r}; valid keys there are "
            f"{', '.join(sorted(valid))}"
        )


def _seconds(timeouts: dict, key: str, default: float, task_file: Path) -> float:
    value = timeouts.get(key, default)
    if type(value) not in (int, float) or not value > 0:
        raise TaskError(
            f"{task_file}: [timeouts] {key} must be a number of seconds above 0, got {value!r}"
        )
    return float(value)


def _require(data: dict, key: str, kind: type, task_file: Path):
    if key not in data:
        raise TaskError(f"{task_file}: field {key!r} is missing")
    value = data[key]
    if not isinstance(value, kind):
        raise TaskError(
            f"{task_file}: field {key!r} must be a {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _check_layout(task: Task, task_file: Path) -> None:
    if not task.prompt_path.is_file():
        raise TaskError(f"{task.prompt_path}: missing; write the problem statement there")
    try:
        task.prompt()
    except UnicodeDecodeError as error:
        raise TaskError(
            f"{task.prompt_path}: not valid UTF-8 ({error.reason}); save it as UTF-8"
        ) from error
    if not task.workspace.is_dir():
        raise TaskError(f"{task.workspace}: missing; put the starting files there")
    if task.test_command == PYTEST_COMMAND:
        if not task.tests.is_dir() or not any(task.tests.glob("test*.py")):
            raise TaskError(
                f"task {task.id} has no hidden tests: add test_*.py files under {task.tests}"
            )
    elif not task.tests.is_dir() or not any(task.tests.iterdir()):
        raise TaskError(
            f"task {task.id} has no hidden tests: put the files its test command runs "
            f"under {task.tests}"
        )
    for path in task.root.rglob("*"):
        if path.is_symlink():
            raise TaskError(f"{path}: symlinks are not allowed in a task directory; copy the file")
