"""The state of one run as the dashboard shows it, read from a read-only archive.

A RunLoader keeps a RunState and, on each refresh, reads only the evaluations,
model calls and events added since the last one, plus the run and agent rows,
whose status changes in place. It runs the same SQL on a SQLite file and on a
PostgreSQL database. Scores per task, means, wins and the Pareto frontier are
kept up to date as evaluations arrive, so a refresh of a large run costs little
more than reading its new rows.
"""

import json
import logging
import sqlite3
import threading
import time
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from evolarium.archive import Archive
from evolarium.archive.scores import REPLAY_STAGE
from evolarium.errors import ArchiveError
from evolarium.process import process_exists
from evolarium.sandbox.profile import EVALUATION_LABEL, PURPOSE_LABEL, RUN_LABEL

OPERATOR_CALLS = ("operator", "rewriter", "merger")
"""Purposes of the model calls that operators make (see operators.base.OPERATOR_PURPOSES)."""

log = logging.getLogger(__name__)

EVENTS_KEPT = 200
PROBLEMS_KEPT = 100
RATE_WINDOW_S = 300.0
"""Evaluations and model calls per minute are counted over this many recent seconds."""

OK_EVALUATION_OUTCOMES = {"ok", "exit_error"}
"""Evaluation outcomes that are the agent's ordinary success or failure, not a problem."""
# Model calls that returned a reply: a reply cut at the token limit, or one served from a
# recording, is not an error.
SUCCESSFUL_CALL_OUTCOMES = {"ok", "truncated", "replayed"}
UNCHARGED_CALL_OUTCOMES = {"rejected", "budget_exceeded", "replay_miss"}
"""Outcomes of calls that reached no model, which the budget does not count (the same
set as evolarium.llm.gateway.UNCHARGED_OUTCOMES, which imports litellm)."""

EVALUATION_BATCH = 500
"""Evaluation ids bound in one IN list, because SQLite before 3.32 allows 999 parameters."""

# The queries of RunLoader, in SQL that SQLite and PostgreSQL both run. Times come back as
# text from SQLite and as datetime from PostgreSQL, and epoch() reads both.
RUN_QUERY = text(
    "SELECT status, suite, model, selection, config_json, created_at, pid "
    "FROM run WHERE id = :run_id"
)
EVALUATION_COUNT_QUERY = text("SELECT count(*) FROM evaluation WHERE run_id = :run_id")
EVALUATION_IDS_QUERY = text("SELECT id FROM evaluation WHERE run_id = :run_id")
EVALUATION_ROWS_QUERY = text(
    "SELECT id, agent_id, task_id, score, outcome, tampering, created_at, stage "
    "FROM evaluation WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))
AGENTS_QUERY = text(
    "SELECT id, parent_id, operator, generation, status, reason, created_at "
    "FROM agent WHERE run_id = :run_id ORDER BY created_at, id"
)
# Model calls and events are read after the largest id read before. A run's writes go
# through one Archive, whose lock is held until each commit, so its ids commit in order.
# NOTE: on PostgreSQL, a second writer of the same run (evolarium replay --live while the
# run goes on) can commit a lower id after a higher one, and the loader then misses that row.
CALLS_QUERY = text(
    "SELECT id, agent_id, task_id, evaluation_id, purpose, prompt_tokens, "
    "completion_tokens, cost_usd, outcome, error, started_at "
    "FROM modelcall WHERE run_id = :run_id AND id > :after ORDER BY id"
)
EVENTS_QUERY = text(
    "SELECT id, time, kind, generation, agent_id, message, data_json "
    "FROM event WHERE run_id = :run_id AND id > :after ORDER BY id"
)


@dataclass
class AgentRow:
    """The columns of an agent that the dashboard shows."""

    id: str
    parent_id: str | None
    operator: str
    generation: int
    status: str
    reason: str | None
    created: float
    """Epoch seconds."""


@dataclass
class EventRow:
    """One row of the event table."""

    id: int
    time: float
    kind: str
    generation: int | None
    agent_id: str | None
    message: str
    data: dict | None = None


@dataclass
class Problem:
    """An error or warning shown in the errors panel."""

    time: float
    source: str
    """agent, evaluation or model call"""
    message: str


@dataclass
class SandboxRow:
    """A sandbox that is running now, or an evaluation that is in flight."""

    purpose: str
    agent_id: str | None
    task_id: str | None
    started: float
    """Epoch seconds."""
    name: str | None = None
    """The container's name; None when the row is inferred from the archive."""


@dataclass
class GenerationStats:
    """Scores of the agents of one generation (lineage depth) that have evaluations."""

    generation: int
    agents: int
    evaluated: int
    best: float | None
    mean: float | None


@dataclass
class RunState:
    """Everything the panels show about one run."""

    run_id: str
    status: str = "running"
    suite: str = ""
    model: str = ""
    selection: str = ""
    created: float = 0.0
    pid: int | None = None
    config: dict = field(default_factory=dict)
    agents: dict[str, AgentRow] = field(default_factory=dict)
    """In creation order."""
    task_ids: list[str] = field(default_factory=list)
    """Tasks in the order of their first evaluation."""
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    """agent id -> task id -> score of its latest evaluation"""
    tampered: set[str] = field(default_factory=set)
    evaluation_count: int = 0
    evaluation_times: list[float] = field(default_factory=list)
    call_count: int = 0
    uncharged_calls: int = 0
    """Calls that reached no model (UNCHARGED_CALL_OUTCOMES), in call_count too."""
    tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    """Calls whose model has no known price; their cost is not in cost_usd."""
    call_times: list[float] = field(default_factory=list)
    events: deque[EventRow] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    new_events: list[EventRow] = field(default_factory=list)
    """Events read by the latest refresh."""
    problems: deque[Problem] = field(default_factory=lambda: deque(maxlen=PROBLEMS_KEPT))
    last_activity: float = 0.0
    """Time of the newest event, evaluation or model call."""
    sandboxes: list[SandboxRow] = field(default_factory=list)
    sandbox_source: str = "archive"
    """docker when the rows come from container labels, archive when inferred."""
    now: float = 0.0
    owner_gone: bool = False
    """The run's status is running, but its process no longer exists on this host."""
    notice: str | None = None
    """The reason the latest refresh failed; the rest of the state is then the one before
    it."""
    # Derived from the scores by derive():
    means: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)
    """task id -> best score of any agent"""
    winners: dict[str, set[str]] = field(default_factory=dict)
    """task id -> agents with the best score, when it is above 0"""
    wins: dict[str, int] = field(default_factory=dict)
    frontier: list[str] = field(default_factory=list)
    on_frontier: set[str] = field(default_factory=set)
    generations: list[GenerationStats] = field(default_factory=list)
    dirty_tasks: set[str] = field(default_factory=set, repr=False)
    """Tasks whose winner's score went down; derive() recomputes them."""
    frontier_dirty: bool = field(default=False, repr=False)
    """Set when an evaluation may change the frontier: it changed a task's winners, or it
    belongs to an agent that wins a task."""

    def add_evaluation(self, agent_id: str, task_id: str, score: float, created: float) -> None:
        """Count one evaluation and update the task's best score and winners."""
        if task_id not in self.best:
            self.task_ids.append(task_id)
            self.best[task_id] = 0.0
            self.winners[task_id] = set()
        scores = self.scores.setdefault(agent_id, {})
        previous = scores.get(task_id)
        scores[task_id] = score
        self.evaluation_count += 1
        insort(self.evaluation_times, created)
        self.last_activity = max(self.last_activity, created)

        winners = self.winners[task_id]
        if agent_id in self.wins:
            # A new score of a winner can make it dominate, or stop being dominated.
            self.frontier_dirty = True
        if previous is not None and previous > score and agent_id in winners:
            self.dirty_tasks.add(task_id)
            self.frontier_dirty = True
        elif score > self.best[task_id]:
            self.best[task_id] = score
            winners.clear()
            winners.add(agent_id)
            self.frontier_dirty = True
        elif score == self.best[task_id] and score > 0.0:
            winners.add(agent_id)
            self.frontier_dirty = True

    def derive(self) -> None:
        """Recompute means, wins, the frontier and the generation chart from the scores."""
        for task_id in self.dirty_tasks:
            _rescore_task(self, task_id)
        self.dirty_tasks.clear()

        count = len(self.task_ids) or 1
        self.means = {agent: sum(row.values()) / count for agent, row in self.scores.items()}
        wins: dict[str, int] = {}
        for winners in self.winners.values():
            for agent in winners:
                wins[agent] = wins.get(agent, 0) + 1
        self.wins = wins
        if self.frontier_dirty:
            # NOTE: every evaluated task counts here, while the loop leaves flaky tasks out
            # of its frontier, so the two sizes can differ on a suite with flaky tasks.
            self.frontier = pareto_frontier(self.scores, self.task_ids, self.winners)
            self.on_frontier = set(self.frontier)
            self.frontier_dirty = False
        self.generations = generation_stats(self.agents.values(), self.means)

    @property
    def running(self) -> bool:
        return self.status == "running" and not self.owner_gone

    def wall_seconds(self) -> float:
        end = self.now if self.running else max(self.last_activity, self.created)
        return max(0.0, end - self.created)

    def rate_per_minute(self, times: list[float]) -> float:
        """Return how many of ``times`` fall in the recent window, per minute.

        A finished run's rate is its average over its whole wall time.
        """
        if not times:
            return 0.0
        if not self.running:
            return len(times) / max(self.wall_seconds(), 1.0) * 60.0
        window = min(RATE_WINDOW_S, max(self.now - self.created, 1.0))
        recent = len(times) - bisect_left(times, self.now - window)
        return recent / window * 60.0


def epoch(value: str | datetime | None) -> float:
    """Convert a stored time (UTC, with or without an offset) to epoch seconds."""
    if value is None:
        return 0.0
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class RunLoader:
    """Reads one run from a read-only archive into a RunState, incrementally."""

    def __init__(self, archive: Archive, run_id: str, docker: "DockerProbe | None" = None):
        self.archive = archive
        self.run_id = run_id
        self.docker = docker
        self.state = RunState(run_id=run_id)
        self.lock = threading.Lock()
        """Held while a refresh changes the state; take it to read the state from another
        thread."""
        self._seen_evaluations: set[str] = set()
        """Ids of the evaluation rows read so far, replays included."""
        self._last_call = 0
        self._last_event = 0
        self._finished_evaluations: set[str] = set()
        self._evaluation_calls: dict[str, tuple[str | None, str | None, float]] = {}
        """evaluation id -> (agent id, task id, time of its first model call)"""
        self._step_calls: dict[tuple[str, str], float] = {}
        """(purpose, agent id) -> time of the first operator or validation call"""

    def refresh(self, now: float | None = None) -> RunState:
        """Read what changed since the last refresh; raise ArchiveError when the read fails.

        A failed refresh leaves the state as it was, apart from the notice.
        """
        with self.lock:
            state = self.state
            state.now = time.time() if now is None else now
            state.new_events = []
            try:
                self._read_rows()
            except (sqlite3.Error, SQLAlchemyError) as error:
                reason = _first_line(error)
                state.notice = f"the last refresh failed: {reason}"
                raise ArchiveError(f"cannot read archive {self.archive.url}: {reason}") from error
            state.notice = None
            state.derive()
            state.owner_gone = state.status == "running" and not _process_alive(state.pid)
            self._find_sandboxes()
            return state

    def _read_rows(self) -> None:
        with self.archive.engine.connect() as connection:
            run = connection.execute(RUN_QUERY, {"run_id": self.run_id}).fetchone()
            if run is None:
                raise ArchiveError(f"run {self.run_id} is not in archive {self.archive.url}")
            self._apply_run(run)
            # Evaluations before agents: an agent row always exists before its evaluations,
            # so every evaluation read here has its agent in the agent rows read next.
            self._read_evaluations(connection)
            self._read_agents(connection)
            self._read_calls(connection)
            self._read_events(connection)

    def _apply_run(self, row) -> None:
        state = self.state
        state.status, state.suite, state.model, state.selection = row[0], row[1], row[2], row[3]
        state.created = epoch(row[5])
        state.pid = row[6]
        try:
            config = json.loads(row[4] or "{}")
        except json.JSONDecodeError:
            config = {}
        state.config = config if isinstance(config, dict) else {}

    def _read_evaluations(self, connection) -> None:
        for row in self._new_evaluation_rows(connection):
            evaluation_id, agent_id, task_id, score, outcome, tampering, created, stage = row
            self._seen_evaluations.add(evaluation_id)
            if stage == REPLAY_STAGE:
                # A re-run by evolarium replay, which never changes the run's scores.
                continue
            self.state.add_evaluation(agent_id, task_id, float(score), epoch(created))
            self._finished_evaluations.add(evaluation_id)
            if tampering:
                self.state.tampered.add(agent_id)
            if outcome not in OK_EVALUATION_OUTCOMES:
                detail = f": {_first_line(tampering)}" if tampering else ""
                message = f"{agent_id} on {task_id}: {outcome}{detail}"
                self.state.problems.append(Problem(epoch(created), "evaluation", message))

    def _new_evaluation_rows(self, connection) -> list:
        """Return the run's evaluations not read before, oldest created_at first."""
        # PostgreSQL has no rowid, and no evaluation column grows in insertion order. Ids are
        # random, and created_at is set when the row is built, on a Ray node for a remote
        # evaluation, so a new row can be older than rows read before. So the loader keeps
        # the ids it has read. It lists the run's ids only when the row count differs from
        # theirs, which is enough because evolarium never deletes an evaluation.
        parameters = {"run_id": self.run_id}
        count = connection.execute(EVALUATION_COUNT_QUERY, parameters).scalar_one()
        if count == len(self._seen_evaluations):
            return []

        ids = connection.execute(EVALUATION_IDS_QUERY, parameters).scalars()
        new_ids = [value for value in ids if value not in self._seen_evaluations]
        rows = []
        for start in range(0, len(new_ids), EVALUATION_BATCH):
            batch = {"ids": new_ids[start : start + EVALUATION_BATCH]}
            rows += connection.execute(EVALUATION_ROWS_QUERY, batch).fetchall()
        rows.sort(key=lambda row: (epoch(row[6]), row[0]))
        return rows

    def _read_agents(self, connection) -> None:
        rows = connection.execute(AGENTS_QUERY, {"run_id": self.run_id}).fetchall()
        agents = {}
        for agent_id, parent_id, operator, generation, status, reason, created in rows:
            agents[agent_id] = AgentRow(
                agent_id, parent_id, operator, generation, status, reason, epoch(created)
            )
            known = self.state.agents.get(agent_id)
            if status == "invalid" and (known is None or known.status != "invalid"):
                message = f"{agent_id} is invalid: {_first_line(reason or 'no reason stored')}"
                self.state.problems.append(Problem(epoch(created), "agent", message))
        self.state.agents = agents

    def _read_calls(self, connection) -> None:
        parameters = {"run_id": self.run_id, "after": self._last_call}
        rows = connection.execute(CALLS_QUERY, parameters).fetchall()
        state = self.state
        for row in rows:
            call_id, agent_id, task_id, evaluation_id, purpose = row[:5]
            prompt_tokens, completion_tokens, cost, outcome, error, started = row[5:]
            self._last_call = call_id
            started_at = epoch(started)
            state.call_count += 1
            state.tokens += (prompt_tokens or 0) + (completion_tokens or 0)
            if outcome in UNCHARGED_CALL_OUTCOMES:
                state.uncharged_calls += 1
            elif cost is None:
                state.unpriced_calls += 1
            else:
                state.cost_usd += cost
            insort(state.call_times, started_at)
            state.last_activity = max(state.last_activity, started_at)
            if evaluation_id and evaluation_id not in self._evaluation_calls:
                self._evaluation_calls[evaluation_id] = (agent_id, task_id, started_at)
            elif agent_id and purpose in (*OPERATOR_CALLS, "validation"):
                step = "operator" if purpose in OPERATOR_CALLS else purpose
                self._step_calls.setdefault((step, agent_id), started_at)
            if outcome not in SUCCESSFUL_CALL_OUTCOMES:
                message = f"{purpose} call of {agent_id or 'no agent'}: {outcome}"
                if error:
                    message += f": {_first_line(error)}"
                state.problems.append(Problem(started_at, "model call", message))

    def _read_events(self, connection) -> None:
        parameters = {"run_id": self.run_id, "after": self._last_event}
        rows = connection.execute(EVENTS_QUERY, parameters).fetchall()
        for event_id, moment, kind, generation, agent_id, message, data_json in rows:
            self._last_event = event_id
            event = EventRow(
                event_id, epoch(moment), kind, generation, agent_id, message, _json(data_json)
            )
            self.state.events.append(event)
            self.state.new_events.append(event)
            self.state.last_activity = max(self.state.last_activity, event.time)

    # Running sandboxes

    def _find_sandboxes(self) -> None:
        state = self.state
        if not state.running:
            state.sandboxes = []
            state.sandbox_source = "archive"
            return
        containers = self.docker.containers(self.run_id) if self.docker else None
        if containers is None:
            state.sandboxes = self._infer_sandboxes()
            state.sandbox_source = "archive"
        else:
            state.sandboxes = [self._describe_container(c) for c in containers]
            state.sandboxes.sort(key=lambda row: row.started)
            state.sandbox_source = "docker"

    def _in_flight_evaluations(self) -> list[tuple[str, str | None, str | None, float]]:
        return [
            (evaluation_id, agent_id, task_id, started)
            for evaluation_id, (agent_id, task_id, started) in self._evaluation_calls.items()
            if evaluation_id not in self._finished_evaluations
        ]

    def _infer_sandboxes(self) -> list[SandboxRow]:
        """Guess what runs from model calls that have no result yet: evaluations without an
        evaluation row, operator calls for a child not yet added, validation calls of a
        pending child, and evaluating agents that have made no call yet."""
        state = self.state
        rows = [
            SandboxRow("agent", agent_id, task_id, started)
            for _id, agent_id, task_id, started in self._in_flight_evaluations()
        ]
        for (purpose, agent_id), started in self._step_calls.items():
            agent = state.agents.get(agent_id)
            if purpose == "operator" and agent is None:
                rows.append(SandboxRow("operator", agent_id, None, started))
            elif purpose == "validation" and agent is not None and agent.status == "pending":
                rows.append(SandboxRow("validate", agent_id, None, started))
        busy = {row.agent_id for row in rows}
        for agent in state.agents.values():
            if agent.status == "evaluating" and agent.id not in busy:
                rows.append(SandboxRow("agent", agent.id, None, self._last_event_of(agent.id)))
        return sorted(rows, key=lambda row: row.started)

    def _last_event_of(self, agent_id: str) -> float:
        for event in reversed(self.state.events):
            if event.agent_id == agent_id:
                return event.time
        return self.state.now

    def _describe_container(self, container: dict) -> SandboxRow:
        labels = container.get("Labels") or {}
        names = container.get("Names") or ["?"]
        name = names[0].lstrip("/")
        purpose = labels.get(PURPOSE_LABEL, "?")
        evaluation_id = labels.get(EVALUATION_LABEL, "none")
        started = float(container.get("Created") or self.state.now)
        if evaluation_id == "pool":
            # A pooled scoring container keeps the label "pool"; once handed out it is
            # renamed evolarium-<purpose>-<evaluation id>-<4 hex digits>.
            parts = name.split("-")
            evaluation_id = parts[2] if len(parts) == 4 and parts[2] != "pool" else "pool"
        if evaluation_id == "pool":
            return SandboxRow(f"{purpose} (warm)", None, None, started, name)
        # NOTE: a pooled container's elapsed time counts from its warm start, not from the
        # moment it was handed to the evaluation, which Docker does not record.
        if evaluation_id in self._evaluation_calls:
            agent_id, task_id, _first = self._evaluation_calls[evaluation_id]
            return SandboxRow(purpose, agent_id, task_id, started, name)
        return SandboxRow(purpose, self._current_agent(purpose), None, started, name)

    def _current_agent(self, purpose: str) -> str | None:
        """Return the agent that a container without an evaluation most likely serves."""
        state = self.state
        if purpose == "operator":
            making = [a for (p, a) in self._step_calls if p == "operator" and a not in state.agents]
            return making[-1] if making else None
        expected_status = "pending" if purpose == "validate" else "evaluating"
        matching = [agent.id for agent in state.agents.values() if agent.status == expected_status]
        return matching[-1] if matching else None


class DockerProbe:
    """Lists a run's running containers, or returns None while no Docker daemon responds."""

    RETRY_S = 30.0

    def __init__(self, timeout_s: float = 3.0) -> None:
        self.timeout_s = timeout_s
        self._client = None
        self._failed_at: float | None = None

    def containers(self, run_id: str) -> list[dict] | None:
        client = self._connect()
        if client is None:
            return None
        try:
            return client.api.containers(filters={"label": f"{RUN_LABEL}={run_id}"})
        except Exception as error:  # noqa: BLE001  (docker-py raises many types on a lost daemon)
            log.debug("cannot list the containers of run %s: %s", run_id, error)
            self._client = None
            self._failed_at = time.monotonic()
            return None

    def _connect(self):
        if self._client is not None:
            return self._client
        if self._failed_at is not None and time.monotonic() - self._failed_at < self.RETRY_S:
            return None
        try:
            import docker

            client = docker.from_env(timeout=self.timeout_s)
            client.ping()
        except Exception as error:  # noqa: BLE001
            log.debug("no Docker daemon responds: %s", error)
            self._failed_at = time.monotonic()
            return None
        self._client = client
        return client


def pareto_frontier(
    scores: dict[str, dict[str, float]], task_ids: list[str], winners: dict[str, set[str]]
) -> list[str]:
    """Return the agents best on at least one task that no other such agent dominates.

    The same set as evolarium.archive.scores.frontier, found from the per-task
    winners. An agent that dominates a winner scores at least the best score on
    each task that winner wins, so it wins those tasks too: only agents in the
    intersection of those tasks' winners need a full comparison.
    """
    won: dict[str, list[str]] = {}
    for task, agents in winners.items():
        for agent in agents:
            won.setdefault(agent, []).append(task)
    # A dominating agent has a larger total; the margin absorbs float rounding of the sums.
    totals = {agent: sum(scores.get(agent, {}).values()) for agent in won}
    frontier = []
    for agent, tasks in won.items():
        rivals = set.intersection(*sorted((winners[task] for task in tasks), key=len))
        rivals.discard(agent)
        floor = totals[agent] - 1e-9
        if not any(
            totals[rival] > floor and _dominates(scores, rival, agent, task_ids) for rival in rivals
        ):
            frontier.append(agent)
    return sorted(frontier)


def _dominates(
    scores: dict[str, dict[str, float]], first: str, second: str, task_ids: list[str]
) -> bool:
    """Return whether ``first`` scores at least ``second`` on every task and more on one."""
    theirs = scores.get(first, {})
    mine = scores.get(second, {})
    better_somewhere = False
    for task in task_ids:
        difference = theirs.get(task, 0.0) - mine.get(task, 0.0)
        if difference < 0:
            return False
        if difference > 0:
            better_somewhere = True
    return better_somewhere


def _rescore_task(state: RunState, task_id: str) -> None:
    """Recompute a task's best score and winners after a winner's score went down."""
    best = max((scores.get(task_id, 0.0) for scores in state.scores.values()), default=0.0)
    state.best[task_id] = best
    state.winners[task_id] = (
        {agent for agent, scores in state.scores.items() if scores.get(task_id, 0.0) == best}
        if best > 0.0
        else set()
    )


def generation_stats(agents: Iterable[AgentRow], means: dict[str, float]) -> list[GenerationStats]:
    """Return the best and mean score of each generation's evaluated agents, in order."""
    counts: dict[int, int] = {}
    evaluated: dict[int, list[float]] = {}
    for agent in agents:
        counts[agent.generation] = counts.get(agent.generation, 0) + 1
        if agent.id in means:
            evaluated.setdefault(agent.generation, []).append(means[agent.id])
    stats = []
    for generation in sorted(counts):
        values = evaluated.get(generation, [])
        stats.append(
            GenerationStats(
                generation=generation,
                agents=counts[generation],
                evaluated=len(values),
                best=max(values) if values else None,
                mean=sum(values) / len(values) if values else None,
            )
        )
    return stats


def _process_alive(pid: int | None) -> bool:
    """Return whether a process with this id exists on this host (True when unknown)."""
    return pid is None or process_exists(pid)


def _json(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0] if lines else ""
