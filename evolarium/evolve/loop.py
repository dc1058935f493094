"""The evolution loop: a numbered sequence of steps over one archive.

Step 0 evaluates the seed agent. Every later step either makes a child (select
parents, run an operator, validate the child, evaluate it in stages) or, for the
``cmp`` strategy, evaluates one more task of an existing agent. Generation g contains
steps (g - 1) * children + 1 to g * children.

Each step first stores its plan (the parents, the operator, the child's id) as a
``step_started`` event and ends with a ``step_finished`` event, and every
evaluation is stored as soon as it ends. Each random choice of a step comes from a
generator seeded by the run's seed, the step and the choice's name, so a resumed
run (see :meth:`Evolution.resume`) makes the same choices as an uninterrupted one.
"""

import json
import logging
import random
import secrets
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import docker
import numpy as np

from evolarium.agents import contract
from evolarium.archive import Agent, Archive, Evaluation
from evolarium.archive.scores import frontier, mean_scores, score_table
from evolarium.archive.snapshot import pack_dir, unpack
from evolarium.errors import ArchiveError
from evolarium.evolve.config import RunConfig
from evolarium.evolve.executor import EvaluationJob, Executor, build_executor
from evolarium.evolve.operators import base, make_child
from evolarium.evolve.operators.merge import merge_partner
from evolarium.evolve.operators.portfolio import choose_operator
from evolarium.evolve.selection import ScoreMatrix, make_selection
from evolarium.evolve.validation import validate_child
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.plural import counted
from evolarium.sandbox import SandboxError
from evolarium.sandbox.staging import StagingError
from evolarium.tasks.check import is_flaky
from evolarium.tasks.task import Task

log = logging.getLogger(__name__)

STEP_STARTED = "step_started"
STEP_FINISHED = "step_finished"
FINAL_STATUSES = ("evaluated", "invalid", "duplicate")
BASELINE_STAGE = "baseline"
"""The stage of a parent's evaluation made so that a child can be compared with it."""


class StepInterrupted(Exception):
    """A stop (budget, evaluation limit) left some of a step's evaluations unstarted."""


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
    """The reason the run stopped before its last step, such as a spent budget."""


@dataclass(frozen=True)
class StepPlan:
    """The plan of one step, stored before the step starts so that a resumed run can finish it."""

    step: int
    kind: str
    """seed | child | evaluate_more"""
    agent: str
    """The seed's or the child's id, or the agent evaluated once more."""
    parents: tuple[str, ...] = ()
    operator: str | None = None
    ancestor: str | None = None
    """For merge: the common ancestor of the two parents."""
    task: str | None = None
    """For evaluate_more: the task."""
    attempt: int = 1
    """Raised each time a resumed run makes the step's child again."""

    @classmethod
    def from_data(cls, data: dict) -> "StepPlan":
        return cls(**{**data, "parents": tuple(data.get("parents", ()))})


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
        seed_dir: Path,
        on_event: ProgressCallback | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.config = config
        self.run_id = run_id
        self.archive = archive
        self.client = client
        self.image = image
        self.gateway = gateway
        self.tasks = tasks
        self.seed_dir = seed_dir
        self.task_ids = [task.id for task in tasks]
        # A task whose reference passes only sometimes (see `evolarium tasks check`) cannot
        # make an agent a Pareto winner.
        self.pareto_task_ids = [task.id for task in tasks if not is_flaky(task)]
        self.selection = make_selection(config.selection)
        self.workdir = run_dir / "work"
        self.on_event = on_event or (lambda kind, data: None)
        self.executor = executor or build_executor(
            config, client=client, image=image, gateway=gateway, archive=archive, run_id=run_id
        )
        self._started = time.monotonic()
        self._elapsed_before = 0.0
        self._stop_reported = False
        self._evaluation_lock = threading.Lock()
        self._evaluations_running = 0
        self._stopping = threading.Event()
        """Set when the run is interrupted: no evaluation starts after it."""

    # The loop

    @property
    def last_step(self) -> int:
        return self.config.generations * self.config.children_per_generation

    def run(self) -> GenerationSummary:
        """Run every step from the seed on."""
        return self._drive(0, None)

    def resume(self) -> GenerationSummary:
        """Continue a run after any stop: finish or redo its step in flight, then go on.

        Evaluations already stored are kept and never run again. A child that was made
        but not yet validated is removed and made again under a new id. A child in its
        evaluation stages keeps its evaluations and is evaluated on the tasks left.
        """
        finished, plan, elapsed = self._progress()
        self._elapsed_before = elapsed
        where = f"step {plan.step} in flight" if plan else f"after step {finished}"
        self._event("run_resumed", f"resuming {where}", data={"step": finished + 1})
        if plan is None and finished >= 0:
            self._finish_generation_if_due(finished)
        return self._drive(finished + 1, plan)

    def _drive(self, first_step: int, plan: StepPlan | None) -> GenerationSummary:
        stopped_by = None
        step = first_step
        while step <= self.last_step:
            if step > 0:
                stopped_by = self._stop_reason()
                if stopped_by:
                    self._report_stop(stopped_by, self._generation(step))
                    break
            if plan is None and self._opens_generation(step):
                generation = self._generation(step)
                label = "evaluating the seed agent" if step == 0 else "making children"
                self._event(
                    "generation_started", f"generation {generation}: {label}", generation=generation
                )
            try:
                self._take_step(step, plan)
            except StepInterrupted:
                # The step stays in flight, so that `evolarium resume` finishes it.
                stopped_by = self._stop_reason() or "a limit was reached during the step"
                self._report_stop(stopped_by, self._generation(step))
                break
            plan = None
            self._event(
                STEP_FINISHED,
                f"step {step} finished",
                generation=self._generation(step),
                data={"step": step, "elapsed_s": round(self._elapsed(), 3)},
            )
            self._finish_generation_if_due(step)
            step += 1
        summary = self.summarize(self._generation(min(step, self.last_step)))
        return replace(summary, stopped_by=stopped_by)

    def _take_step(self, step: int, plan: StepPlan | None) -> None:
        resumed = plan is not None
        if plan is None:
            plan = self._plan(step)
            self._store_plan(plan)
        if plan.kind == "seed":
            self._seed_step(plan)
        elif plan.kind == "evaluate_more":
            self._evaluate_more_step(plan)
        else:
            self._child_step(plan, resumed=resumed)

    def _plan(self, step: int) -> StepPlan:
        if step == 0:
            return StepPlan(step=0, kind="seed", agent=new_agent_id())
        more = self._plan_evaluate_more(step)
        if more is not None:
            return more
        return self._plan_child(step)

    def _store_plan(self, plan: StepPlan) -> None:
        self._event(
            STEP_STARTED,
            _describe_plan(plan),
            generation=self._generation(plan.step),
            agent_id=plan.agent,
            data=asdict(plan),
        )

    # Steps

    def _seed_step(self, plan: StepPlan) -> None:
        if not self._exists(plan.agent):
            self._add_agent(
                self.seed_dir, plan, parent=None, operator="seed", outcome=base.OUTCOME_OK
            )
        seed = self.archive.agent(plan.agent)
        self._evaluate(seed, self.tasks, stage="full")
        self.archive.update_agent(seed.id, status="evaluated")

    def _evaluate_more_step(self, plan: StepPlan) -> None:
        agent = self.archive.agent(plan.agent)
        task = next(task for task in self.tasks if task.id == plan.task)
        self._event(
            "evaluate_more",
            f"{agent.id}: one more task, {task.id}, instead of a new child",
            generation=self._generation(plan.step),
            agent_id=agent.id,
        )
        self._evaluate(agent, [task], stage="full")
        self.archive.update_agent(agent.id, status="evaluated")

    def _child_step(self, plan: StepPlan, *, resumed: bool) -> None:
        if resumed:
            plan = self._reconcile_child(plan)
            if plan is None:
                return
        generation = self._generation(plan.step)
        parents = [self.archive.agent(agent_id) for agent_id in plan.parents]
        self._event(
            "parent_selected",
            f"parent {' and '.join(p.id for p in parents)}, operator {plan.operator}",
            generation=generation,
            agent_id=parents[0].id,
        )
        made = self._run_operator(plan, parents)
        child = self._add_agent(
            made.code_dir,
            plan,
            parent=parents[0],
            operator=plan.operator,
            outcome=made.outcome,
            diff=made.diff,
            operator_log=made.log,
        )
        if made.outcome != base.OUTCOME_OK:
            detail = f": {made.detail}" if made.detail else ""
            self._reject(child, f"the {plan.operator} operator ended with {made.outcome}{detail}")
            return
        twin = self._same_code(child)
        if twin is not None:
            self._link(child, twin)
            return

        verdict = validate_child(
            self.client,
            self.image,
            self.gateway,
            code_dir=made.code_dir,
            context=self._operator_context(plan),
            limits=self.config.agent_limits,
        )
        if not verdict.valid:
            self._reject(child, verdict.reason)
            return
        self._evaluate_in_stages(child, plan)

    def _reconcile_child(self, plan: StepPlan) -> StepPlan | None:
        """Decide how a resumed run goes on with the child of an unfinished step.

        Return the plan to make the child with, or None when the step needs nothing more
        than its evaluations, which this method finishes.
        """
        if self._exists(plan.agent):
            child = self.archive.agent(plan.agent)
            if child.status in FINAL_STATUSES:
                return None
            if child.status == "evaluating":
                self._evaluate_in_stages(child, plan)
                return None
            self.archive.remove_agent(child.id)
            reason = "was made but not validated"
        else:
            reason = "was being made by its operator"
        # The calls of the interrupted attempt keep the old id; the new attempt gets its own.
        again = replace(plan, agent=new_agent_id(), attempt=plan.attempt + 1)
        self._event(
            "child_rolled_back",
            f"{plan.agent} {reason} when the run stopped; making it again as {again.agent}",
            generation=self._generation(plan.step),
            agent_id=plan.agent,
        )
        self._store_plan(again)
        return again

    def _run_operator(self, plan: StepPlan, parents: list[Agent]) -> base.Child:
        dest = self.workdir / "children" / plan.agent
        shutil.rmtree(dest, ignore_errors=True)
        inputs = base.OperatorInput(
            client=self.client,
            image=self.image,
            gateway=self.gateway,
            context=self._operator_context(plan),
            limits=self.config.agent_limits,
            max_steps=self.config.agent_steps,
            rng=self._rng(plan.step, "operator"),
            dest=dest,
            minibatch=self.config.minibatch or 3,
        )
        ancestor = self.archive.agent(plan.ancestor) if plan.ancestor else None
        try:
            return make_child(
                plan.operator,
                [self._parent(agent) for agent in parents],
                inputs,
                ancestor=self._parent(ancestor) if ancestor else None,
            )
        except (SandboxError, StagingError) as error:
            # A parent whose code cannot be staged (too large, a link that leaves it) is
            # the code's fault, not the sandbox's.
            outcome = (
                base.OUTCOME_AGENT_FAILED
                if isinstance(error, StagingError)
                else base.OUTCOME_SANDBOX_ERROR
            )
            log.warning("the %s operator of %s failed: %s", plan.operator, plan.agent, error)
            return base.Child(
                code_dir=dest,
                code_hash=parents[0].code_hash,
                diff="",
                log=str(error),
                outcome=outcome,
                detail=str(error),
            )

    def _parent(self, agent: Agent) -> base.Parent:
        return base.Parent(
            agent=agent,
            code_dir=self._materialize(agent),
            evaluations=self.archive.evaluations(self.run_id, agent.id),
        )

    def _operator_context(self, plan: StepPlan) -> CallContext:
        purpose = base.OPERATOR_PURPOSES.get(plan.operator, "operator")
        return CallContext(run_id=self.run_id, agent_id=plan.agent, purpose=purpose)

    # Plans

    def _plan_child(self, step: int) -> StepPlan:
        agents, matrix = self._score_matrix()
        parent = agents[self.selection.pick(matrix, self._rng(step, "parent"))]
        operator = choose_operator(self.config.operators, self._rng(step, "portfolio"))
        parents, ancestor = (parent.id,), None
        if operator == "merge":
            partner = self._merge_partner(parent, agents, step)
            if partner is None:
                log.info("no merge partner for %s; the self operator is used instead", parent.id)
                operator = "self"
            else:
                parents, ancestor = (parent.id, partner[0].id), partner[1].id
        return StepPlan(
            step=step,
            kind="child",
            agent=new_agent_id(),
            parents=parents,
            operator=operator,
            ancestor=ancestor,
        )

    def _merge_partner(
        self, first: Agent, agents: list[Agent], step: int
    ) -> tuple[Agent, Agent] | None:
        """Return a frontier partner for ``first`` and their common ancestor, if any."""
        table = score_table(self.archive.evaluations(self.run_id))
        on_frontier = set(frontier(table, self.pareto_task_ids))
        candidates = [agent for agent in agents if agent.id in on_frontier]
        by_id = {agent.id: agent for agent in self.archive.agents(self.run_id)}
        return merge_partner(first, candidates, by_id, self._rng(step, "partner"))

    def _plan_evaluate_more(self, step: int) -> StepPlan | None:
        """For cmp: plan one more task of an existing agent when the strategy's rule requires it."""
        should_expand = getattr(self.selection, "should_expand", None)
        if should_expand is None:
            return None
        agents, matrix = self._score_matrix()
        evaluations = int((~np.isnan(matrix.scores)).sum())
        if should_expand(len(agents), evaluations):
            return None
        open_rows = np.isnan(matrix.scores).any(axis=1)
        if not open_rows.any():
            return None
        rng = self._rng(step, "evaluate_more")
        pick = self.selection.pick(matrix, rng)
        if not open_rows[pick]:
            pick = rng.choice(np.flatnonzero(open_rows).tolist())
        missing = [
            task_id
            for task_id, score in zip(matrix.task_ids, matrix.scores[pick], strict=True)
            if np.isnan(score)
        ]
        return StepPlan(
            step=step, kind="evaluate_more", agent=agents[pick].id, task=rng.choice(missing)
        )

    # Evaluation in stages

    def _evaluate_in_stages(self, child: Agent, plan: StepPlan) -> None:
        """Evaluate a child stage by stage while it passes each stage's test.

        Each stage's tasks are drawn from the tasks left with a generator seeded by the
        step, so a resumed run draws the same ones. Evaluations already stored are kept.
        """
        remaining = list(self.tasks)
        stages = self.config.stages
        for index, stage in enumerate(stages):
            if not remaining:
                break
            chosen = self._stage_tasks(
                stage.tasks, remaining, self._rng(plan.step, f"stage{index}")
            )
            remaining = [task for task in remaining if task not in chosen]
            name = _stage_name(index, stage.tasks)
            self._evaluate(child, chosen, stage=name)
            if not remaining:
                break
            failure = self._stage_failure(child, plan, chosen, stage)
            if failure:
                self._event(
                    "stage_failed",
                    f"{child.id} {failure}; not evaluated on the "
                    f"{counted(len(remaining), 'task')} left",
                    generation=self._generation(plan.step),
                    agent_id=child.id,
                )
                break
        self.archive.update_agent(child.id, status="evaluated")

    @staticmethod
    def _stage_tasks(size: int | None, remaining: list[Task], rng: random.Random) -> list[Task]:
        if size is None or size >= len(remaining):
            return list(remaining)
        return rng.sample(remaining, size)

    def _stage_failure(self, child: Agent, plan: StepPlan, tasks: list[Task], stage) -> str | None:
        """Return why the child does not go on to the next stage, or None when it does."""
        mean = self._mean(child, tasks)
        if mean < stage.threshold:
            return f"scored {mean:.2f} on its stage, below the threshold {stage.threshold:.2f}"
        if not stage.beat_parent:
            return None
        best = 0.0
        for parent_id in plan.parents:
            parent = self.archive.agent(parent_id)
            self._evaluate(parent, tasks, stage=BASELINE_STAGE)
            best = max(best, self._mean(parent, tasks))
        if mean <= best:
            return f"scored {mean:.2f} on its stage, not above its parent's {best:.2f}"
        return None

    def _mean(self, agent: Agent, tasks: list[Task]) -> float:
        wanted = {task.id for task in tasks}
        scores = [
            e.score
            for e in self.archive.evaluations(self.run_id, agent.id)
            if e.task_id in wanted and e.stage != "replay"
        ]
        return sum(scores) / len(scores) if scores else 0.0

    def _evaluate(self, agent: Agent, tasks: list[Task], stage: str) -> list[Evaluation]:
        """Evaluate ``agent`` on the tasks it has no stored evaluation for."""
        done = {
            e.task_id
            for e in self.archive.evaluations(self.run_id, agent.id)
            if e.stage != "replay"
        }
        todo = [task for task in tasks if task.id not in done]
        if not todo:
            return []
        agent_dir = self._materialize(agent)
        if agent.status != "evaluated":
            self.archive.update_agent(agent.id, status="evaluating")

        def evaluate_one(task: Task) -> Evaluation | None:
            if not self._may_start_evaluation():
                # With the budget or the evaluation limit spent, the task stays unevaluated.
                return None
            try:
                job = EvaluationJob(agent.id, agent_dir, agent.code_hash, task, stage)
                result = self.executor.evaluate(job)
            finally:
                with self._evaluation_lock:
                    self._evaluations_running -= 1
            self._event(
                "evaluation_finished",
                f"{agent.id} on {task.id}: score {result.score:.2f} ({result.outcome})",
                generation=agent.generation,
                agent_id=agent.id,
                data={"task": task.id, "score": result.score, "outcome": result.outcome},
            )
            return result

        # NOTE: evaluations of one agent run in parallel; different agents' children are
        # still made one after another.
        pool = ThreadPoolExecutor(max_workers=self.config.workers)
        try:
            results = list(pool.map(evaluate_one, todo))
        except BaseException:
            # Ctrl-C, or a failure of the host: start no more evaluations, and store none of
            # those running, whose sandboxes the caller removes. A resumed run makes them.
            self._stopping.set()
            self.executor.drop_running()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        if None in results:
            raise StepInterrupted(f"{results.count(None)} evaluations of {agent.id} not started")
        return results

    def _may_start_evaluation(self) -> bool:
        if self._stopping.is_set() or self.gateway.meter.exhausted():
            return False
        wall = self.config.max_wall_s
        if wall is not None and self._elapsed() >= wall:
            return False
        limit = self.config.max_evaluations
        with self._evaluation_lock:
            running = self._evaluations_running
            if limit is not None and self._stored_evaluations() + running >= limit:
                return False
            self._evaluations_running += 1
            return True

    def _stored_evaluations(self) -> int:
        return self.archive.evaluation_count(self.run_id)

    # Stops

    def _stop_reason(self) -> str | None:
        reason = self.gateway.meter.exhausted()
        if reason:
            return reason
        config = self.config
        if config.max_agents is not None:
            agents = len(self.archive.agents(self.run_id))
            if agents >= config.max_agents:
                return f"the run has {agents} agents, its limit (--max-agents {config.max_agents})"
        if config.max_evaluations is not None:
            count = self._stored_evaluations()
            if count >= config.max_evaluations:
                return (
                    f"the run stored {count} evaluations, its limit "
                    f"(--max-evaluations {config.max_evaluations})"
                )
        if config.max_wall_s is not None and self._elapsed() >= config.max_wall_s:
            return (
                f"the run ran for {self._elapsed():.0f} s, its limit "
                f"(--max-wall-time {config.max_wall_s:g} s)"
            )
        return None

    def _report_stop(self, reason: str, generation: int) -> None:
        if self._stop_reported:
            return
        self._stop_reported = True
        kind = "budget_spent" if self.gateway.meter.exhausted() else "limit_reached"
        self._event(kind, f"stopping: {reason}", generation=generation)

    def _elapsed(self) -> float:
        return self._elapsed_before + time.monotonic() - self._started

    # Resume

    def _progress(self) -> tuple[int, StepPlan | None, float]:
        """Return the last finished step, the plan of the step in flight, and the time run."""
        finished, elapsed = -1, 0.0
        plans: dict[int, StepPlan] = {}
        seen_any = False
        for event in self.archive.events(self.run_id):
            if event.kind not in (STEP_STARTED, STEP_FINISHED) or not event.data_json:
                continue
            seen_any = True
            data = json.loads(event.data_json)
            if event.kind == STEP_FINISHED:
                finished = max(finished, data["step"])
                elapsed = max(elapsed, data.get("elapsed_s", 0.0))
            else:
                plans[data["step"]] = StepPlan.from_data(data)
        if not seen_any and self.archive.agents(self.run_id):
            raise ArchiveError(
                f"run {self.run_id} has no step records (it was made by an evolarium older "
                "than 0.4), so it cannot be resumed; start a new run"
            )
        return finished, plans.get(finished + 1), elapsed

    def _finish_generation_if_due(self, step: int) -> None:
        if not self._closes_generation(step):
            return
        generation = self._generation(step)
        if any(
            e.kind == "generation_finished" and e.generation == generation
            for e in self.archive.events(self.run_id)
        ):
            return
        summary = self.summarize(generation)
        self._event(
            "generation_finished", _describe(summary), generation=generation, data=summary.__dict__
        )

    # Step arithmetic

    def _generation(self, step: int) -> int:
        if step == 0:
            return 0
        return 1 + (step - 1) // self.config.children_per_generation

    def _opens_generation(self, step: int) -> bool:
        return step == 0 or (step - 1) % self.config.children_per_generation == 0

    def _closes_generation(self, step: int) -> bool:
        return step == 0 or step % self.config.children_per_generation == 0

    def _rng(self, step: int, choice: str) -> random.Random:
        return random.Random(f"{self.config.seed}:{step}:{choice}")

    # Archive helpers

    def _exists(self, agent_id: str) -> bool:
        try:
            self.archive.agent(agent_id)
        except ArchiveError:
            return False
        return True

    def _add_agent(
        self,
        code_dir: Path,
        plan: StepPlan,
        *,
        parent: Agent | None,
        operator: str,
        outcome: str,
        diff: str | None = None,
        operator_log: str | None = None,
    ) -> Agent:
        if code_dir.is_dir():
            code_hash, data = pack_dir(code_dir)
            self.archive.store_snapshot(code_hash, data)
        else:  # the operator failed before it wrote any code
            code_hash = parent.code_hash
        agent = Agent(
            id=plan.agent,
            run_id=self.run_id,
            parent_id=parent.id if parent else None,
            operator=operator,
            generation=parent.generation + 1 if parent else 0,
            code_hash=code_hash,
            diff=diff,
            operator_log=operator_log,
            step=plan.step,
            operator_outcome=outcome,
        )
        self.archive.add(agent)
        generation = self._generation(plan.step)
        self._event(
            "agent_added",
            f"{agent.id} ({operator}, depth {agent.generation} in the lineage)",
            generation=generation,
            agent_id=agent.id,
            data={"step": plan.step, "operator_outcome": outcome},
        )
        return agent

    def _same_code(self, child: Agent) -> Agent | None:
        """Return the earliest other agent of the run with the child's code, if any."""
        for agent in self.archive.agents(self.run_id):
            if agent.id != child.id and agent.code_hash == child.code_hash:
                return agent
        return None

    def _link(self, child: Agent, twin: Agent) -> None:
        self.archive.update_agent(
            child.id, status="duplicate", reason=f"same code as {twin.id}; not evaluated again"
        )
        self._event(
            "agent_linked",
            f"{child.id} has the same code as {twin.id}; linked, not evaluated again",
            generation=self._generation(child.step or 0),
            agent_id=child.id,
            data={"twin": twin.id},
        )

    def _reject(self, agent: Agent, reason: str) -> None:
        self.archive.update_agent(agent.id, status="invalid", reason=reason)
        self._event(
            "agent_invalid",
            f"{agent.id} is invalid: {reason}",
            generation=self._generation(agent.step or 0),
            agent_id=agent.id,
        )

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

    def _materialize(self, agent: Agent) -> Path:
        """Unpack an agent's code under the work directory once; the unpack is atomic."""
        path = self.workdir / "agents" / agent.id
        if (path / contract.ENTRY_POINT).is_file():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(path, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{agent.id}-", dir=path.parent))
        unpack(self.archive.snapshot(agent.code_hash), staging / "code")
        (staging / "code").rename(path)
        shutil.rmtree(staging, ignore_errors=True)
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


def _describe_plan(plan: StepPlan) -> str:
    if plan.kind == "seed":
        return f"step {plan.step}: the seed agent {plan.agent}"
    if plan.kind == "evaluate_more":
        return f"step {plan.step}: one more task, {plan.task}, for {plan.agent}"
    again = f" (attempt {plan.attempt})" if plan.attempt > 1 else ""
    return (
        f"step {plan.step}: child {plan.agent} of {' and '.join(plan.parents)} by the "
        f"{plan.operator} operator{again}"
    )


def _stage_name(index: int, size: int | None) -> str:
    if size is None:
        return "full"
    return "minibatch" if index == 0 else f"stage{index + 1}"


def _describe(summary: GenerationSummary) -> str:
    return (
        f"generation {summary.generation}: best score {summary.best_score:.2f}"
        f" ({summary.best_agent}), frontier {summary.frontier_size}, agents {summary.agents}"
        f" ({summary.invalid} invalid), calls {summary.calls}, tokens {summary.tokens}"
    )
