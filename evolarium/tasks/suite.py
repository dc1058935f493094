"""Suites: named sets of tasks (builtin, humaneval), Exercism exercises, or a directory of tasks."""

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from evolarium.errors import TaskError
from evolarium.paths import cache_dir
from evolarium.tasks import exercism, humaneval
from evolarium.tasks.task import TASK_FILE, Task, load_task

log = logging.getLogger(__name__)

NAMED_SUITES = ("builtin", "humaneval")
EXERCISM_PREFIX = "exercism:"


@dataclass(frozen=True)
class InvalidTask:
    """A task directory or exercise that failed validation, with the error message."""

    source: Path
    error: str


@dataclass(frozen=True)
class Suite:
    """A named, ordered set of tasks, and the invalid tasks skipped while loading it."""

    name: str
    tasks: tuple[Task, ...]
    invalid: tuple[InvalidTask, ...] = ()

    def get(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        ids = [task.id for task in self.tasks]
        close = difflib.get_close_matches(task_id, ids, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise TaskError(f"task {task_id!r} is not in suite {self.name}{hint}")


def builtin_dir() -> Path:
    return Path(str(resources.files("evolarium.tasks") / "builtin"))


def load_suite(name: str, *, skip_invalid: bool = False) -> Suite:
    """Load a named suite, ``exercism:PATH``, or every task under a directory path.

    With ``skip_invalid``, an invalid task is logged, listed in ``Suite.invalid`` and
    left out, and TaskError is raised only when no valid task is left. Without it,
    the first invalid task raises TaskError.
    """
    if name == "builtin":
        return _suite("builtin", _task_dir_loaders(builtin_dir()), skip_invalid)
    if name == "humaneval":
        suite_dir = humaneval.materialize(cache_dir() / "tasks")
        return _suite("humaneval", _task_dir_loaders(suite_dir), skip_invalid)
    if name.startswith(EXERCISM_PREFIX):
        path = Path(name.removeprefix(EXERCISM_PREFIX)).expanduser()
        return _suite(name, _exercise_loaders(path), skip_invalid)
    path = Path(name).expanduser()
    if path.is_dir():
        return _suite(str(path), _task_dir_loaders(path), skip_invalid)
    raise TaskError(
        f"unknown suite {name!r}; use one of {', '.join(NAMED_SUITES)}, exercism:PATH, or a "
        f"path to a directory of tasks"
    )


def load_dir(root: Path, *, skip_invalid: bool = False) -> tuple[Task, ...]:
    """Load one task directory, or every task directory directly under ``root``."""
    return _suite(str(root), _task_dir_loaders(root), skip_invalid).tasks


# A loader validates one source (a task directory or an exercise) and returns its task.
Loader = tuple[Path, Callable[[], Task]]


def _task_dir_loaders(root: Path) -> list[Loader]:
    if (root / TASK_FILE).is_file():
        return [(root, lambda: load_task(root))]
    task_dirs = sorted(
        (path for path in root.iterdir() if (path / TASK_FILE).is_file()),
        key=_natural_key,
    )
    if not task_dirs:
        raise TaskError(f"no tasks in {root}: each task directory needs a {TASK_FILE}")
    return [(path, lambda path=path: load_task(path)) for path in task_dirs]


def _exercise_loaders(root: Path) -> list[Loader]:
    dest = cache_dir() / "tasks"
    return [
        (path, lambda path=path: load_task(exercism.materialize(path, dest)))
        for path in exercism.exercise_dirs(root)
    ]


def _suite(name: str, loaders: list[Loader], skip_invalid: bool) -> Suite:
    tasks: list[Task] = []
    invalid: list[InvalidTask] = []
    seen: dict[str, Path] = {}
    for source, load in loaders:
        try:
            task = load()
            _check_unique(task, source, seen)
        except TaskError as error:
            if not skip_invalid:
                raise
            log.warning("skipping invalid task %s: %s", source, error)
            invalid.append(InvalidTask(source, str(error)))
            continue
        seen[task.id] = source
        tasks.append(task)

    if not tasks:
        raise TaskError(
            f"no valid tasks in suite {name}: all {len(invalid)} are invalid; the first error: "
            f"{invalid[0].error}"
        )
    return Suite(name, tuple(tasks), tuple(invalid))


def _natural_key(path: Path) -> tuple:
    stem, _, number = path.name.rpartition("-")
    return (stem, int(number)) if number.isdigit() else (path.name, -1)


def _check_unique(task: Task, source: Path, seen: dict[str, Path]) -> None:
    if task.id in seen:
        raise TaskError(
            f"duplicate task id {task.id!r} in {seen[task.id]} and {source}; "
            f"give each task a unique id in {TASK_FILE}"
        )
