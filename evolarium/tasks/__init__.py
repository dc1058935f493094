"""Tasks, suites and the scorer."""

from evolarium.tasks.suite import InvalidTask, Suite, load_suite
from evolarium.tasks.task import Task, load_task

__all__ = ["InvalidTask", "Suite", "Task", "load_suite", "load_task"]
