"""Executors run evaluations for the loop: on this machine, or elsewhere (see ``ray``).

The loop calls :meth:`Executor.evaluate` from several threads at once, up to its
worker count. Whatever runs the evaluation, the loop's process is the only writer
to the archive: an executor returns an evaluation only after it is stored.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from evolarium.archive import Evaluation
from evolarium.evolve.evaluation import Evaluator
from evolarium.tasks.task import Task

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class EvaluationJob:
    """One evaluation to run: an agent's code on one task, in one stage."""

    agent_id: str
    agent_dir: Path
    """A host directory with the agent's code, on the loop's machine."""
    code_hash: str
    """The content hash of that code (see evolarium.archive.snapshot.hash_dir)."""
    task: Task
    stage: str


class Executor(Protocol):
    """Runs evaluations and stores each one before returning it."""

    def evaluate(self, job: EvaluationJob) -> Evaluation: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Runs each evaluation in sandboxes on this machine's Docker daemon."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def evaluate(self, job: EvaluationJob) -> Evaluation:
        return self.evaluator.evaluate(job.agent_id, job.agent_dir, job.task, job.stage)

    def close(self) -> None:
        pass
