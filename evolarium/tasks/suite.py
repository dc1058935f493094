"""Suites: named sets of tasks (builtin, humaneval) or a directory of tasks."""

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from evolarium.errors import TaskError
from evolarium.paths import cache_dir
from evolarium.tasks import humaneval
from evolarium.tasks.task import TASK_FILE, Task, load_task

NAMED_SUITES = ("builtin", "humaneval")


@dataclass(frozen=True)
class Suite:
    """A named, ordered set of tasks."""

    name: str
    tasks: tuple[Task, ...]

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


def load_suite(name: str) -> Suite:
    """Load a named suite, or every task under a directory path."""
    if name == "builtin":
        return Suite("builtin", load_dir(builtin_dir()))
    if name == "humaneval":
        return Suite("humaneval", load_dir(humaneval.materialize(cache_dir() / "tasks")))
    path = Path(name).expanduser()
    if path.is_dir():
        return Suite(str(path), load_dir(path))
    raise TaskError(
        f"unknown suite {name!r}; use one of {', '.join(NAMED_SUITES)} or a path to a "
        f"directory of tasks"
    )


def load_dir(root: Path) -> tuple[Task, ...]:
    """Load one task directory, or every task directory directly under ``root``."""
    if (root / TASK_FILE).is_file():
        return (load_task(root),)
    task_dirs = sorted(
        (path for path in root.iterdir() if (path / TASK_FILE).is_file()),
        key=_natural_key,
    )
    if not task_dirs:
        raise TaskError(f"no tasks in {root}: each task directory needs a {TASK_FILE}")
    tasks = tuple(load_task(path) for path in task_dirs)
    _check_unique(tasks, root)
    return tasks


def _natural_key(path: Path) -> tuple:
    stem, _, number = path.name.rpartition("-")
    return (stem, int(number)) if number.isdigit() else (path.name, -1)


def _check_unique(tasks: tuple[Task, ...], root: Path) -> None:
    seen: dict[str, Path] = {}
    for task in tasks:
        if task.id in seen:
            raise TaskError(
                f"duplicate task id {task.id!r} in {seen[task.id]} and {task.root}; "
                f"give each task a unique id in {TASK_FILE}"
            )
        seen[task.id] = task.root
