"""GEPA's selection: sample a parent from the per-task Pareto frontier.

For each task, the agents with the best score on it form that task's front
(every agent evaluated on the task, when all score the same). Dominated agents
are removed as GEPA removes them: going from the lowest mean score up, an
agent is dropped when every front it belongs to keeps another member. The
parent is then drawn with probability proportional to the number of fronts an
agent belongs to.

GEPA rescans the candidates after each removal; a single pass in ascending
order gives the same result, because a removal only makes later removals
harder. An agent that is not the highest-ranked member of any of its fronts
is always dropped, so only those highest-ranked members (at most one per
task) need the sequential check, and the rest is array work.
"""

import random

import numpy as np

from evolarium.evolve.selection.matrix import ScoreMatrix


class ParetoSelection:
    """GEPA: proportional to the number of tasks on which an agent is among the best."""

    name = "pareto"

    def pick(self, matrix: ScoreMatrix, rng: random.Random) -> int:
        weights = pareto_weights(matrix)
        if not weights.any():
            # No agent has an evaluation yet, so no task has a front.
            return rng.randrange(len(matrix.agent_ids))
        rows = np.flatnonzero(weights)
        return int(rng.choices(rows.tolist(), weights=weights[rows].tolist(), k=1)[0])


def pareto_weights(matrix: ScoreMatrix) -> np.ndarray:
    """Return, per agent, the number of fronts it belongs to after dominated agents are removed.

    The input matrix is only read.
    """
    weights = np.zeros(len(matrix.agent_ids), dtype=np.int64)
    if matrix.scores.size == 0:
        return weights
    # fmax skips NaN, so a task's best is NaN only when no agent was evaluated on it.
    best = np.fmax.reduce(matrix.scores, axis=0)
    has_front = ~np.isnan(best)
    if not has_front.any():
        return weights
    # NaN equals nothing, so a missing evaluation is never on a front.
    winners = matrix.scores == best
    order = np.lexsort((np.arange(len(weights)), matrix.means()))
    kept = _undominated(winners, has_front, order)
    weights[kept] = winners[kept].sum(axis=1)
    return weights


def _undominated(winners: np.ndarray, has_front: np.ndarray, order: np.ndarray) -> list[int]:
    """Return the rows GEPA's dominance removal keeps; ``order`` lists rows lowest first."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    # The highest-ranked member of each front: the last True of each column once the
    # rows are sorted by rank.
    by_rank = winners[order]
    highest = order[len(order) - 1 - np.argmax(by_rank[::-1], axis=0)]
    covered = np.zeros(winners.shape[1], dtype=bool)
    kept = []
    for row in sorted(set(highest[has_front].tolist()), key=lambda r: rank[r]):
        own_fronts = has_front & (highest == row)
        if covered[own_fronts].all():
            # Every front it leads already keeps an agent, and its other fronts have a
            # higher-ranked member: it is dominated.
            continue
        kept.append(row)
        covered |= winners[row]
    return kept
