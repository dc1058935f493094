"""Selections from each agent's mean score: DGM's score-child, best, and uniform random."""

import math
import random

import numpy as np

from evolarium.evolve.selection.matrix import ScoreMatrix


class ScoreChildSelection:
    """DGM: weight sigmoid(10 x (mean - 0.5)) x 1 / (1 + children)."""

    name = "score-child"

    def pick(self, matrix: ScoreMatrix, rng: random.Random) -> int:
        means = matrix.means()
        weights = [
            1.0 / (1.0 + math.exp(-10.0 * (mean - 0.5))) / (1.0 + children)
            for mean, children in zip(means.tolist(), matrix.children.tolist(), strict=True)
        ]
        return rng.choices(range(len(weights)), weights=weights, k=1)[0]


class BestSelection:
    """The highest mean score; among equal means, the agent created first.

    It draws nothing from ``rng``, so it always makes the same pick on the same archive.
    """

    name = "best"

    def pick(self, matrix: ScoreMatrix, rng: random.Random) -> int:
        # argmax returns the first of equal maxima, which is the earliest agent.
        return int(np.argmax(matrix.means()))


class RandomSelection:
    """Uniform over all evaluated agents."""

    name = "random"

    def pick(self, matrix: ScoreMatrix, rng: random.Random) -> int:
        return rng.randrange(len(matrix.agent_ids))
