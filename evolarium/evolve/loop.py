"""The evolution loop: select a parent, make a child, validate it, evaluate it in stages.

The archive is written as things happen, so a killed run loses at most the
work in flight. Scores, the frontier and selection statistics are derived from
the archive.
"""

import logging
import random
import secrets
import shutil
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import docker
import numpy as np

from evolarium.agents import contract
from evolarium.archive import Agent, Archive, Evaluation
from evolarium.archive.scores import frontier, mean_scores, score_table
from evolarium.archive.snapshot import pack_dir, unpack
from evolarium.evolve.config import RunConfig
from evolarium.evolve.evaluation import Evaluator
from evolarium.evolve.operators import self_modify
from evolarium.evolve.selection import ScoreMatrix, make_selection
from evolarium.evolve.validation import validate_child
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.sandbox import SandboxError
from evolarium.tasks.check import is_flaky
from evolarium.tasks.task import Task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSummary:
    """Numbers shown after each generation."""

    generation: int
    agents: int
    invalid: int
    best_score: float
    best_agent: str | None
    frontier_size: int
    calls: int
    tokens: int
    stopped_by: str | None = None
    """The reason the run stopped before its last generation, such as a spent budget."""


ProgressCallback = Callable[[str, dict], None]


def new_agent_id() -> str:
    return "a" + secrets.token_hex(4)


class Evolution:
    """One run of the loop over a fixed task list."""

    def __init__(
        self,
        *,
        config: RunConfig,
        run_id: str,
        run_dir: Path,
        archive: Archive,
        client: docker.DockerClient,
        image: str,
        gateway: Gateway,
        tasks: list[Task],
        on_event: ProgressCallback | None = None,
    ) -> None:
        self.config = config
        self.run_id = run_id
        self.archive = archive
        self.client = client
        self.image = image
        self.gateway = gateway
        self.tasks = tasks
        self.task_ids = [task.id for task in tasks]
        # A task whose reference passes only sometimes (see `evolarium tasks check`) cannot
        # make an agent a Pareto winner.
        self.pareto_task_ids = [task.id for task in tasks if not is_flaky(task)]
        self.rng = random.Random(config.seed)
        self._budget_reported = False
        self.selection = make_selection(config.selection)
        self.workdir = run_dir / "work"
        self.on_event = on_event or (lambda kind, data: None)
        self.evaluator = Evaluator(
            client=client,
            image=image,
            gateway=gateway,
            archive=archive,
            run_id=run_id,
            limits=config.agent_limits,
            max_steps=config.agent_steps,
        )

    # The loop

    def run(self, seed_dir: Path) -> GenerationSummary:
        seed = self._add_agent(seed_dir, parent=None, operator="seed", generation=0)
        self._event("generation_started", "generation 0: evaluating the seed agent", generation=0)
        self._evaluate(seed, self.tasks, stage="full")
        self.archive.update_agent(seed.id, status="evaluated")
        summary = self.summarize(0)
        self._event("generation_finished", _describe(summary), generation=0, data=summary.__dict__)

        for generation in range(1, self.config.generations + 1):
            if self._budget_spent(generation):
                break
            self._event("generation_started", f"generation {generation}", generation=generation)
            for _ in range(self.config.children_per_generation):
                if self._budget_spent(generation):
                    break
                self._make_and_evaluate_child(generation)
            summary = self.summarize(generation)
            self._event(
                "generation_finished",
                _describe(summary),
                generation=generation,
                data=summary.__dict__,
            )
        return replace(summary, stopped_by=self.gateway.meter.exhausted())

    def _budget_spent(self, generation: int) -> bool:
        """Tell whether the run's model budget is spent, and record that once as an event."""
        reason = self.gateway.meter.exhausted()
        if reason is None:
            return False
        if not self._budget_reported:
            self._budget_reported = True
            self._event("budget_spent", f"stopping: {reason}", generation=generation)
        return True

    def _make_and_evaluate_child(self, generation: int) -> None:
        if self._evaluate_more_instead(generation):
            return
        parent = self._select_parent()
        self._event(
            "parent_selected", f"parent {parent.id}", generation=generation, agent_id=parent.id
        )
        parent_dir = self._materialize(parent)
        child_id = new_agent_id()
        failures = self._failures(parent.id)
        child_dir = self.workdir / "children" / child_id
        context = CallContext(run_id=self.run_id, agent_id=child_id, purpose="operator")
        try:
            made = self_modify(
                self.client,
                self.image,
                self.gateway,
                parent_dir=parent_dir,
                failures=failures,
                context=context,
                limits=self.config.agent_limits,
                max_steps=self.config.agent_steps,
                dest=child_dir,
            )
        except SandboxError as error:
            self._record_operator_failure(parent, child_id, generation, str(error))
            return
        child = self._add_agent(
            child_dir,
            parent=parent,
            operator=self.config.operator,
            generation=generation,
            agent_id=child_id,
            diff=made.diff,
            operator_log=made.log,
        )
        if not made.changed:
            reason = "the operator made no change to the parent's code"
            self._reject(child, generation, f"{reason} (operator run: {made.outcome})")
            return

        verdict = validate_child(
            self.client,
            self.image,
            self.gateway,
            code_dir=child_dir,
            context=context,
            limits=self.config.agent_limits,
        )
        if not verdict.valid:
            self._reject(child, generation, verdict.reason)
            return

        self._evaluate_in_stages(child, generation)

    def _evaluate_in_stages(self, child: Agent, generation: int) -> None:
        size = min(self.config.minibatch, len(self.tasks))
        minibatch = self.rng.sample(self.tasks, size)
        results = self._evaluate(child, minibatch, stage="minibatch")
        mean = sum(r.score for r in results) / len(results) if results else 0.0
        rest = [task for task in self.tasks if task not in minibatch]
        if rest and mean >= self.config.minibatch_threshold:
            self._evaluate(child, rest, stage="full")
        elif rest:
            self._event(
                "stage_failed",
                f"{child.id} scored {mean:.2f} on the minibatch, below the threshold "
                f"{self.config.minibatch_threshold:.2f}; not evaluated on the rest",
                generation=generation,
                agent_id=child.id,
            )
        self.archive.update_agent(child.id, status="evaluated")

    # Steps

    def _add_agent(
        self,
        code_dir: Path,
        *,
        parent: Agent | None,
        operator: str,
        generation: int,
        agent_id: str | None = None,
        diff: str | None = None,
        operator_log: str | None = None,
    ) -> Agent:
        code_hash, data = pack_dir(code_dir)
        self.archive.store_snapshot(code_hash, data)
        agent = Agent(
            id=agent_id or new_agent_id(),
            run_id=self.run_id,
            parent_id=parent.id if parent else None,
            operator=operator,
            generation=parent.generation + 1 if parent else 0,
            code_hash=code_hash,
            diff=diff,
            operator_log=operator_log,
        )
        self.archive.add(agent)
        self._event(
            "agent_added",
            f"{agent.id} ({operator}, generation {generation})",
            generation=generation,
            agent_id=agent.id,
        )
        return agent

    def _record_operator_failure(
        self, parent: Agent, child_id: str, generation: int, error: str
    ) -> None:
        """Archive a child whose operator run failed; it keeps the parent's code."""
        child = Agent(
            id=child_id,
            run_id=self.run_id,
            parent_id=parent.id,
            operator=self.config.operator,
            generation=parent.generation + 1,
            code_hash=parent.code_hash,
            diff="",
        )
        self.archive.add(child)
        self._reject(child, generation, f"the operator failed: {error}")

    def _reject(self, agent: Agent, generation: int, reason: str) -> None:
        self.archive.update_agent(agent.id, status="invalid", reason=reason)
        self._event(
            "agent_invalid",
            f"{agent.id} is invalid: {reason}",
            generation=generation,
            agent_id=agent.id,
        )

    def _evaluate(self, agent: Agent, tasks: list[Task], stage: str) -> list[Evaluation]:
        agent_dir = self._materialize(agent)
        self.archive.update_agent(agent.id, status="evaluating")

        def evaluate_one(task: Task) -> Evaluation | None:
            if self.gateway.meter.exhausted():
                # With the budget spent, an evaluation could only score an agent that
                # cannot call its model; the task stays unevaluated instead.
                return None
            result = self.evaluator.evaluate(agent.id, agent_dir, task, stage)
            self._event(
                "evaluation_finished",
                f"{agent.id} on {task.id}: score {result.score:.2f} ({result.outcome})",
                generation=agent.generation,
                agent_id=agent.id,
                data={"task": task.id, "score": result.score, "outcome": result.outcome},
            )
            return result

        with ThreadPoolExecutor(max_workers=self.config.workers) as pool:
            return [result for result in pool.map(evaluate_one, tasks) if result is not None]

    def _select_parent(self) -> Agent:
        agents, matrix = self._score_matrix()
        return agents[self.selection.pick(matrix, self.rng)]

    def _score_matrix(self) -> tuple[list[Agent], ScoreMatrix]:
        """Return the evaluated agents in creation order and their score matrix."""
        # NOTE: rebuilt from the archive for every pick; a run of thousands of agents
        # would want it kept up to date as evaluations arrive.
        all_agents = self.archive.agents(self.run_id)
        agents = [agent for agent in all_agents if agent.status == "evaluated"]
        table = score_table(self.archive.evaluations(self.run_id))
        children = Counter(agent.parent_id for agent in all_agents if agent.parent_id)
        # Flaky tasks cannot make a Pareto winner, so the pareto strategy does not see them.
        task_ids = self.pareto_task_ids if self.config.selection == "pareto" else self.task_ids
        matrix = ScoreMatrix.build(
            [agent.id for agent in agents],
            task_ids,
            table,
            parents={agent.id: agent.parent_id for agent in agents},
            children=dict(children),
        )
        return agents, matrix

    def _evaluate_more_instead(self, generation: int) -> bool:
        """For cmp: evaluate one more task of an existing agent when its rule calls for it.

        Return False when the loop should make a child instead.
        """
        should_expand = getattr(self.selection, "should_expand", None)
        if should_expand is None:
            return False
        agents, matrix = self._score_matrix()
        evaluations = int((~np.isnan(matrix.scores)).sum())
        if should_expand(len(agents), evaluations):
            return False
        open_rows = np.isnan(matrix.scores).any(axis=1)
        if not open_rows.any():
            return False
        pick = self.selection.pick(matrix, self.rng)
        if not open_rows[pick]:
            pick = self.rng.choice(np.flatnonzero(open_rows).tolist())
        agent = agents[pick]
        by_id = {task.id: task for task in self.tasks}
        missing = [
            by_id[task_id]
            for task_id, score in zip(matrix.task_ids, matrix.scores[pick], strict=True)
            if np.isnan(score)
        ]
        task = self.rng.choice(missing)
        self._event(
            "evaluate_more",
            f"{agent.id}: one more task, {task.id}, instead of a new child",
            generation=generation,
            agent_id=agent.id,
        )
        self._evaluate(agent, [task], stage="full")
        self.archive.update_agent(agent.id, status="evaluated")
        return True

    def _failures(self, agent_id: str) -> list[Evaluation]:
        evaluations = self.archive.evaluations(self.run_id, agent_id)
        failed = [e for e in evaluations if not e.resolved]
        self.rng.shuffle(failed)
        return sorted(failed, key=lambda e: e.score)

    def _materialize(self, agent: Agent) -> Path:
        path = self.workdir / "agents" / agent.id
        if not (path / contract.ENTRY_POINT).is_file():
            shutil.rmtree(path, ignore_errors=True)
            unpack(self.archive.snapshot(agent.code_hash), path)
        return path

    def summarize(self, generation: int) -> GenerationSummary:
        agents = self.archive.agents(self.run_id)
        table = score_table(self.archive.evaluations(self.run_id))
        means = mean_scores(table, self.task_ids)
        best_agent = max(means, key=lambda a: means[a], default=None)
        calls, tokens = self.archive.call_totals(self.run_id)
        return GenerationSummary(
            generation=generation,
            agents=len(agents),
            invalid=sum(1 for a in agents if a.status == "invalid"),
            best_score=means.get(best_agent, 0.0) if best_agent else 0.0,
            best_agent=best_agent,
            frontier_size=len(frontier(table, self.pareto_task_ids)),
            calls=calls,
            tokens=tokens,
        )

    def _event(self, kind: str, message: str, **fields) -> None:
        log.debug("%s: %s", kind, message)
        self.archive.add_event(self.run_id, kind, message, **fields)
        self.on_event(kind, {"message": message, **fields})


def _describe(summary: GenerationSummary) -> str:
    return (
        f"generation {summary.generation}: best score {summary.best_score:.2f}"
        f" ({summary.best_agent}), frontier {summary.frontier_size}, agents {summary.agents}"
        f" ({summary.invalid} invalid), calls {summary.calls}, tokens {summary.tokens}"
    )
