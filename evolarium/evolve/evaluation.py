"""Evaluation: an agent run on one task, then scored by hidden tests in a fresh sandbox."""

import errno
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import docker
import docker.errors

from evolarium.archive import Archive, Evaluation
from evolarium.archive.snapshot import pack_dir
from evolarium.errors import DockerUnavailableError, HostError
from evolarium.evolve.rollout import run_agent
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.sandbox import Limits, SandboxError
from evolarium.tasks.scorer import score_workspace
from evolarium.tasks.task import Task

log = logging.getLogger(__name__)

# Agent outcomes that explain a failed score better than the scoring outcome does.
AGENT_LIMITS = {"timeout", "oom", "pids", "disk", "output_limit"}


class EvaluationDropped(Exception):
    """An evaluation ended after its run was stopped, so it was not stored."""


@dataclass
class Evaluator:
    """Evaluates agents on tasks and stores every evaluation as soon as it ends."""

    client: docker.DockerClient
    image: str
    gateway: Gateway
    archive: Archive
    run_id: str
    limits: Limits
    max_steps: int
    dropping: threading.Event = field(default_factory=threading.Event)
    """Set when the run stops: evaluations that end later are not stored, and a resumed
    run makes them again."""

    def evaluate(self, agent_id: str, agent_dir: Path, task: Task, stage: str) -> Evaluation:
        evaluation_id = uuid.uuid4().hex[:12]
        context = CallContext(
            run_id=self.run_id,
            agent_id=agent_id,
            task_id=task.id,
            evaluation_id=evaluation_id,
            purpose="agent",
        )
        limits = _with_timeout(self.limits, task.agent_timeout_s)
        started = time.monotonic()
        try:
            row = self._run_and_score(
                evaluation_id, agent_id, agent_dir, task, stage, context, limits
            )
        except (SandboxError, OSError) as error:
            self._check_host(error)
            log.warning("evaluation of %s on %s failed: %s", agent_id, task.id, error)
            row = _failed(evaluation_id, self.run_id, agent_id, task.id, stage, str(error))
        if row.outcome == "sandbox_error":
            self._check_host(None)
        row.duration_s = time.monotonic() - started
        calls, tokens = self.archive.evaluation_call_totals(evaluation_id)
        row.calls = calls
        row.tokens = tokens
        if self.dropping.is_set():
            # Its sandboxes may have been removed under it, so its outcome is not its own.
            raise EvaluationDropped(f"the run stopped during the evaluation of {agent_id}")
        self.archive.add(row)
        return row

    def _check_host(self, error: Exception | None) -> None:
        """Stop the run, storing nothing more, when the host rather than the agent failed.

        A full disk or a Docker daemon that stopped responding would otherwise
        score every later evaluation 0 and mislead the search.
        """
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise HostError(
                f"the host disk is full ({error}); free space and start the run again; "
                f"the evaluations stored so far are kept"
            ) from error
        try:
            self.client.ping()
        except (OSError, docker.errors.DockerException) as lost:
            raise DockerUnavailableError(
                f"the Docker daemon stopped responding during the run ({lost.__class__.__name__});"
                f" start it again (scripts/setup.sh does) and start the run again; the "
                f"evaluations stored so far are kept"
            ) from error

    def _run_and_score(
        self,
        evaluation_id: str,
        agent_id: str,
        agent_dir: Path,
        task: Task,
        stage: str,
        context: CallContext,
        limits: Limits,
    ) -> Evaluation:
        with run_agent(
            self.client,
            self.image,
            self.gateway,
            agent_dir=agent_dir,
            prompt=task.prompt(),
            workspace=task.workspace,
            context=context,
            limits=limits,
            max_steps=self.max_steps,
        ) as rollout:
            workspace_hash, data = pack_dir(rollout.workspace)
            self.archive.store_snapshot(workspace_hash, data)
            score = score_workspace(
                self.client,
                self.image,
                task,
                rollout.workspace,
                run_id=self.run_id,
                limits=replace(self.limits, timeout_s=task.test_timeout_s),
                evaluation_id=evaluation_id,
            )
        return Evaluation(
            id=evaluation_id,
            run_id=self.run_id,
            agent_id=agent_id,
            task_id=task.id,
            stage=stage,
            score=score.score,
            resolved=score.resolved,
            outcome=_outcome(rollout.result.outcome, score.outcome),
            tests_passed=score.passed,
            tests_total=score.total,
            duration_s=0.0,
            calls=0,
            tokens=0,
            transcript=rollout.result.output,
            test_output=score.output,
            workspace_hash=workspace_hash,
            tampering=score.tampering,
        )


def _outcome(agent: str, scoring: str) -> str:
    """Name an evaluation's end: a limit the agent hit comes first, except tampering."""
    if scoring == "tampering" or agent not in AGENT_LIMITS:
        return agent if scoring == "ok" else scoring
    return agent


def _with_timeout(limits: Limits, timeout_s: float) -> Limits:
    return replace(limits, timeout_s=min(limits.timeout_s, timeout_s))


def _failed(
    evaluation_id: str, run_id: str, agent_id: str, task_id: str, stage: str, error: str
) -> Evaluation:
    return Evaluation(
        id=evaluation_id,
        run_id=run_id,
        agent_id=agent_id,
        task_id=task_id,
        stage=stage,
        score=0.0,
        resolved=False,
        outcome="sandbox_error",
        tests_passed=0,
        tests_total=0,
        duration_s=0.0,
        calls=0,
        tokens=0,
        transcript=error,
        test_output="",
    )
