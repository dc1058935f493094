"""Executors run evaluations for the loop: on this machine, or elsewhere (see ``ray``).

The loop calls :meth:`Executor.evaluate` from several threads at once, up to its
worker count. Whatever runs the evaluation, the loop's process is the only writer
to the archive: an executor returns an evaluation only after it is stored.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import docker

from evolarium.archive import Archive, Evaluation
from evolarium.errors import ConfigError
from evolarium.evolve.config import RunConfig
from evolarium.evolve.evaluation import Evaluator
from evolarium.llm.gateway import Gateway
from evolarium.tasks.task import Task


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

    def drop_running(self) -> None:
        """Store none of the evaluations that end from now on: the run is stopping."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """Runs each evaluation in sandboxes on this machine's Docker daemon."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    def evaluate(self, job: EvaluationJob) -> Evaluation:
        return self.evaluator.evaluate(job.agent_id, job.agent_dir, job.task, job.stage)

    def drop_running(self) -> None:
        self.evaluator.dropping.set()

    def close(self) -> None:
        pass


def check_executor(config: RunConfig) -> None:
    """Raise ConfigError when ``config.executor`` cannot run here, before a run starts."""
    if config.executor != "ray":
        return
    from evolarium.evolve.ray_executor import check_ray_address, import_ray

    import_ray()
    if config.replay_from:
        raise ConfigError("--replay-from runs with the local executor only; leave out --executor")
    address = config.ray_address or os.environ.get("RAY_ADDRESS")
    if address:
        check_ray_address(address)


def build_executor(
    config: RunConfig,
    *,
    client: docker.DockerClient,
    image: str,
    gateway: Gateway,
    archive: Archive,
    run_id: str,
) -> Executor:
    """Make the executor that ``config.executor`` names, for one run.

    Raises ConfigError when Ray is needed but not installed, or cannot serve the run.
    """
    if config.executor == "local":
        evaluator = Evaluator(
            client=client,
            image=image,
            gateway=gateway,
            archive=archive,
            run_id=run_id,
            limits=config.agent_limits,
            max_steps=config.agent_steps,
        )
        return LocalExecutor(evaluator)

    from evolarium.evolve.ray_executor import SLOTS_PER_EVALUATION, RayExecutor

    check_executor(config)
    return RayExecutor(
        archive=archive,
        gateway=gateway,
        run_id=run_id,
        image=image,
        limits=config.agent_limits,
        max_steps=config.agent_steps,
        model=config.model,
        purposes=config.purpose_models(),
        aliases=config.aliases,
        address=config.ray_address,
        local_slots=SLOTS_PER_EVALUATION * config.workers,
    )
