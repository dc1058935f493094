"""Scores derived from stored evaluations: per-task tables, means and the Pareto frontier."""

from collections import defaultdict
from collections.abc import Iterable

from evolarium.archive.models import Evaluation

ScoreTable = dict[str, dict[str, float]]
"""agent id -> task id -> score"""


REPLAY_STAGE = "replay"
"""The stage of an evaluation re-run by `evolarium replay --live`; it never changes scores."""


def score_table(evaluations: Iterable[Evaluation]) -> ScoreTable:
    """Map each agent and task to its latest score; replayed evaluations are left out."""
    table: ScoreTable = defaultdict(dict)
    for evaluation in evaluations:
        if evaluation.stage == REPLAY_STAGE:
            continue
        table[evaluation.agent_id][evaluation.task_id] = evaluation.score
    return dict(table)


def mean_scores(table: ScoreTable, task_ids: list[str]) -> dict[str, float]:
    """Mean score of each agent over ``task_ids``; a missing evaluation counts as 0."""
    if not task_ids:
        return {agent_id: 0.0 for agent_id in table}
    return {
        agent_id: sum(scores.get(task, 0.0) for task in task_ids) / len(task_ids)
        for agent_id, scores in table.items()
    }


def frontier(table: ScoreTable, task_ids: list[str]) -> list[str]:
    """Agents that are best on at least one task, with dominated agents removed.

    A task where every agent scores 0 makes no winner.
    """
    winners: set[str] = set()
    for task in task_ids:
        best = max((scores.get(task, 0.0) for scores in table.values()), default=0.0)
        if best <= 0.0:
            continue
        winners.update(a for a, scores in table.items() if scores.get(task, 0.0) == best)
    return sorted(a for a in winners if not _dominated(a, winners, table, task_ids))


def _dominated(agent: str, others: set[str], table: ScoreTable, task_ids: list[str]) -> bool:
    mine = [table[agent].get(task, 0.0) for task in task_ids]
    for other in others - {agent}:
        theirs = [table[other].get(task, 0.0) for task in task_ids]
        if all(t >= m for t, m in zip(theirs, mine, strict=True)) and theirs != mine:
            return True
    return False
