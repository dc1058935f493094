"""The Huxley-Gödel Machine's clade-metaproductivity (CMP) selection.

Each agent is judged by its whole clade, itself and all its descendants: the
sum of their scores counts as passes and the rest of their evaluated tasks as
failures. Thompson sampling draws Beta(1 + passes, 1 + failures) per agent and
picks the largest draw, so an agent whose descendants do well is expanded even
if its own score is low.

The same strategy decides whether the loop makes a new child (expands) or
evaluates one more task of an existing agent: it expands while the number of
agents is at most the number of evaluations to the power ``alpha``.
"""

import random

import numpy as np

from evolarium.evolve.selection.matrix import ScoreMatrix

DEFAULT_ALPHA = 0.6


class CmpSelection:
    """HGM: Thompson sampling over the pass and fail counts of each agent's clade."""

    name = "cmp"

    def __init__(self, alpha: float = DEFAULT_ALPHA) -> None:
        self.alpha = alpha

    def pick(self, matrix: ScoreMatrix, rng: random.Random) -> int:
        passes, failures = clade_counts(matrix)
        draws = np.random.default_rng(rng.getrandbits(64)).beta(1.0 + passes, 1.0 + failures)
        return int(np.argmax(draws))

    def should_expand(self, agents: int, evaluations: int) -> bool:
        """Tell whether to make a new child rather than evaluate an existing agent further."""
        return agents <= max(evaluations, 1) ** self.alpha


def clade_counts(matrix: ScoreMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Return per-agent (passes, failures) summed over the agent and all its descendants."""
    evaluated = ~np.isnan(matrix.scores)
    passes = np.nan_to_num(matrix.scores, nan=0.0).sum(axis=1)
    failures = evaluated.sum(axis=1) - passes
    # Agents come in creation order, so every child comes after its parent: walking
    # backwards adds each finished clade into its parent's.
    for row in range(len(matrix.agent_ids) - 1, -1, -1):
        parent = matrix.parents[row]
        if parent >= 0:
            passes[parent] += passes[row]
            failures[parent] += failures[row]
    return passes, failures
