"""Numbers the inspection and export commands share: scores, frontier, tokens and cost."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from evolarium.archive import Agent, Archive, Evaluation, ModelCall
from evolarium.archive.scores import ScoreTable, frontier, mean_scores, score_table


@dataclass(frozen=True)
class CostTotal:
    """Cost of a set of model calls: the sum of the known prices and how many calls had none."""

    known_usd: float = 0.0
    unknown_calls: int = 0

    def __add__(self, other: "CostTotal") -> "CostTotal":
        return CostTotal(self.known_usd + other.known_usd, self.unknown_calls + other.unknown_calls)

    def describe(self) -> str:
        """Format the cost, marking a sum that leaves out unpriced calls with "+ unknown"."""
        known = format_usd(self.known_usd)
        return f"{known} + unknown" if self.unknown_calls else known


@dataclass(frozen=True)
class CallTotals:
    """Count, tokens and cost of a set of model calls."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: CostTotal = field(default_factory=CostTotal)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class RunScores:
    """Per-task scores of a run's agents, their means over the run's tasks, and the frontier."""

    task_ids: list[str]
    table: ScoreTable
    means: dict[str, float]
    frontier: list[str]
    tampered: dict[str, list[Evaluation]]
    """agent id -> its evaluations that the scorer flagged for tampering"""

    def best(self) -> tuple[str, float] | None:
        """Return the agent with the highest mean score and that score, or None."""
        if not self.means:
            return None
        agent_id = max(self.means, key=lambda agent: self.means[agent])
        return agent_id, self.means[agent_id]

    def winners(self, task_id: str) -> set[str]:
        """Return the agents with the top score on a task; a task where every agent
        scores 0 has none."""
        best = max((scores.get(task_id, 0.0) for scores in self.table.values()), default=0.0)
        if best <= 0.0:
            return set()
        return {agent for agent, scores in self.table.items() if scores.get(task_id) == best}


def format_usd(amount: float) -> str:
    if amount == 0:
        return "$0"
    if amount < 0.01:
        return f"${amount:.4f}"
    return f"${amount:.2f}"


def seconds_between(start: datetime, end: datetime) -> float:
    """Return the seconds from ``start`` to ``end``, reading a time without a zone as UTC:
    SQLite returns some stored times without one."""
    return (_as_utc(end) - _as_utc(start)).total_seconds()


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def format_time(moment: datetime | None) -> str:
    """Format a stored time; SQLite returns the UTC times the loop wrote without a zone."""
    if moment is None:
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def evaluations(archive: Archive, run_id: str, agent_id: str | None = None) -> list[Evaluation]:
    """Load a run's evaluations without their transcripts and test output, which can be large."""
    query = (
        select(Evaluation)
        .where(Evaluation.run_id == run_id)
        .options(defer(Evaluation.transcript), defer(Evaluation.test_output))
        .order_by(Evaluation.created_at)
    )
    if agent_id is not None:
        query = query.where(Evaluation.agent_id == agent_id)
    with Session(archive.engine, expire_on_commit=False) as session:
        return list(session.exec(query))


def calls(
    archive: Archive, run_id: str, agent_id: str | None = None, *, bodies: bool = False
) -> list[ModelCall]:
    """Load a run's model calls in order, without the request and response bodies unless
    ``bodies`` is set."""
    query = select(ModelCall).where(ModelCall.run_id == run_id).order_by(ModelCall.id)
    if agent_id is not None:
        query = query.where(ModelCall.agent_id == agent_id)
    if not bodies:
        query = query.options(defer(ModelCall.request_json), defer(ModelCall.response_json))
    with Session(archive.engine, expire_on_commit=False) as session:
        return list(session.exec(query))


def call_totals(archive: Archive, run_id: str, agent_id: str | None = None) -> CallTotals:
    """Sum the calls, tokens and known cost of a run, or of one agent in it."""
    query = select(
        func.count(ModelCall.id),
        func.coalesce(func.sum(ModelCall.prompt_tokens), 0),
        func.coalesce(func.sum(ModelCall.completion_tokens), 0),
        func.coalesce(func.sum(ModelCall.cost_usd), 0.0),
        func.count(ModelCall.id) - func.count(ModelCall.cost_usd),
    ).where(ModelCall.run_id == run_id)
    if agent_id is not None:
        query = query.where(ModelCall.agent_id == agent_id)
    with Session(archive.engine) as session:
        count, prompt, completion, known, unknown = session.exec(query).one()
    return CallTotals(
        calls=int(count),
        prompt_tokens=int(prompt),
        completion_tokens=int(completion),
        cost=CostTotal(float(known), int(unknown)),
    )


def totals_of(rows: Iterable[ModelCall]) -> CallTotals:
    """Sum already loaded calls the way ``call_totals`` sums them in SQL."""
    totals = CallTotals()
    for call in rows:
        cost = CostTotal(0.0, 1) if call.cost_usd is None else CostTotal(call.cost_usd, 0)
        totals = CallTotals(
            calls=totals.calls + 1,
            prompt_tokens=totals.prompt_tokens + call.prompt_tokens,
            completion_tokens=totals.completion_tokens + call.completion_tokens,
            cost=totals.cost + cost,
        )
    return totals


def run_scores(archive: Archive, run_id: str, rows: list[Evaluation] | None = None) -> RunScores:
    """Score every agent of a run over the tasks its evaluations cover.

    The seed is evaluated on every task of the run, so the tasks seen in the
    evaluations are the run's tasks. An agent's missing evaluations count as 0.
    NOTE: the loop leaves flaky tasks out of its frontier, and this frontier counts
    them, because the flaky list lives in the task cache and not in the archive.
    """
    if rows is None:
        rows = evaluations(archive, run_id)
    table = score_table(rows)
    task_ids = sorted({task for scores in table.values() for task in scores})
    tampered: dict[str, list[Evaluation]] = {}
    for row in rows:
        if row.tampering:
            tampered.setdefault(row.agent_id, []).append(row)
    return RunScores(
        task_ids=task_ids,
        table=table,
        means=mean_scores(table, task_ids),
        frontier=frontier(table, task_ids),
        tampered=tampered,
    )


def lineage(agents: dict[str, Agent], agent_id: str) -> list[Agent]:
    """Return the chain of ancestors of an agent, the seed first and the agent last."""
    chain: list[Agent] = []
    seen: set[str] = set()
    current: str | None = agent_id
    while current is not None and current in agents and current not in seen:
        seen.add(current)
        chain.append(agents[current])
        current = agents[current].parent_id
    return list(reversed(chain))


def short_ids(agent_ids: list[str], minimum: int = 5) -> dict[str, str]:
    """Return the shortest prefix of each id, of at least ``minimum`` characters, that no other
    id in the list shares."""
    shortened = {}
    for agent_id in agent_ids:
        others = [other for other in agent_ids if other != agent_id]
        length = min(minimum, len(agent_id))
        while length < len(agent_id) and any(o.startswith(agent_id[:length]) for o in others):
            length += 1
        shortened[agent_id] = agent_id[:length]
    return shortened
